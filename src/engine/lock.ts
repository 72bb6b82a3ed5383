import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ExitError, EXIT } from './errors.js';

/** Who holds a cutover: shown to a second runner so people can talk to each other. */
export interface LockHolder {
  pid: number;
  host: string;
  user: string;
  command: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(stateDir: string): LockHolder | undefined {
  const path = join(stateDir, 'lock');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Take the lock (O_EXCL create). A lock left by a process that died on this host is taken over and
 * reported; a live holder, or one on another host we cannot check, makes this runner exit 4.
 */
export function acquireLock(stateDir: string, command: string): { release(): void; tookOverFrom?: LockHolder } {
  const path = join(stateDir, 'lock');
  const me: LockHolder = { pid: process.pid, host: hostname(), user: userInfo().username, command, since: new Date().toISOString() };
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Readable by the state folder's group: a second operator's command reads who drives (no secrets here).
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return {
        tookOverFrom,
        release() {
          const holder = readLock(stateDir);
          if (holder?.pid === me.pid && holder.host === me.host) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(stateDir);
      if (holder && (holder.host !== me.host || alive(holder.pid))) {
        throw new ExitError(
          `Another runner holds this cutover: ${holder.user}@${holder.host} (pid ${holder.pid}) running "${holder.command}" since ${holder.since}. ` +
            'Only one runner may drive a cutover. Use that one, or stop it first.',
          EXIT.locked,
        );
      }
      tookOverFrom = holder;
      rmSync(path, { force: true });
    }
  }
  throw new ExitError(`Could not take the lock ${path}; another runner is starting. Try again.`, EXIT.locked);
}
