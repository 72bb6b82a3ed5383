import { writeFileSync } from 'node:fs';
import { loadPlan } from '../../config/load.js';
import { EXIT } from '../../engine/errors.js';
import { peekRun } from '../../engine/peek.js';
import { renderReport } from '../../engine/report.js';
import { buildView } from '../../engine/view.js';
import type { GlobalOptions, Io } from '../io.js';
import { clockFromEnv, stateDirOf } from '../session.js';

export async function report(globals: GlobalOptions, options: { out?: string }, io: Io): Promise<number> {
  const { plan, file } = await loadPlan(globals.config);
  const { snapshot, journal } = peekRun(stateDirOf(globals, file), plan);
  const text = renderReport(plan, buildView(snapshot, clockFromEnv(io.env).clock.now()), journal.entries);
  if (options.out) {
    writeFileSync(options.out, text, { mode: 0o600 });
    io.out(`Wrote ${options.out}.`);
  } else io.out(text);
  return EXIT.ok;
}
