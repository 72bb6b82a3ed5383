import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, type JournalEntry } from './journal.js';
import { acquireLock, pidAlive } from './lock.js';
import { ensureStateDir } from './storage.js';

/**
 * How every writer of a run's journal starts: check the state folder, take the lock, open the
 * journal, let the caller judge it (the runner checks that state and journal belong together)
 * before anything is written to it, cut an incomplete last line, and note a takeover of a lock left
 * by a dead process (so the record shows who took over from whom). The runner keeps what this
 * returns for its whole life; one-line writers use `appendUnderLock`.
 */
export interface LockedJournal {
  journal: Journal;
  release(): void;
  /** Lines written on opening (a cut torn tail, a takeover), for the caller to show. */
  opened: JournalEntry[];
}

export interface OpenOptions {
  env?: Record<string, string | undefined>;
  /** Judge the journal (and anything else) before a line is written to it; throwing releases the lock. */
  check?: (journal: Journal) => void;
}

export function openLockedJournal(stateDir: string, command: string, now: () => number, options: OpenOptions = {}): LockedJournal {
  ensureStateDir(stateDir, { create: true, ...(options.env ? { env: options.env } : {}) });
  const lock = acquireLock(stateDir, command);
  try {
    removeStaleTemps(stateDir);
    const journal = Journal.open(stateDir);
    options.check?.(journal);
    const opened: JournalEntry[] = [];
    // An incomplete last line was never acknowledged: cut it, and say so in the journal.
    const recovered = journal.recoverTail(now());
    if (recovered) opened.push(recovered);
    if (lock.tookOverFrom) {
      const from = lock.tookOverFrom;
      opened.push(journal.append(now(), 'lock.taken-over', { from: `${from.user}@${from.host} pid ${from.pid}` }));
    }
    return { journal, release: lock.release, opened };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** A short write under the lock (an assertion, a reconciliation summary), released however it ends. */
export function appendUnderLock<T>(stateDir: string, command: string, now: () => number, write: (journal: Journal) => T): T {
  const { journal, release } = openLockedJournal(stateDir, command, now);
  try {
    return write(journal);
  } finally {
    release();
  }
}

/**
 * Temp files of writes by processes killed mid-write. State temps are only written under the lock we
 * hold, so none is live; a lock temp may belong to a contender starting right now, so only a dead
 * process's goes.
 */
function removeStaleTemps(stateDir: string): void {
  for (const name of readdirSync(stateDir)) {
    const lockTemp = /^\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    const stale = /^\.state\.json\.\d+(\.[0-9a-f]+)?\.tmp$/.test(name) || (lockTemp && !pidAlive(Number(lockTemp[1])));
    if (stale) rmSync(join(stateDir, name), { force: true });
  }
}
