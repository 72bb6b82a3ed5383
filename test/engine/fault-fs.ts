import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small real filesystem to fill up (tmpfs; needs root, as on the CI container). Tests that need
 * one are skipped where mounting is not allowed, and say so.
 */
export function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `/tmp/cutover-mount-probe-${process.pid}`;
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

export function mountTmpfs(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir]);
}

/** Fill the filesystem holding `dir` until a write fails, then free `leaveBytes` again. Returns the filler's path. */
export function fill(dir: string, leaveBytes = 0): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) {
      try {
        if (writeSync(fd, chunk) < chunk.length) break;
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (leaveBytes > 0) {
    truncateSync(filler, Math.max(0, statSync(filler).size - leaveBytes));
  }
  return filler;
}
