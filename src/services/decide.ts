import { allSteps } from '../../machines/runbook.js';
import type { Plan } from '../config/schema.js';
import { settingsFromPlan } from '../config/settings.js';
import type { Clock } from '../engine/clock.js';
import { ExitError, EXIT } from '../engine/errors.js';
import type { JournalEntry } from '../engine/journal.js';
import { appendUnderLock } from '../engine/locked-journal.js';
import { assertionsInForce, ASSERTED, HUMAN_INPUTS, WITHDRAWN, type HumanInputName } from '../steps/checks/decision-inputs.js';
import { decideOnEvidence, type DecisionOutput } from '../steps/checks/review.js';
import { readRunEvidence } from '../steps/checks/run-evidence.js';

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

/** The decision steps of the runbook (the first-day review, the rollback's decision). */
const decisionSteps = () => allSteps().filter((step) => step.kind === 'decision').map((step) => step.id);

/** Who may assert a human-only input: the approvers of the decisions it feeds. */
export function assertionApprovers(plan: Plan): string[] {
  const { signoff } = settingsFromPlan(plan);
  return [...new Set(decisionSteps().flatMap((id) => signoff[id]?.approvers ?? []))];
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
      `${request.by} is not an approver of ${decisionSteps().join(' or ')}, so cannot ${request.withdraw ? 'withdraw' : 'assert'} ${request.name}. Approvers: ${approvers.join(', ')}.`,
      EXIT.usage,
    );
  }
  // Refuse before taking the lock: a typo in the state folder must not create an empty run.
  readRunEvidence(session.plan, session.stateDir, `${request.name} cannot be recorded`);
  const command = `cutover decide --${request.withdraw ? 'withdraw' : 'assert'} ${request.name}`;
  return appendUnderLock(session.stateDir, command, () => session.clock.now(), (journal) => {
    if (request.withdraw && !assertionsInForce(journal.entries)[input]) {
      throw new ExitError(`Nobody has asserted ${request.name}: there is nothing to withdraw.`, EXIT.usage);
    }
    return journal.append(session.clock.now(), request.withdraw ? WITHDRAWN : ASSERTED, {
      input,
      name: request.name,
      by: request.by,
      note: request.note ?? '',
    });
  });
}

export interface DecideRequest {
  /** security-breach | db-corruption | auth-broken: record this human-only input first. */
  assert?: string;
  withdraw?: string;
  by?: string;
  note?: string;
}

/**
 * `cutover decide`: record an assertion or withdrawal when asked, then the verdict on the evidence.
 * Flag mistakes are refused before anything is written.
 */
export function decide(session: DecideSession, request: DecideRequest): { decision: RunDecision; recorded?: JournalEntry } {
  if (request.assert && request.withdraw) throw new ExitError('Give --assert or --withdraw, not both.', EXIT.usage);
  const name = request.assert ?? request.withdraw;
  if (name && !request.by) throw new ExitError(`--by NAME is required with --${request.assert ? 'assert' : 'withdraw'}: an assertion names who makes it.`, EXIT.usage);
  if (!name && (request.by || request.note)) throw new ExitError('--by and --note go with --assert or --withdraw.', EXIT.usage);
  const recorded = name
    ? recordAssertion(session, { name, by: request.by!, ...(request.note ? { note: request.note } : {}), ...(request.withdraw ? { withdraw: true } : {}) })
    : undefined;
  return { decision: decideRun(session), ...(recorded ? { recorded } : {}) };
}
