import { EXIT } from '../../engine/errors.js';
import { openSession } from '../../services/session.js';
import * as service from '../../services/unlock.js';
import type { GlobalOptions, Io } from '../io.js';

/** Release the lock of a runner on another host (or a dead one), journaled with who and why. */
export async function unlock(globals: GlobalOptions, options: { by?: string; reason: string }, io: Io): Promise<number> {
  io.out(service.unlock(await openSession(globals, io), io, options));
  return EXIT.ok;
}
