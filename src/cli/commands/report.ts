import { writeFileSync } from 'node:fs';
import { EXIT } from '../../engine/errors.js';
import { isoTimes } from '../../engine/time-format.js';
import { runReport, runReportData } from '../../services/report.js';
import { openSession } from '../../services/session.js';
import { writeHtmlReport } from '../../engine/report-html-file.js';
import type { GlobalOptions, Io } from '../io.js';

export async function report(globals: GlobalOptions, options: { out?: string; html?: string; json?: boolean }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  if (options.html) {
    writeHtmlReport(options.html, session.plan, session.stateDir, session.clock.now());
    io.out(`Wrote ${options.html} (one self-contained page: open it in any browser).`);
    if (!options.out) return EXIT.ok;
  }
  const text = options.json ? JSON.stringify(runReportData(session), isoTimes(session.plan.t0.zone), 2) : runReport(session);
  if (options.out) {
    writeFileSync(options.out, text, { mode: 0o600 });
    io.out(`Wrote ${options.out}.`);
  } else io.out(text);
  return EXIT.ok;
}
