import { EXIT } from '../../engine/errors.js';
import { isoTime } from '../../engine/time-format.js';
import { openSession } from '../../services/session.js';
import * as service from '../../services/unlock.js';
import type { GlobalOptions, Io } from '../io.js';

/** Release the lock of a runner on another host (or a dead one), journaled with who and why. */
export async function unlock(globals: GlobalOptions, options: { by?: string; reason: string; json?: boolean }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  const message = service.unlock(session, io, options);
  io.out(options.json ? JSON.stringify({ command: 'cutover unlock', recorded: { type: 'unlock', reason: options.reason, at: isoTime(session.clock.now(), session.plan.t0.zone) }, message, exitCode: EXIT.ok }) : message);
  return EXIT.ok;
}
