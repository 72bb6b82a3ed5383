import { EXIT } from '../../engine/errors.js';
import { previewNext } from '../../services/preview.js';
import { checkUntil, checkWait, runLines, type RunOptions } from '../../services/run.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

/** `cutover run`: the terminal UI on a terminal, else line output; `--dry-run` only previews. */
export async function run(globals: GlobalOptions, options: RunOptions, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  if (options.dryRun) {
    const preview = await previewNext(session);
    io.out(`Dry run from: ${preview.from}`);
    for (const step of preview.steps) io.out(`- ${step.id}: ${step.dryRun.split('\n').join('\n    ')}`);
    return EXIT.ok;
  }
  checkUntil(options.until, session.plan);
  checkWait(options.wait, session.clock);
  if (io.interactive && !options.nonInteractive && !options.json) {
    const { runInteractive } = await import('../../ui/run-interactive.js');
    return runInteractive(session, options, io);
  }
  return runLines(session, options, io, { waitGates: Boolean(options.wait) });
}
