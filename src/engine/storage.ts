import { chmodSync, chownSync, closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, statfsSync, writeSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitError, EXIT } from './errors.js';

/**
 * Low-level writes for the state folder and the words for what goes wrong there. A full disk or a
 * permission problem is an operations fault, not a bug: it stops the run with a message that names
 * the folder and what to do, never a stack trace.
 */

/** Flags for opening a file in the state folder: never through a symlink planted there. */
export const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Write all of `data` at the current position. `writeSync` may write less than asked (a nearly full
 * disk writes what fits, then fails); a short write is continued, and a write that makes no progress
 * is reported as a full disk instead of being taken for success.
 */
export function writeFully(fd: number, data: Buffer, file: string): void {
  let offset = 0;
  while (offset < data.length) {
    const written = writeSync(fd, data, offset, data.length - offset);
    if (written <= 0) {
      const error = new Error(`ENOSPC: no space left on device, write '${file}'`) as NodeJS.ErrnoException;
      error.code = 'ENOSPC';
      throw error;
    }
    offset += written;
  }
}

function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return undefined;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const PERMISSION = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Turn a filesystem error from writing `file` into a refusal with what to do, or return undefined when
 * it is something else (a bug, reported as one). `needBytes` is how much the write needed.
 */
export function storageFault(error: unknown, file: string, needBytes: number, what: string): ExitError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return undefined;
  const folder = dirname(file);
  if (FULL.has(code)) {
    const free = freeBytes(folder);
    return new ExitError(
      `The disk holding ${folder} is full (${code}): writing ${what} needs ${formatBytes(needBytes)}` +
        `${free !== undefined ? `, ${formatBytes(free)} is free` : ''}. Nothing was half-written. ` +
        `Free at least ${formatBytes(Math.max(needBytes * 4, 1024 * 1024))} there, then run \`cutover run\` again: it resumes where it stopped.`,
      EXIT.attention,
    );
  }
  if (PERMISSION.has(code)) {
    return new ExitError(
      `Permission problem (${code}) writing ${what} in ${folder}: ` +
        (code === 'EROFS'
          ? 'the filesystem is mounted read-only. Remount it read-write or use another folder (--state DIR).'
          : `the user ${process.getuid?.() ?? '?'} may not write there. Fix the owner or mode of ${folder} (it should belong to the user running cutover, mode 0700).`),
      EXIT.attention,
    );
  }
  if (code === 'ELOOP') {
    return new ExitError(
      `${file} is a symbolic link. Links inside the state folder are never followed (one could make cutover write elsewhere). ` +
        'Remove the link and restore the real file.',
      EXIT.usage,
    );
  }
  return undefined;
}

/** Run a write to the state folder; a full disk or permission problem becomes a clear refusal. */
export function guardWrite<T>(file: string, needBytes: number, what: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw storageFault(error, file, needBytes, what) ?? error;
  }
}

/** The same for reads: a permission problem is named as such, not as a corrupt file. */
export function guardRead<T>(file: string, what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code && PERMISSION.has(code)) {
      throw new ExitError(`Permission problem (${code}) reading ${what} ${file}: the user running cutover may not read it. Fix its owner or mode (owner-only, 0600).`, EXIT.attention);
    }
    if (code === 'ELOOP') throw storageFault(error, file, 0, what)!;
    throw error;
  }
}

/** Read a file of the state folder without following a symlink; undefined when it does not exist. */
export function readNoFollow(file: string, what: string): string | undefined {
  return guardRead(file, what, () => {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * The state folder holds the run's record and personal data (recipients, row keys): it is created
 * owner-only and refused when someone else could change it — writable by group or others, or owned
 * by another user — because whoever can write there can plant a journal or a link. Shared operation
 * hosts name a group in CUTOVER_STATE_GROUP (a gid or name): then the folder may belong to another
 * member and be group-writable, if its group is that one (never world-writable).
 */
export function ensureStateDir(stateDir: string, options: { create: boolean; env?: Record<string, string | undefined> }): boolean {
  const env = options.env ?? process.env;
  const group = env.CUTOVER_STATE_GROUP ? groupId(env.CUTOVER_STATE_GROUP) : undefined;
  let info = lstatQuiet(stateDir);
  if (!info) {
    if (!options.create) return false;
    guardWrite(join(stateDir, '.'), 0, 'the state folder', () => mkdirSync(stateDir, { recursive: true, mode: 0o700 }));
    if (group !== undefined) {
      chownSync(stateDir, -1, group);
      chmodSync(stateDir, 0o2770);
    } else chmodSync(stateDir, 0o700);
    info = lstatSync(stateDir);
  }
  const refuse = (why: string, todo: string) => new ExitError(`The state folder ${stateDir} ${why}. It is not used: ${todo}`, EXIT.usage);
  if (info.isSymbolicLink()) throw refuse('is a symbolic link', 'point --state at the real folder (links in and at the state folder are never followed).');
  if (!info.isDirectory()) throw refuse('is not a folder', 'use --state DIR to name a folder.');
  const uid = process.getuid?.();
  const mode = info.mode & 0o777;
  if (mode & 0o002) throw refuse(`is writable by every user (mode ${mode.toString(8)})`, `chmod o-w ${stateDir} (it should be 0700).`);
  if (group !== undefined && info.gid === group) return true;
  if (uid !== undefined && info.uid !== uid) {
    throw refuse(
      `belongs to another user (uid ${info.uid}, you are ${uid})`,
      `run cutover as that user, or chown it to yourself; on a shared operations host set CUTOVER_STATE_GROUP to the operators' group and give the folder that group.`,
    );
  }
  if (mode & 0o020) throw refuse(`is writable by its group (mode ${mode.toString(8)})`, `chmod 700 ${stateDir}, or set CUTOVER_STATE_GROUP to that group if several operators share it.`);
  return true;
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code && PERMISSION.has(code)) throw new ExitError(`Permission problem (${code}) reaching the state folder ${path}: the user running cutover may not open it. Fix the modes of the folders above it.`, EXIT.attention);
    throw error;
  }
}

function groupId(spec: string): number {
  if (/^\d+$/.test(spec)) return Number(spec);
  const line = (readNoFollow('/etc/group', 'the group list') ?? '').split('\n').find((entry) => entry.startsWith(`${spec}:`));
  if (!line) throw new ExitError(`CUTOVER_STATE_GROUP=${spec}: there is no such group on this host. Give a group name or gid.`, EXIT.usage);
  return Number(line.split(':')[2]);
}
