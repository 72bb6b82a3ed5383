import type { Plan } from '../../config/schema.js';
import { settingsFromPlan } from '../../config/settings.js';
import type { Clock } from '../../engine/clock.js';
import { ExitError, EXIT } from '../../engine/errors.js';
import { Journal, type JournalEntry } from '../../engine/journal.js';
import { acquireLock } from '../../engine/lock.js';
import { assertionsInForce, ASSERTED, HUMAN_INPUTS, WITHDRAWN, type HumanInputName } from './decision-inputs.js';
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

/** Who may assert a human-only input: the approvers of the decisions it feeds. */
export function assertionApprovers(plan: Plan): string[] {
  const { signoff } = settingsFromPlan(plan);
  return [...new Set([...(signoff['review.decision']?.approvers ?? []), ...(signoff['rollback.decide']?.approvers ?? [])])];
}

export interface AssertionRequest {
  /** As typed: security-breach, db-corruption or auth-broken. */
  name: string;
  by: string;
  note?: string;
  /** Withdraw an earlier assertion instead (a mistake, or the problem was ruled out). */
  withdraw?: boolean;
}

export function recordAssertion(session: DecideSession, request: AssertionRequest): JournalEntry {
  const names = Object.keys(HUMAN_INPUTS);
  if (!(request.name in HUMAN_INPUTS)) {
    throw new ExitError(`"${request.name}" is not something a person can assert here. Use one of: ${names.join(', ')}.`, EXIT.usage);
  }
  const input = HUMAN_INPUTS[request.name as HumanInputName];
  const approvers = assertionApprovers(session.plan);
  if (!approvers.includes(request.by)) {
    throw new ExitError(
      `${request.by} is not an approver of review.decision or rollback.decide, so cannot ${request.withdraw ? 'withdraw' : 'assert'} ${request.name}. Approvers: ${approvers.join(', ')}.`,
      EXIT.usage,
    );
  }
  // Refuse before taking the lock: a typo in the state folder must not create an empty run.
  readRunEvidence(session.plan, session.stateDir, `${request.name} cannot be recorded`);
  const lock = acquireLock(session.stateDir, `cutover decide --${request.withdraw ? 'withdraw' : 'assert'} ${request.name}`);
  try {
    const journal = Journal.open(session.stateDir);
    if (lock.tookOverFrom) {
      const from = lock.tookOverFrom;
      journal.append(session.clock.now(), 'lock.taken-over', { from: `${from.user}@${from.host} pid ${from.pid}` });
    }
    if (request.withdraw && !assertionsInForce(journal.entries)[input]) {
      throw new ExitError(`Nobody has asserted ${request.name}: there is nothing to withdraw.`, EXIT.usage);
    }
    return journal.append(session.clock.now(), request.withdraw ? WITHDRAWN : ASSERTED, {
      input,
      name: request.name,
      by: request.by,
      note: request.note ?? '',
    });
  } finally {
    lock.release();
  }
}
