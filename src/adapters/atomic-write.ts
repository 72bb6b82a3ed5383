import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Durable file writes: the engine's state file (synchronously, inside a transition callback) and the
 * adapters' own files (zone file, outbox, step progress).
 * A reader sees either the old content or the new one, never a torn file: the content goes to a temp
 * file beside the target, is fsync'd, renamed over the target, and the folder is fsync'd so the rename
 * itself survives a power cut.
 */

export interface AtomicWriteOptions {
  /** File mode of the written file (0o600 for anything holding personal data). */
  mode?: number;
  /** Mode of folders created on the way. */
  dirMode?: number;
}

type DurableWriteListener = (file: string, content: string) => void;
const durableWriteListeners = new Set<DurableWriteListener>();

/**
 * Hear of every file written durably through this module (and of files others append to, through
 * `announceDurableWrite`): team mode mirrors a state folder's side files into the state database so
 * a driver on another machine finds them. A listener that throws fails the write, as a full disk
 * would: what could not be recorded must not be acted on.
 */
export function onDurableWrite(listener: DurableWriteListener): () => void {
  durableWriteListeners.add(listener);
  return () => durableWriteListeners.delete(listener);
}

/** `file` now durably holds `content` (for writers that append rather than replace). */
export function announceDurableWrite(file: string, content: string): void {
  for (const listener of durableWriteListeners) listener(file, content);
}

export async function writeFileAtomic(file: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o755 });
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
  announceDurableWrite(file, content);
}

/** fsync a folder so a rename or a new entry in it is on disk (best effort: see below). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Write a file's content and fsync it (inside a temp folder that is renamed as a whole later). */
export async function writeFileSynced(file: string, content: string, mode = 0o644): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The same, synchronously: the engine persists inside XState's subscribe callback, before anything
 * else runs. A short or failed write never reaches the target, and its temp file is removed.
 */
export function writeFileAtomicSync(file: string, content: string, mode = 0o600): void {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const data = Buffer.from(content);
  // O_EXCL: a fresh file, never an existing one or a link planted under that name.
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    try {
      let offset = 0;
      while (offset < data.length) {
        const written = writeSync(fd, data, offset, data.length - offset);
        if (written <= 0) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${temp}'`), { code: 'ENOSPC' });
        offset += written;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
