import { loadPlan } from '../../config/load.js';
import { ExitError, EXIT } from '../../engine/errors.js';
import { previewNotice } from '../../steps/external/preview.js';
import type { GlobalOptions, Io } from '../io.js';

export async function notifyPreview(globals: GlobalOptions, template: string, options: { html?: string }, io: Io): Promise<number> {
  const { plan } = await loadPlan(globals.config);
  try {
    io.out(await previewNotice(plan, template, options.html ? { htmlFile: options.html } : {}));
  } catch (error) {
    if (error instanceof RangeError) throw new ExitError(error.message, EXIT.usage);
    throw error;
  }
  return EXIT.ok;
}
