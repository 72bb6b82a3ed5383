import { loadPlan } from '../../config/load.js';
import { EXIT } from '../../engine/errors.js';
import { unlockRun } from '../../engine/unlock.js';
import type { GlobalOptions, Io } from '../io.js';
import { clockFromEnv, stateDirOf } from '../session.js';

/** Release the lock of a runner on another host (or a dead one), journaled with who and why. */
export async function unlock(globals: GlobalOptions, options: { by: string; reason: string }, io: Io): Promise<number> {
  const { file } = await loadPlan(globals.config);
  const { clock } = clockFromEnv(io.env);
  io.out(unlockRun(stateDirOf(globals, file), { by: options.by, reason: options.reason, at: clock.now() }));
  return EXIT.ok;
}
