import type { RunContext, RunEvent } from '../../machines/machine.js';
import { authorityOf, authorize, type GateAct } from '../engine/authority.js';
import { EXIT, ExitError } from '../engine/errors.js';
import { checkClaim, type Identity } from '../engine/identity.js';
import { whoActs } from '../engine/run-store.js';
import { awaitAnswer, postRequest, type InboxRequest } from '../engine/inbox.js';
import { readLock } from '../engine/lock.js';
import { peekRun } from '../engine/peek.js';
import type { Runner } from '../engine/runner.js';
import { isoTime } from '../engine/time-format.js';
import { describeLocation, locate } from '../engine/view.js';
import type { Io } from './io.js';
import { openRunner, type Session } from './session.js';

/** How long a sender waits for the driving process to answer before leaving the request queued. */
const ANSWER_WAIT_MS = 10_000;

/** Who runs the command and where its words go: the account (set by in-process tests only) and the output. */
export type Sayer = Pick<Io, 'account' | 'out'> & {
  /** One JSON object on stdout (what was recorded, where the run stands) instead of sentences. */
  json?: boolean;
};

/**
 * The person running the command, as the OS (team mode: the state database's login) recognises them, checked against the plan's authority
 * for this act (exit 2 naming who may), then against `--by` if it was given.
 */
export function establishActor(session: Pick<Session, 'plan' | 'stateDir'>, io: Pick<Io, 'account'>, act: GateAct, by: string | undefined, typed: { phrase?: string } = {}): Identity {
  const identity = whoActs(session.plan, session.stateDir, io.account);
  const verdict = authorize(authorityOf(session.plan), identity, act, typed);
  if (!verdict.ok) throw new ExitError(verdict.message, EXIT.usage);
  checkClaim(identity, by);
  return identity;
}

/**
 * Sign-offs, confirmations, retries, skips and rollback requests: restore the run, record the event
 * (journal first), persist, stop. Actions it makes due are not run here but by the next `cutover run`.
 * When another process drives the run, the event goes to it through the inbox instead, and that
 * process applies it within a second (exit 0 applied, 2 refused, 3 still queued). Lines go to `io.out`
 * as they happen: a hand-over waits up to 10 s for its answer, and the person reads why meanwhile.
 */
export async function sendEvent(
  session: Session,
  io: Sayer,
  command: string,
  by: string | undefined,
  build: (now: number, frozen: boolean, print: boolean) => RunEvent,
  typed: { phrase?: string } = {},
): Promise<number> {
  // Judged before the lock is taken, on the stored state (read, not driven).
  const draft = build(session.clock.now(), storedFrozen(session), false);
  const identity = establishActor(session, io, draft, by, typed);
  let runner: Runner;
  try {
    runner = openRunner(session, 'command', command);
  } catch (error) {
    if (error instanceof ExitError && error.exitCode === EXIT.locked) return handToDriver(session, io.out, { event: draft, ...typed, command }, io.json);
    throw error;
  }
  try {
    // In command mode a step the state shows as running is held, not run: the event applies (or is
    // refused with the reason) and the step runs, if still due, in the next `cutover run`.
    runner.start();
    const event = build(session.clock.now(), runner.context().frozen, true);
    runner.send(event, { identity, ...typed });
    const next = describeLocation(runner.snapshot(), session.clock.now(), session.plan.t0.zone, { held: true });
    if (io.json) {
      const zone = session.plan.t0.zone;
      const location = locate(runner.snapshot());
      const { at, phrase: _phrase, ...fields } = event as RunEvent & { at?: number; phrase?: string };
      io.out(JSON.stringify({
        command,
        recorded: { ...fields, by: identity.name, ...(at !== undefined ? { at: isoTime(at, zone) } : {}), journalLine: runner.journal.lastSeq },
        next: { ...location, ...(location.until !== undefined ? { until: isoTime(location.until, zone) } : {}), message: next },
        exitCode: EXIT.ok,
      }));
    } else {
      io.out(`Recorded: ${describeEvent(event)} by ${identity.name} (journal line ${runner.journal.lastSeq}).`);
      io.out(next);
    }
    return EXIT.ok;
  } finally {
    runner.close();
  }
}

/** What a recording command recorded, in words ("the sign-off of window.go"). */
function describeEvent(event: RunEvent): string {
  switch (event.type) {
    case 'SIGNOFF':
      return `${event.reject ? 'the rejection' : 'the sign-off'} of ${event.stepId}`;
    case 'CONFIRM':
      return `the confirmation of ${event.stepId}`;
    case 'RETRY':
      return `a retry of ${event.stepId}`;
    case 'SKIP':
      return `the skip of ${event.stepId} ("${event.reason}")`;
    case 'ROLLBACK':
      return 'the rollback request';
    case 'ABORT':
      return 'the abort';
    default:
      return 'the new plan settings';
  }
}

/** Whether the stored run has entered the freeze (a fresh or unreadable state: not yet). */
export function storedFrozen(session: Pick<Session, 'stateDir' | 'plan'>): boolean {
  try {
    return Boolean((peekRun(session.stateDir, session.plan).snapshot.context as RunContext).frozen);
  } catch {
    return false;
  }
}

/**
 * Another process holds the lock: leave the request in the inbox and wait for that process's answer.
 * Exit 0 applied, 2 refused (its message), 3 not answered yet (it stays queued for whoever drives next).
 */
export async function handToDriver(session: Pick<Session, 'stateDir'>, say: (line: string) => void, request: Omit<InboxRequest, 'postedAt'>, json = false): Promise<number> {
  const holder = readLock(session.stateDir);
  const driver = holder ? `${holder.user}@${holder.host} (pid ${holder.pid}, "${holder.command}")` : 'another process';
  const id = postRequest(session.stateDir, { ...request, postedAt: new Date().toISOString() });
  // In JSON the one object comes once the answer is in (or the wait is over).
  const handed = { command: request.command, handedTo: driver, request: id };
  if (!json) say(`${driver} drives this run: handed "${request.command}" to it.`);
  const answer = await awaitAnswer(session.stateDir, id, ANSWER_WAIT_MS);
  if (!answer) {
    const message = `No answer within ${ANSWER_WAIT_MS / 1000} s: the request stays queued (${id}) and is applied by whichever process drives the run next. Check with: cutover status`;
    say(json ? JSON.stringify({ ...handed, applied: false, queued: true, message, exitCode: EXIT.gate }) : message);
    return EXIT.gate;
  }
  if (!answer.ok) throw new ExitError(answer.message, EXIT.usage);
  say(json ? JSON.stringify({ ...handed, applied: true, message: answer.message, exitCode: EXIT.ok }) : answer.message);
  return EXIT.ok;
}

export const signoff = (session: Session, io: Sayer, stepId: string, options: { by?: string; note?: string; reject?: boolean }) =>
  sendEvent(session, io, `cutover signoff ${stepId}`, options.by, (at) => ({
    type: 'SIGNOFF',
    stepId,
    by: options.by ?? '',
    at,
    ...(options.note ? { note: options.note } : {}),
    ...(options.reject ? { reject: true } : {}),
  }));

export const confirm = (session: Session, io: Sayer, stepId: string, options: { by?: string; phrase: string }) =>
  sendEvent(session, io, `cutover confirm ${stepId}`, options.by, (at) => ({ type: 'CONFIRM', stepId, by: options.by ?? '', phrase: options.phrase, at }));

export const retry = (session: Session, io: Sayer, stepId: string) =>
  sendEvent(session, io, `cutover retry ${stepId}`, undefined, (at) => ({ type: 'RETRY', stepId, at }));

export const skip = (session: Session, io: Sayer, stepId: string, options: { by?: string; reason: string }) =>
  sendEvent(session, io, `cutover skip ${stepId}`, options.by, (at) => ({ type: 'SKIP', stepId, by: options.by ?? '', reason: options.reason, at }));

/**
 * Before the freeze there is nothing to roll back: the same request aborts the cutover instead. Both
 * need a rollback approver and the typed rollback phrase. Handed to a driver, the driver's state
 * decides which it is. `aborting` is told before the event is sent, so the operator reads why first.
 */
export const rollback = (session: Session, io: Sayer, options: { by?: string; reason: string; phrase?: string }, aborting: () => void) =>
  sendEvent(
    session,
    io,
    'cutover rollback',
    options.by,
    (at, frozen, print) => {
      if (print && !frozen) aborting();
      return { type: frozen ? 'ROLLBACK' : 'ABORT', by: options.by ?? '', reason: options.reason, at };
    },
    options.phrase !== undefined ? { phrase: options.phrase } : {},
  );
