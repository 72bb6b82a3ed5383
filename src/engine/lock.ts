import { randomBytes } from 'node:crypto';
import { closeSync, constants, linkSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ExitError, EXIT } from './errors.js';
import { storeAt, type Lock, type LockHolder } from './run-store.js';
import { ensureStateDir, guardWrite, NOFOLLOW, readNoFollow, writeFully } from './storage.js';

/**
 * The driver's lock: one runner drives a cutover at a time.
 *
 * It is a numbered file, `lock.<n>`; the highest number is the lock. Taking it means creating the
 * next number with `link()`, which fails when the name exists, so when two contenders find the same
 * stale holder exactly one creates `lock.<n+1>` and wins; the other sees it and stops (a single
 * `lock` file that contenders delete and re-create lets both win). A released lock is rewritten in
 * place with `released`, so numbers only grow.
 *
 * A holder is dead when its pid is gone, when that pid now belongs to a process started at another
 * time (pid reuse), or when the host rebooted. A holder on another host cannot be checked: it is
 * released by `cutover unlock --reason TEXT`, which is journaled.
 */

export type { Lock, LockHolder } from './run-store.js';

const LOCK = /^lock\.(\d+)$/;

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat, after the command name (which may hold spaces and parentheses). */
export function processStartTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

const bootId = () => readProc('/proc/sys/kernel/random/boot_id')?.trim();

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** On this host: is the process that wrote `holder` still running? */
export function holderAlive(holder: LockHolder): boolean {
  if (holder.bootId && bootId() && holder.bootId !== bootId()) return false;
  if (!pidAlive(holder.pid)) return false;
  if (holder.startTicks !== undefined) {
    const now = processStartTicks(holder.pid);
    if (now !== undefined && now !== holder.startTicks) return false;
  }
  return true;
}

function current(stateDir: string): { n: number; holder?: LockHolder } {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { n: 0 };
    throw error;
  }
  for (const name of names) {
    const match = LOCK.exec(name);
    if (match) n = Math.max(n, Number(match[1]));
  }
  if (n === 0) return { n };
  try {
    const text = readNoFollow(join(stateDir, `lock.${n}`), 'the lock');
    return { n, ...(text ? { holder: JSON.parse(text) as LockHolder } : {}) };
  } catch (error) {
    if (error instanceof ExitError) throw error;
    // Unreadable content: treat as held by someone unknown (never as free).
    return { n, holder: { pid: -1, host: '?', user: '?', command: '?', since: '?' } };
  }
}

/** The holder of the lock, if anyone holds it. */
export function readLock(stateDir: string): LockHolder | undefined {
  const store = storeAt(stateDir);
  if (store) return store.readLock();
  const { holder } = current(stateDir);
  return holder && !holder.released ? holder : undefined;
}

export function describeHolder(holder: LockHolder): string {
  return `${holder.user}@${holder.host} (pid ${holder.pid}) running "${holder.command}" since ${holder.since}`;
}

/** Write `content` to a new temp file beside the lock (complete before anyone can see it under a lock name). */
function writeTemp(stateDir: string, content: string): string {
  const temp = join(stateDir, `.lock.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  guardWrite(temp, content.length, 'the lock', () => {
    // Readable by the state folder's group: a second operator's command reads who drives (no secrets here).
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o644);
    try {
      writeFully(fd, Buffer.from(content), temp);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
  });
  return temp;
}

/**
 * Take the lock. A lock left by a dead process on this host is taken over and reported; a live
 * holder, or one on another host, makes this runner exit 4 (`force` takes it anyway: `cutover unlock`).
 */
export function acquireLock(stateDir: string, command: string, options: { force?: boolean } = {}): Lock {
  const store = storeAt(stateDir);
  if (store) return store.acquireLock(command, options);
  ensureStateDir(stateDir, { create: true });
  const startTicks = processStartTicks(process.pid);
  const boot = bootId();
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    user: userInfo().username,
    command,
    since: new Date().toISOString(),
    ...(startTicks !== undefined ? { startTicks } : {}),
    ...(boot ? { bootId: boot } : {}),
  };
  const temp = writeTemp(stateDir, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { n, holder } = current(stateDir);
      let tookOverFrom: LockHolder | undefined;
      if (holder && !holder.released) {
        const here = holder.host === me.host;
        if (!options.force && (!here || holderAlive(holder))) {
          throw new ExitError(
            `Another runner holds this cutover: ${describeHolder(holder)}. Only one runner may drive a cutover. ` +
              (here
                ? 'Use that one, or stop it first.'
                : `It runs on another host, which this one cannot check. Use that one; if it is gone for good, release its lock with: cutover unlock --reason TEXT (journaled).`),
            EXIT.locked,
          );
        }
        tookOverFrom = holder;
      }
      const mine = join(stateDir, `lock.${n + 1}`);
      try {
        guardWrite(mine, 0, 'the lock', () => linkSync(temp, mine));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // another contender won n+1: look again
        throw error;
      }
      // A contender that looked long ago may have linked a number below the real top: it backs off.
      if (current(stateDir).n !== n + 1) {
        rmSync(mine, { force: true });
        continue;
      }
      for (const name of readdirSync(stateDir)) {
        const match = LOCK.exec(name);
        if (match && Number(match[1]) <= n) rmSync(join(stateDir, name), { force: true });
      }
      let released = false;
      return {
        ...(tookOverFrom ? { tookOverFrom } : {}),
        release() {
          if (released) return;
          released = true;
          // Rewrite in place (never delete): the number stays the top, so nobody re-uses it.
          const top = current(stateDir);
          if (top.n !== n + 1 || top.holder?.pid !== me.pid) return;
          try {
            const done = writeTemp(stateDir, JSON.stringify({ ...me, released: new Date().toISOString() }));
            renameSync(done, mine);
          } catch {
            // A full disk: the lock stays, and is recognised as a dead holder's after this process exits.
          }
        },
      };
    }
    throw new ExitError(`Could not take the lock in ${stateDir}; other runners keep starting. Try again.`, EXIT.locked);
  } finally {
    rmSync(temp, { force: true });
  }
}
