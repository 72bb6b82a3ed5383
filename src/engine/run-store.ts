import { resolve } from 'node:path';
import type { RunEvent } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import { whoIsRunning, type Identity } from './identity.js';

/**
 * Where a run's record lives (DESIGN §2 "state stores"): the snapshot, the journal, the driver's lock
 * and the inbox of outside requests.
 *
 * Files in the state folder are the default and need nothing registered: journal.ts, state-store.ts,
 * lock.ts and inbox.ts are the file store. A team on several machines names a PostgreSQL database in
 * the plan (`state.postgres`); the session then registers a `RunStore` for the state folder, and those
 * same functions hand every call for that folder to it. The side files steps keep in the folder (DNS
 * "before" values, grant records, stored reconciliations, notification deliveries) are mirrored into
 * the store as they are written and written back into the folder of whoever attaches (side-files.ts).
 *
 * Every operation is synchronous, as the file store's are: a journal line is durable before the event
 * it records is applied, and the machine's subscribers cannot await.
 */
export interface RunStore {
  readonly kind: 'postgres';
  /** Where the record is, for messages ("the state database (CUTOVER_STATE_URL), run 3f2a…"). */
  readonly where: string;
  /** How often a driver looks at the inbox when no wake-up came (the wake-ups are the fast path). */
  readonly pollMs: number;

  /** The journal's lines as written (each `{…entry, prev, hash}`), in sequence order. */
  readJournalLines(): string[];
  /** Add line `seq`; refused (never overwritten) when that number is taken. */
  appendJournalLine(seq: number, line: string, entry: { at: string; type: string; prev: string; hash: string }): void;

  /** The state envelope's text, undefined when no state was saved yet. */
  loadStateText(): string | undefined;
  saveStateText(text: string): void;

  acquireLock(command: string, options: { force?: boolean }): Lock;
  readLock(): LockHolder | undefined;

  postRequest(request: InboxRequest): string;
  pendingRequests(): PendingRequest[];
  answerRequest(id: string, answer: InboxAnswer): void;
  readAnswer(id: string): InboxAnswer | undefined;
  pruneAnswers(now: number): void;

  /** Call `listener` when a request lands (NOTIFY); returns the way to stop listening. */
  onRequest(listener: () => void): () => void;
  /**
   * Call `listener` if this process's hold on the store ends behind its back (team mode: the
   * session was terminated or the network dropped, and the advisory lock went with it).
   */
  onLost(listener: () => void): () => void;
  /** Keep a step's side file (a path relative to the state folder) with the run: the last content wins. */
  saveSideFile(name: string, content: string): void;
  /** Every side file kept with the run. */
  sideFiles(): Array<{ name: string; content: string }>;

  /** The person running this process, as the store's connection establishes them (team mode: the login). */
  identity(): Identity;
  /** End the connection (a driver's lock goes with it). */
  close(): void;
}

/*
 * The records every store keeps, declared here (and re-exported by lock.ts and inbox.ts) so that
 * this module depends on none of the modules that dispatch to it.
 */

/** Who holds a cutover: shown to a second runner so people can talk to each other. */
export interface LockHolder {
  pid: number;
  host: string;
  user: string;
  command: string;
  since: string;
  /** Start time of the process (Linux: clock ticks since boot), to recognise a reused pid. */
  startTicks?: number;
  bootId?: string;
  /** Set when the holder let go (or was released by `cutover unlock`). */
  released?: string;
  /** Team mode: the holder's PostgreSQL session (backend pid), whose advisory lock is the lock. */
  session?: number;
  /** Team mode: the PostgreSQL login of that session. */
  login?: string;
}

export interface Lock {
  release(): void;
  tookOverFrom?: LockHolder;
}

export interface InboxRequest {
  /** A machine event (sign-off, confirm, skip, retry, rollback)… */
  event?: RunEvent;
  /** …or a human-only decision input (`cutover decide --assert/--withdraw`; see assertion.ts). */
  assertion?: { name: string; note?: string; withdraw?: boolean };
  /** The typed rollback phrase (rollback and abort). */
  phrase?: string;
  /** The command line, for the journal and messages. */
  command: string;
  postedAt: string;
}

export interface InboxAnswer {
  ok: boolean;
  message: string;
}

export interface PendingRequest {
  id: string;
  /** The numeric OS user that created the file (-1 in a state database). */
  uid: number;
  /** Team mode: the PostgreSQL login whose session inserted the request, as the server recorded it. */
  login?: string;
  request?: InboxRequest;
  /** Why the file could not be read as a request. */
  problem?: string;
}

const stores = new Map<string, RunStore>();

/** From now on, the run of `stateDir` lives in `store` (for this process). */
export function useStore(stateDir: string, store: RunStore): void {
  stores.set(resolve(stateDir), store);
}

export function forgetStore(stateDir: string): void {
  stores.delete(resolve(stateDir));
}

/** The store registered for `stateDir`, or undefined for the default: files in the folder. */
export function storeAt(stateDir: string): RunStore | undefined {
  return stores.size ? stores.get(resolve(stateDir)) : undefined;
}

/**
 * Who runs this command for the run of `stateDir`: in team mode the login of the state database's
 * session (the server authenticated it), otherwise the OS account.
 */
export function whoActs(plan: Pick<Plan, 'approvers'>, stateDir: string, account?: string): Identity {
  const store = storeAt(stateDir);
  return store ? store.identity() : whoIsRunning(plan, account);
}
