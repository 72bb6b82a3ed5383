import { ExitError, EXIT } from './errors.js';
import { Journal } from './journal.js';
import { acquireLock, holderAlive, readLock } from './lock.js';
import { hostname } from 'node:os';

/**
 * `cutover unlock`: release a lock whose holder this host cannot check (another host) or that is
 * dead, with who and why on the record. A live holder on this host is never unlocked: stop it.
 */
export function unlockRun(stateDir: string, request: { by: string; identity?: Record<string, unknown>; reason: string; at: number }): string {
  if (!request.by.trim() || !request.reason.trim()) throw new ExitError('cutover unlock needs --reason TEXT: why the lock is released, for the record.', EXIT.usage);
  const holder = readLock(stateDir);
  if (!holder) return `Nobody holds the lock of ${stateDir}: nothing to release.`;
  if (holder.host === hostname() && holderAlive(holder)) {
    throw new ExitError(
      `The lock is held by a runner that is still running on this host: ${holder.user} pid ${holder.pid} ("${holder.command}"). Stop it (Ctrl-C in its terminal, or kill ${holder.pid}); it releases the lock itself.`,
      EXIT.locked,
    );
  }
  const lock = acquireLock(stateDir, `cutover unlock (${request.by})`, { force: true });
  try {
    Journal.open(stateDir).append(request.at, 'lock.released', {
      by: request.by,
      ...(request.identity ? { identity: request.identity } : {}),
      reason: request.reason,
      holder: `${holder.user}@${holder.host} pid ${holder.pid}`,
      holderCommand: holder.command,
      holderSince: holder.since,
    });
  } finally {
    lock.release();
  }
  return `Released the lock of ${holder.user}@${holder.host} (pid ${holder.pid}, "${holder.command}" since ${holder.since}); journaled as released by ${request.by}: ${request.reason}. \`cutover run\` can drive again.`;
}
