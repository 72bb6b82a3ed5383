import type { Plan } from '../../config/schema.js';
import type { Clock } from '../../engine/clock.js';
import { assertionLine, checkAssertion, type Assertion } from '../../engine/assertion.js';
import type { Identity } from '../../engine/identity.js';
import { Journal, type JournalEntry } from '../../engine/journal.js';
import { acquireLock } from '../../engine/lock.js';
import { decideOnEvidence, type DecisionOutput } from './review.js';
import { readRunEvidence } from './run-evidence.js';

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
  const lock = acquireLock(session.stateDir, `cutover decide --${request.withdraw ? 'withdraw' : 'assert'} ${request.name}`);
  try {
    const journal = Journal.open(session.stateDir);
    if (lock.tookOverFrom) {
      const from = lock.tookOverFrom;
      journal.append(session.clock.now(), 'lock.taken-over', { from: `${from.user}@${from.host} pid ${from.pid}` });
    }
    const line = assertionLine(session.plan, request.identity, request, journal.entries);
    return journal.append(session.clock.now(), line.type, line.fields);
  } finally {
    lock.release();
  }
}
