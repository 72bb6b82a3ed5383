import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../../machines/machine.js';
import { writeFileAtomicSync } from '../adapters/atomic-write.js';
import type { Assertion } from './assertion.js';

/**
 * The inbox: how a second process hands an outside event (sign-off, confirmation, skip, retry,
 * rollback, a decision input) to the process that drives the run, without taking the driver's lock (DESIGN §2
 * "several operators, one run").
 *
 * One file per request in `inbox/` inside the state folder, written whole (temp file + rename), so the
 * driver never reads half a request. The driver applies it through the same authority check and
 * machine as any event, journals it with the request's id, and writes `<id>.answer` for the waiting
 * sender. Who sent it is the file's OWNER, as the kernel recorded it when the file was created, never
 * what the file says: a person cannot file a sign-off in someone else's name.
 *
 * Sharing one host among several OS accounts needs a group on the state folder (see
 * docs/operations.md): the inbox copies the folder's group bits and adds the sticky bit, so anyone in
 * the group may drop a request and nobody may remove someone else's.
 */

export interface InboxRequest {
  /** A machine event (sign-off, confirm, skip, retry, rollback)… */
  event?: RunEvent;
  /** …or a human-only decision input (`cutover decide --assert/--withdraw`). */
  assertion?: Assertion;
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
  /** The numeric OS user that created the file. */
  uid: number;
  request?: InboxRequest;
  /** Why the file could not be read as a request. */
  problem?: string;
}

export function inboxDir(stateDir: string): string {
  return join(stateDir, 'inbox');
}

/** Create the inbox with the state folder's group access (if any) and the sticky bit. */
export function ensureInbox(stateDir: string): string {
  const dir = inboxDir(stateDir);
  const groupBits = statSync(stateDir).mode & 0o070;
  if (!existsSync(dir)) {
    mkdirSync(dir, { mode: 0o700 });
    // mkdir's mode is filtered by the umask; the group's access must not be.
    chmodSync(dir, groupBits ? 0o1700 | groupBits | (statSync(stateDir).mode & 0o2000) : 0o700);
  }
  return dir;
}

/** Hand a request to the driver; returns its id. */
export function postRequest(stateDir: string, request: InboxRequest): string {
  const dir = ensureInbox(stateDir);
  // Sorts by posting time, so the driver applies requests in the order they were made.
  const id = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  writeFileAtomicSync(join(dir, `${id}.json`), `${JSON.stringify(request)}\n`, 0o640);
  return id;
}

/** Requests not answered yet, oldest first. */
export function pendingRequests(stateDir: string): PendingRequest[] {
  const dir = inboxDir(stateDir);
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  const answered = new Set(names.filter((name) => name.endsWith('.answer')).map((name) => name.slice(0, -'.answer'.length)));
  return names
    .filter((name) => /^\d+-\d+-[0-9a-f]+\.json$/.test(name))
    .map((name) => name.slice(0, -'.json'.length))
    .filter((id) => !answered.has(id))
    .sort()
    .map((id): PendingRequest => {
      const path = join(dir, `${id}.json`);
      try {
        const uid = statSync(path).uid;
        try {
          return { id, uid, request: JSON.parse(readFileSync(path, 'utf8')) as InboxRequest };
        } catch {
          return { id, uid, problem: 'the request is not valid JSON' };
        }
      } catch {
        return { id, uid: -1, problem: 'the request could not be read' };
      }
    });
}

/** Answer a request and remove it (the answer stays as the record that it was handled). */
export function answerRequest(stateDir: string, id: string, answer: InboxAnswer): void {
  const dir = inboxDir(stateDir);
  writeFileAtomicSync(join(dir, `${id}.answer`), `${JSON.stringify(answer)}\n`, 0o644);
  try {
    rmSync(join(dir, `${id}.json`), { force: true });
  } catch {
    // Sticky folder and another owner: the answer file marks it handled.
  }
}

/** Wait for the driver's answer; undefined when none came within the time given. */
export async function awaitAnswer(stateDir: string, id: string, timeoutMs: number): Promise<InboxAnswer | undefined> {
  const path = join(inboxDir(stateDir), `${id}.answer`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path)) {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as InboxAnswer;
      } catch {
        // Written by rename, so a parse failure is a file being replaced: read again.
      }
    }
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
