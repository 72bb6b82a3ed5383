import { writeFileSync } from 'node:fs';
import { loadPlan } from '../../config/load.js';
import { EXIT } from '../../engine/errors.js';
import { peekRun } from '../../engine/peek.js';
import { renderReport } from '../../engine/report.js';
import { buildView } from '../../engine/view.js';
import { writeHtmlReport } from '../../engine/report-html-file.js';
import type { GlobalOptions, Io } from '../io.js';
import { clockFromEnv, stateDirOf } from '../session.js';

export async function report(globals: GlobalOptions, options: { out?: string; html?: string }, io: Io): Promise<number> {
  const { plan, file } = await loadPlan(globals.config);
  if (options.html) {
    writeHtmlReport(options.html, plan, stateDirOf(globals, file), clockFromEnv(io.env).clock.now());
    io.out(`Wrote ${options.html} (one self-contained page: open it in any browser).`);
    if (!options.out) return EXIT.ok;
  }
  const { snapshot, journal } = peekRun(stateDirOf(globals, file), plan);
  const text = renderReport(plan, buildView(snapshot, clockFromEnv(io.env).clock.now()), journal.entries);
  if (options.out) {
    writeFileSync(options.out, text, { mode: 0o600 });
    io.out(`Wrote ${options.out}.`);
  } else io.out(text);
  return EXIT.ok;
}
