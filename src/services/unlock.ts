import { checkClaim, identityRecord } from '../engine/identity.js';
import { whoActs } from '../engine/run-store.js';
import { unlockRun } from '../engine/unlock.js';
import type { Io } from './io.js';
import type { Session } from './session.js';

/**
 * `cutover unlock`: release the lock of a runner on another host (or a dead one). Who releases it is
 * the OS account running the command, as for every recorded act; `--by`, when given, must be them.
 */
export function unlock(session: Pick<Session, 'plan' | 'stateDir' | 'clock'>, io: Pick<Io, 'account'>, options: { by?: string; reason: string }): string {
  const identity = whoActs(session.plan, session.stateDir, io.account);
  checkClaim(identity, options.by);
  return unlockRun(session.stateDir, { by: identity.name, identity: identityRecord(identity), reason: options.reason, at: session.clock.now() });
}
