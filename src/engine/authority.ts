import type { RunEvent } from '../../machines/machine.js';
import { allSteps, branchPhase } from '../../machines/runbook.js';
import { runbookOfPlan } from '../config/custom-steps.js';
import { approverNames, peopleOf, sameName, type Person } from '../config/people.js';
import type { Plan } from '../config/schema.js';
import { rollbackPhrase, settingsFromPlan } from '../config/settings.js';
import { describeIdentity, type Identity } from './identity.js';

/**
 * Who may do what at the run's gates, from the plan alone (pure: no disk, no clock). Every event a
 * person sends is judged here before the machine sees it; the machine then judges whether the run is
 * in a state where the event applies.
 */
export interface Authority {
  people: Person[];
  /** Per step: the approvers of its sign-off, confirmation or decision. */
  approvers: Record<string, string[]>;
  /** Who may skip an ordinary step (action, e-mail, recurring check). */
  skip: string[];
  /** Who may roll back or abort: the approvers of the rollback branch's decision (rollback.decide). */
  rollback: string[];
  /** Who may assert or withdraw a human-only decision input: the approvers of the decisions it feeds. */
  assert: string[];
  /** The phrase typed to roll back or abort. */
  rollbackPhrase: string;
  /** Steps whose skip or retry passes a person's gate (sign-offs, confirmations, decisions, the plan's sign-offs too). */
  gates: string[];
}

// Read from the runbook's declared kinds, not step ids: the first-day review and the rollback's decision.
const decisionIds = () => allSteps().filter((step) => step.kind === 'decision').map((step) => step.id);
const rollbackDecisionId = () => branchPhase('rollback').steps.find((step) => step.kind === 'decision')?.id;

export function authorityOf(plan: Plan): Authority {
  const { signoff } = settingsFromPlan(plan);
  const approvers = Object.fromEntries(Object.entries(signoff).map(([stepId, rule]) => [stepId, rule.approvers]));
  const rollbackDecision = rollbackDecisionId();
  return {
    people: peopleOf(plan),
    approvers,
    skip: approverNames(plan, plan.approvers.skip ?? plan.approvers.default),
    rollback: rollbackDecision ? (approvers[rollbackDecision] ?? []) : [],
    assert: [...new Set(decisionIds().flatMap((id) => approvers[id] ?? []))],
    rollbackPhrase: rollbackPhrase(plan),
    gates: runbookOfPlan(plan)
      .allSteps()
      .filter((step) => step.kind === 'signoff' || step.kind === 'confirm' || step.kind === 'decision')
      .map((step) => step.id),
  };
}

/** What a person asks for: a machine event, or a human-only decision input (`cutover decide --assert`). */
export type GateAct = RunEvent | { type: 'ASSERT' | 'WITHDRAW'; input: string };

export type Verdict = { ok: true } | { ok: false; message: string; mayAct: string[] };

/** Steps whose skip or retry passes a person's gate: the same people must agree to pass it otherwise. */
const isGate = (authority: Authority, stepId: string): boolean => authority.gates.includes(stepId);

/** Who may act, and in what words to say so when someone else tries. */
function required(authority: Authority, act: GateAct): { who: string[] | 'anyone'; what: string; why: string } {
  switch (act.type) {
    case 'SIGNOFF':
      return { who: authority.approvers[act.stepId] ?? [], what: `sign off ${act.stepId}`, why: `${act.stepId} is signed by its approvers` };
    case 'CONFIRM':
      return { who: authority.approvers[act.stepId] ?? [], what: `confirm ${act.stepId}`, why: `${act.stepId} is confirmed by its approvers` };
    case 'SKIP':
      return isGate(authority, act.stepId)
        ? { who: authority.approvers[act.stepId] ?? [], what: `skip ${act.stepId}`, why: `skipping a gate needs one of the people who could pass it` }
        : { who: authority.skip, what: `skip ${act.stepId}`, why: 'the plan says who may skip a step (approvers.skip)' };
    case 'RETRY':
      // Re-running a failed action repeats what the plan already approved; re-opening a rejected
      // sign-off or decision undoes a person's "no", so it needs the step's approvers.
      return isGate(authority, act.stepId)
        ? { who: authority.approvers[act.stepId] ?? [], what: `re-open ${act.stepId}`, why: `re-opening a rejected gate needs its approvers` }
        : { who: 'anyone', what: `retry ${act.stepId}`, why: '' };
    case 'ROLLBACK':
    case 'ABORT':
      return { who: authority.rollback, what: act.type === 'ROLLBACK' ? 'roll back' : 'abort the cutover', why: `the approvers of ${rollbackDecisionId() ?? 'the rollback decision'} decide that` };
    case 'ASSERT':
    case 'WITHDRAW':
      return { who: authority.assert, what: `${act.type === 'ASSERT' ? 'assert' : 'withdraw'} ${act.input}`, why: `the approvers of ${decisionIds().join(' and ')} decide on the evidence` };
    case 'REPLAN':
      return { who: [], what: 'change the plan', why: 'the plan changes only by editing the plan file' };
  }
}

/** "Ana Ruiz (OS account ana), Ben Okafor (OS account ben)". */
export function describePeople(authority: Authority, names: readonly string[]): string {
  return names
    .map((name) => {
      const person = authority.people.find((candidate) => sameName(candidate.name, name));
      return person && person.os !== person.name ? `${person.name} (OS account ${person.os})` : `${name}`;
    })
    .join(', ');
}

/**
 * May this identity do this? Rollback and abort also need the typed rollback phrase, because they
 * stop a cutover that may be half done and tell every user.
 */
export function authorize(authority: Authority, identity: Identity, act: GateAct, typed: { phrase?: string } = {}): Verdict {
  const rule = required(authority, act);
  if (rule.who !== 'anyone') {
    const allowed = identity.known && rule.who.some((name) => sameName(name, identity.name));
    if (!allowed) {
      return {
        ok: false,
        mayAct: rule.who,
        message: (
          `${describeIdentity(identity)} may not ${rule.what}: ${rule.why}. ` +
          (rule.who.length ? `Who may: ${describePeople(authority, rule.who)}.` : act.type === 'REPLAN' ? '' : 'Nobody in the plan may; add approvers to the plan.')
        ).trim(),
      };
    }
  }
  if ((act.type === 'ROLLBACK' || act.type === 'ABORT') && typed.phrase !== authority.rollbackPhrase) {
    return {
      ok: false,
      mayAct: rule.who === 'anyone' ? [] : rule.who,
      message: `To ${rule.what}, type the phrase exactly: --phrase "${authority.rollbackPhrase}"${typed.phrase ? ` (you typed "${typed.phrase}")` : ''}.`,
    };
  }
  return { ok: true };
}
