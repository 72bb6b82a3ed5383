import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../adapters/atomic-write.js';
import { storeAt, type InboxAnswer, type InboxRequest, type PendingRequest } from './run-store.js';

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

export type { InboxAnswer, InboxRequest, PendingRequest } from './run-store.js';

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
  const store = storeAt(stateDir);
  if (store) return store.postRequest(request);
  const dir = ensureInbox(stateDir);
  // Sorts by posting time, so the driver applies requests in the order they were made.
  const id = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  writeFileAtomicSync(join(dir, `${id}.json`), `${JSON.stringify(request)}\n`, 0o640);
  return id;
}

/** What a person may hand in: the events of the gates. REPLAN comes only from the plan file. */
const PERSON_EVENTS = new Set(['SIGNOFF', 'CONFIRM', 'SKIP', 'RETRY', 'ROLLBACK', 'ABORT']);

/** A request as read from a file, checked field by field: the driver applies nothing it cannot read. */
export function parseRequest(text: string): { request: InboxRequest } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'the request is not valid JSON' };
  }
  const request = value as Partial<InboxRequest> | null;
  const optionalText = (field: unknown) => field === undefined || typeof field === 'string';
  if (!request || typeof request !== 'object' || typeof request.command !== 'string' || !optionalText(request.phrase)) {
    return { problem: 'the request is not one cutover wrote' };
  }
  if (request.event) {
    const event = request.event as unknown as Record<string, unknown>;
    if (!PERSON_EVENTS.has(String(event.type))) return { problem: `${String(event.type)} cannot be handed in by a person` };
    const texts = ['stepId', 'by', 'note', 'reason', 'phrase'].every((field) => optionalText(event[field]));
    const needsStep = event.type !== 'ROLLBACK' && event.type !== 'ABORT';
    if (!texts || (needsStep && typeof event.stepId !== 'string') || typeof event.at !== 'number') return { problem: 'the event is malformed' };
    return { request: request as InboxRequest };
  }
  const assertion = request.assertion as unknown as Record<string, unknown> | undefined;
  if (assertion && typeof assertion.name === 'string' && optionalText(assertion.note) && (assertion.withdraw === undefined || typeof assertion.withdraw === 'boolean')) {
    return { request: request as InboxRequest };
  }
  return { problem: 'the request names neither an event nor an assertion' };
}

/**
 * Requests not answered yet, oldest first. The sender is the owner of the file as the kernel reports
 * it for the open file itself: a symbolic link is not followed (it would lend the target's owner) and
 * a file with a second hard link is refused (it could be someone else's file linked in).
 */
export function pendingRequests(stateDir: string): PendingRequest[] {
  const store = storeAt(stateDir);
  if (store) return store.pendingRequests();
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
      let fd: number | undefined;
      try {
        fd = openSync(join(dir, `${id}.json`), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        const stat = fstatSync(fd);
        if (!stat.isFile() || stat.nlink !== 1) return { id, uid: stat.uid, problem: 'the request is not a plain file of its own' };
        const parsed = parseRequest(readFileSync(fd, 'utf8'));
        return 'request' in parsed ? { id, uid: stat.uid, request: parsed.request } : { id, uid: stat.uid, problem: parsed.problem };
      } catch {
        return { id, uid: -1, problem: 'the request could not be read (a link, or not readable)' };
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    });
}

/** Answers older than this are removed by the driver: the sender waited at most seconds for them. */
const ANSWER_KEPT_MS = 24 * 3_600_000;

/** Remove old answers (each request's record is its journal line; the answer only told the sender). */
export function pruneAnswers(stateDir: string, now = Date.now()): void {
  const store = storeAt(stateDir);
  if (store) return store.pruneAnswers(now);
  const dir = inboxDir(stateDir);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.answer')) continue;
    const path = join(dir, name);
    try {
      if (now - lstatSync(path).mtimeMs > ANSWER_KEPT_MS) rmSync(path, { force: true });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

/** Answer a request and remove it (the answer stays as the record that it was handled). */
export function answerRequest(stateDir: string, id: string, answer: InboxAnswer): void {
  const store = storeAt(stateDir);
  if (store) return store.answerRequest(id, answer);
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
  const store = storeAt(stateDir);
  const path = join(inboxDir(stateDir), `${id}.answer`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (store) {
      const answer = store.readAnswer(id);
      if (answer) return answer;
    } else if (existsSync(path)) {
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
