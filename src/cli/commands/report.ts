import { writeFileSync } from 'node:fs';
import { EXIT } from '../../engine/errors.js';
import { runReport } from '../../services/report.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

export async function report(globals: GlobalOptions, options: { out?: string }, io: Io): Promise<number> {
  const text = runReport(await openSession(globals, io));
  if (options.out) {
    writeFileSync(options.out, text, { mode: 0o600 });
    io.out(`Wrote ${options.out}.`);
  } else io.out(text);
  return EXIT.ok;
}
