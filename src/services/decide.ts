import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
import { assertionLine, checkAssertion, type Assertion } from '../engine/assertion.js';
import { ExitError, EXIT } from '../engine/errors.js';
import type { Identity } from '../engine/identity.js';
import type { JournalEntry } from '../engine/journal.js';
import { appendUnderLock } from '../engine/locked-journal.js';
import { decideOnEvidence, type DecisionOutput } from '../steps/checks/review.js';
import { readRunEvidence } from '../steps/checks/run-evidence.js';
import { establishActor, handToDriver, type Sayer } from './events.js';

/**
 * `cutover decide`: the decision tree on the run's current evidence, read without the lock; and the
 * human-only inputs (security breach, database corruption, auth broken), which a named person asserts
 * or withdraws as a journal line written under the lock. The engine never replays these lines as
 * events: they are evidence, read by every evaluation of the tree.
 */

export interface DecideSession {
  plan: Plan;
  stateDir: string;
  clock: Clock;
}

export interface RunDecision extends DecisionOutput {
  runId: string;
}

export function decideRun(session: DecideSession): RunDecision {
  const evidence = readRunEvidence(session.plan, session.stateDir, 'there is no evidence to decide on');
  const decision = decideOnEvidence(session.plan, evidence.outputs, evidence.journal, evidence.reconciliations, session.clock.now());
  return { runId: evidence.runId, ...decision };
}

export interface AssertionRequest extends Assertion {
  /** Who asserts, as the system recognised them (their authority is checked too). */
  identity: Identity;
}

/** Written under the lock; while another process drives the run, the caller hands it over instead. */
export function recordAssertion(session: DecideSession, request: AssertionRequest): JournalEntry {
  checkAssertion(session.plan, request.identity, request);
  // Refuse before taking the lock: a typo in the state folder must not create an empty run.
  readRunEvidence(session.plan, session.stateDir, `${request.name} cannot be recorded`);
  const command = `cutover decide --${request.withdraw ? 'withdraw' : 'assert'} ${request.name}`;
  return appendUnderLock(session.stateDir, command, () => session.clock.now(), (journal) => {
    const line = assertionLine(session.plan, request.identity, request, journal.entries);
    return journal.append(session.clock.now(), line.type, line.fields);
  });
}

export interface DecideRequest {
  /** security-breach | db-corruption | auth-broken: record this human-only input first. */
  assert?: string;
  withdraw?: string;
  /** Optional: when given it must name the person the system recognised. */
  by?: string;
  note?: string;
}

export type DecideResult =
  | { decision: RunDecision; recorded?: { entry?: JournalEntry; identity: Identity } }
  /** The assertion was handed to the driving process and not (yet) applied: the exit code says why. */
  | { handedOff: number };

/**
 * `cutover decide`: record an assertion or withdrawal when asked (as the person running the command,
 * checked against the plan), then the verdict on the evidence. Flag mistakes are refused before
 * anything is written. While another process drives the run, the assertion is handed to it: the
 * journal has one writer at a time. `io.out` hears about a hand-over while it waits for the answer.
 */
export async function decide(session: DecideSession, io: Sayer, request: DecideRequest): Promise<DecideResult> {
  if (request.assert && request.withdraw) throw new ExitError('Give --assert or --withdraw, not both.', EXIT.usage);
  const name = request.assert ?? request.withdraw;
  if (!name && (request.by || request.note)) throw new ExitError('--by and --note go with --assert or --withdraw.', EXIT.usage);
  if (!name) return { decision: decideRun(session) };
  // Who asserts is the OS account running this; --by, when given, must name that same person.
  const identity = establishActor(session, io, { type: request.withdraw ? 'WITHDRAW' : 'ASSERT', input: name }, request.by);
  const assertion: Assertion = { name, ...(request.note ? { note: request.note } : {}), ...(request.withdraw ? { withdraw: true } : {}) };
  let entry: JournalEntry | undefined;
  try {
    entry = recordAssertion(session, { ...assertion, identity });
  } catch (error) {
    // Another process drives the run: it writes the line.
    if (!(error instanceof ExitError && error.exitCode === EXIT.locked)) throw error;
    const handed = await handToDriver(session, io.out, { assertion, command: `cutover decide --${request.withdraw ? 'withdraw' : 'assert'} ${name}` }, io.json);
    if (handed !== EXIT.ok) return { handedOff: handed };
  }
  return { decision: decideRun(session), recorded: { identity, ...(entry ? { entry } : {}) } };
}
