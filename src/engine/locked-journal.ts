import { Journal } from './journal.js';
import { acquireLock } from './lock.js';

/**
 * How every writer of a run's journal starts: take the lock, open the journal, and note a takeover
 * of a lock left by a dead process (so the record shows who took over from whom). The runner keeps
 * what this returns for its whole life; one-line writers use `appendUnderLock`.
 */
export interface LockedJournal {
  journal: Journal;
  release(): void;
}

export function openLockedJournal(stateDir: string, command: string, now: () => number): LockedJournal {
  const lock = acquireLock(stateDir, command);
  try {
    const journal = Journal.open(stateDir);
    if (lock.tookOverFrom) {
      const from = lock.tookOverFrom;
      journal.append(now(), 'lock.taken-over', { from: `${from.user}@${from.host} pid ${from.pid}` });
    }
    return { journal, release: lock.release };
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
