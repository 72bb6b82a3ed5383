import type { AnyMachineSnapshot } from 'xstate';
import {
  approvals,
  dueRecurring,
  expectedPhrase,
  hasSigned,
  isApprover,
  mayAbort,
  mayRollback,
  phraseMatches,
  ruleFor,
  runbookOf,
  stateKey,
  timingOf,
  type RunContext,
  type RunEvent,
  type StepRecord,
} from '../../machines/machine.js';
import type { Runbook, StepKind } from '../../machines/runbook.js';
import { occurrences, phaseOpensAt, plannedAt } from '../../machines/schedule.js';
import { peopleTime } from './time-format.js';

/** Where a run stands, read from the machine's state value. */
export interface Location {
  phaseId?: string;
  stepId?: string;
  /** The step's sub-state: gate, running, waiting, confirming, failed, unknown, rejected, attention… */
  sub?: string;
  /** At a time gate: when it opens (ms). */
  until?: number;
  ended?: 'completed' | 'rolledBack' | 'aborted';
}

/** Step ids by state key, per runbook (the built-in one, or a plan's with its own steps). */
const stepKeys = new WeakMap<Runbook, Map<string, string>>();

function stepByKey(book: Runbook, key: string): string | undefined {
  let keys = stepKeys.get(book);
  if (!keys) stepKeys.set(book, (keys = new Map(book.allSteps().map((step) => [stateKey(step.id), step.id] as const))));
  return keys.get(key);
}

export function locate(snapshot: AnyMachineSnapshot): Location {
  const context = snapshot.context as RunContext;
  let value: unknown = snapshot.value;
  if (typeof value === 'string') return { ended: value as Location['ended'] };
  const top = Object.keys(value as object)[0]!;
  value = (value as Record<string, unknown>)[top];
  let phaseId = top;
  if (top === 'main') {
    phaseId = typeof value === 'string' ? value : Object.keys(value as object)[0]!;
    value = typeof value === 'string' ? undefined : (value as Record<string, unknown>)[phaseId];
  }
  const book = runbookOf(snapshot);
  const phase = book.findPhase(phaseId);
  if (!phase) return { phaseId };
  if (phase.steps.every((step) => step.kind === 'recurring')) {
    const due = dueRecurring(context, phaseId);
    const sub = typeof value === 'string' ? value : undefined;
    return { phaseId, stepId: due?.stepId, sub, ...(sub === 'waiting' && due ? { until: due.at } : {}) };
  }
  if (value === 'gate') return { phaseId, sub: 'gate', until: phaseOpensAt(timingOf(context), phaseId) };
  if (value && typeof value === 'object') {
    const key = Object.keys(value)[0]!;
    const sub = (value as Record<string, unknown>)[key];
    return { phaseId, stepId: stepByKey(book, key), sub: typeof sub === 'string' ? sub : undefined };
  }
  return { phaseId };
}

/**
 * Steps the plan adds behind where the run stands, with no record: added after the run passed their
 * place, they will not run (the machine does not go back). Empty in a branch or at the end.
 */
export function planStepsPassed(snapshot: AnyMachineSnapshot): string[] {
  const location = locate(snapshot);
  const book = runbookOf(snapshot);
  if (location.ended || !location.phaseId || !book.mainPhases.some((phase) => phase.id === location.phaseId)) return [];
  const order = book.mainPhases.flatMap((phase) => phase.steps.map((step) => ({ step, phaseId: phase.id })));
  const here = location.stepId ? order.findIndex((entry) => entry.step.id === location.stepId) : order.findIndex((entry) => entry.phaseId === location.phaseId);
  const steps = (snapshot.context as RunContext).steps;
  return order
    .slice(0, Math.max(0, here))
    .filter((entry) => entry.step.addedByPlan && !steps[entry.step.id])
    .map((entry) => entry.step.id);
}

export type StepStatus = 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'skipped' | 'unknown' | 'rejected' | 'attention';

export interface StepView {
  id: string;
  phaseId: string;
  title: string;
  kind: StepKind;
  description: string;
  status: StepStatus;
  /** What the step waits for, when it waits. */
  waitingFor?: 'signoff' | 'confirm' | 'time';
  plannedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  attempts: number;
  summary?: string;
  error?: string;
  signoffs: StepRecord['signoffs'];
  approvers: string[];
  quorum: number;
  skipped?: StepRecord['skipped'];
  confirmedBy?: StepRecord['confirmedBy'];
  /** Recurring steps: runs made, missed and planned in all. */
  runs?: { done: number; missed: number; total: number };
}

export interface PhaseView {
  id: string;
  title: string;
  opensAt?: number;
  branch: boolean;
  steps: StepView[];
}

export interface RunView {
  runId: string;
  now: number;
  t0: number;
  switchedAt?: number;
  location: Location;
  /** One line: what the run is doing or waiting for. */
  headline: string;
  rollbackPossible: boolean;
  abortPossible: boolean;
  /** The step that marks the freeze: past it, the cutover can only finish or roll back. */
  pointOfNoReturn: { stepId: string; passed: boolean };
  rollback?: RunContext['rollback'];
  abort?: RunContext['abort'];
  phases: PhaseView[];
}

function statusOf(record: StepRecord | undefined, current: boolean, sub: string | undefined): StepStatus {
  if (current) {
    if (sub === 'running' || sub === 'evaluating') return 'running';
    if (sub === 'failed') return 'failed';
    if (sub === 'unknown') return 'unknown';
    if (sub === 'rejected') return 'rejected';
    if (sub === 'attention') return 'attention';
    if (sub === 'waiting' || sub === 'confirming') return 'waiting';
  }
  switch (record?.status) {
    case 'done':
    case 'skipped':
    case 'failed':
    case 'unknown':
    case 'rejected':
      return record.status;
    default:
      return 'pending';
  }
}

/** `zone`: the plan's time zone, in which the headline names times ("Waiting until Dec 04 22:00:00 -05:00"). */
export function buildView(snapshot: AnyMachineSnapshot, now: number, zone: string): RunView {
  const context = snapshot.context as RunContext;
  const location = locate(snapshot);
  const timing = timingOf(context);
  const book = runbookOf(snapshot);
  const phases: PhaseView[] = book.phases.map((phase) => ({
    id: phase.id,
    title: phase.title,
    opensAt: phaseOpensAt(timing, phase.id),
    branch: Boolean(phase.branch),
    steps: phase.steps.map((step) => {
      const record = context.steps[step.id];
      const current = location.stepId === step.id;
      const recurring = step.kind === 'recurring';
      let status = statusOf(record, current, location.sub);
      if (recurring && !current && record?.status === 'done') {
        status = (context.recurring[step.id] ?? 0) >= occurrences(timing, phase.id, step).length ? 'done' : 'pending';
      }
      if (recurring && current && location.sub === 'waiting') status = 'waiting';
      const rule = ruleFor(context, step.id);
      const waitingFor =
        current && location.sub === 'confirming'
          ? ('confirm' as const)
          : current && (location.sub === 'waiting' || location.sub === 'attention')
            ? recurring && location.sub === 'waiting'
              ? ('time' as const)
              : ('signoff' as const)
            : undefined;
      return {
        id: step.id,
        phaseId: phase.id,
        title: step.title,
        kind: step.kind,
        description: step.description,
        status,
        ...(waitingFor ? { waitingFor } : {}),
        plannedAt: plannedAt(timing, phase.id, step),
        startedAt: record?.startedAt,
        finishedAt: record?.finishedAt ?? lastSignoff(record),
        attempts: record?.attempts ?? 0,
        summary: record?.summary,
        error: record?.error,
        signoffs: record?.signoffs ?? [],
        approvers: rule.approvers,
        quorum: rule.quorum,
        skipped: record?.skipped,
        confirmedBy: record?.confirmedBy,
        ...(recurring
          ? { runs: { done: record?.runs ?? 0, missed: record?.missed ?? 0, total: occurrences(timing, phase.id, step).length } }
          : {}),
      };
    }),
  }));
  const ended = snapshot.status === 'done';
  const branch = location.phaseId ? book.findPhase(location.phaseId)?.branch : undefined;
  return {
    runId: context.runId,
    now,
    t0: context.t0,
    switchedAt: context.switchedAt,
    location,
    headline: describeLocation(snapshot, now, zone),
    rollbackPossible: !ended && mayRollback(context) && branch !== 'rollback',
    abortPossible: !ended && mayAbort(context) && branch !== 'abort',
    pointOfNoReturn: { stepId: book.stepMarked('marksFreeze').id, passed: context.frozen },
    rollback: context.rollback,
    abort: context.abort,
    phases,
  };
}

function lastSignoff(record: StepRecord | undefined): number | undefined {
  return record?.signoffs.at(-1)?.at;
}

/**
 * One line saying what the run waits for, for exit-3 messages, `status` and the UI header; times in the
 * plan's zone. `held`: said by a command that records and exits, so a due step is not running but waits
 * for the next `cutover run`. `errorShown`: the failure was just printed whole, so it is not repeated.
 * `command: false`: without the command that moves the run on (the closing summary names it on a line
 * of its own, from `nextCommand`).
 */
export function describeLocation(snapshot: AnyMachineSnapshot, now: number, zone: string, { held = false, errorShown = false, command = true } = {}): string {
  const context = snapshot.context as RunContext;
  const location = locate(snapshot);
  if (location.ended === 'completed') return 'The cutover is complete.';
  if (location.ended === 'rolledBack') return 'The rollback is complete: the old system is live again.';
  if (location.ended === 'aborted') return 'The cutover was aborted before the freeze; nothing was migrated.';
  const { stepId, sub } = location;
  const step = stepId ? runbookOf(snapshot).findStep(stepId)?.step : undefined;
  if (location.until !== undefined && (sub === 'gate' || (sub === 'waiting' && step?.kind === 'recurring'))) {
    const what = sub === 'gate' ? `phase ${location.phaseId} opens` : `${stepId} run ${(context.recurring[stepId!] ?? 0) + 1} is due`;
    const left = location.until - now;
    return `Waiting until ${peopleTime(location.until, zone)} (${left > 0 ? `in ${formatLeft(left)}` : 'now'}): ${what}.`;
  }
  if (!stepId || !step) return `At ${location.phaseId ?? 'the start'}.`;
  const record = context.steps[stepId];
  const rule = ruleFor(context, stepId);
  const then = (lead: string) => (command ? ` ${lead}${nextCommand(snapshot)}` : '');
  switch (sub) {
    case 'waiting':
    case 'attention': {
      const have = approvals(record);
      const why = sub === 'attention' && record?.attention ? ` Attention: ${record.attention.reason}.` : '';
      return `Waiting for sign-off of ${stepId} by ${rule.quorum} of ${rule.approvers.join(', ')} (${have.length} so far${have.length ? `: ${have.join(', ')}` : ''}).${why}${then('Sign off with: ')}`;
    }
    case 'confirming':
      return `Waiting for a typed confirmation of ${stepId}${command ? `: ${nextCommand(snapshot)}` : '.'}`;
    case 'failed':
      return `${stepId} failed${errorShown ? ' (the error is above)' : `: ${(record?.error ?? 'unknown error').replace(/\.$/, '')}`}.${then('Fix the cause, then: ')}`;
    case 'unknown':
      return `${stepId}: outcome unknown. ${record?.error ?? ''}`;
    case 'rejected': {
      const rejection = record?.signoffs.findLast((s) => s.reject);
      return `${stepId} was rejected by ${rejection?.by ?? 'an approver'}${rejection?.note ? ` ("${rejection.note}")` : ''}.${then('Re-open it with: ')}`;
    }
    default:
      return held ? `Next: ${stepId}, which runs at the next \`cutover run\` (or now, if a driver such as the UI is open).` : `Running ${stepId}.`;
  }
}

/**
 * The command a person runs to move the run on where it waits for one (a sign-off, a typed
 * confirmation, a failed, unknown or rejected step); undefined where \`cutover run\` goes on by itself.
 */
export function nextCommand(snapshot: AnyMachineSnapshot): string | undefined {
  const { stepId, sub } = locate(snapshot);
  const step = stepId ? runbookOf(snapshot).findStep(stepId)?.step : undefined;
  if (!stepId || !step) return undefined;
  switch (sub) {
    case 'waiting':
    case 'attention':
      return `cutover signoff ${stepId} [--note TEXT] [--reject]`;
    case 'confirming':
      return `cutover confirm ${stepId} --phrase "${expectedPhrase(snapshot.context as RunContext, step)}"`;
    case 'failed':
      return `cutover retry ${stepId} (or cutover skip ${stepId} --reason TEXT)`;
    case 'unknown':
      // docs/troubleshooting.md "Outcome unknown": look first (cutover log --step), then one of the two.
      return `cutover skip ${stepId} --reason TEXT if it took effect, cutover retry ${stepId} if it did not (see cutover log --step ${stepId})`;
    case 'rejected':
      return `cutover retry ${stepId}`;
    default:
      return undefined;
  }
}

export function formatLeft(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours}h ${minutes % 60}m` : `${hours}h`;
  return hours % 24 ? `${Math.floor(hours / 24)}d ${hours % 24}h` : `${Math.floor(hours / 24)}d`;
}

/**
 * Why the machine would not take an event, in words that say what to do instead. It asks the
 * machine's own guard predicates (mayRollback, isApprover, phraseMatches…), so the explanation and
 * the refusal cannot disagree.
 */
export function explainRefusal(snapshot: AnyMachineSnapshot, event: RunEvent, now: number, zone: string): string {
  const context = snapshot.context as RunContext;
  const location = locate(snapshot);
  const where = describeLocation(snapshot, now, zone);
  if (location.ended) return `The run has ended. ${where}`;
  const book = runbookOf(snapshot);
  const freeze = book.stepMarked('marksFreeze').id;
  if (event.type === 'ROLLBACK') {
    if (mayAbort(context)) return `Nothing to roll back: the source was never frozen. Before ${freeze} the cutover can only be aborted.`;
    if (!mayRollback(context)) return 'The rollback window has closed (the close phase started).';
    return `A rollback is already under way. ${where}`;
  }
  if (event.type === 'ABORT') {
    if (mayAbort(context)) return `The cutover is already being aborted. ${where}`;
    return 'The source is frozen: the cutover can no longer be aborted, only rolled back (cutover rollback --reason TEXT --phrase "rollback <zone>").';
  }
  if (event.type === 'REPLAN') return 'The plan cannot be re-applied now.';
  const step = book.findStep(event.stepId);
  if (!step) return `There is no step "${event.stepId}". See the step ids with: cutover plan`;
  if (location.stepId !== event.stepId) return `${event.stepId} is not the current step. ${where}`;
  switch (event.type) {
    case 'SIGNOFF': {
      const rule = ruleFor(context, event.stepId);
      if (!isApprover(context, event.stepId, event.by)) return `${event.by} is not an approver of ${event.stepId}. Approvers: ${rule.approvers.join(', ')}.`;
      if (hasSigned(context, event.stepId, event.by)) return `${event.by} has already signed off ${event.stepId}: each person counts once toward the quorum; the other approvers sign as themselves.`;
      return `${event.stepId} is not waiting for a sign-off. ${where}`;
    }
    case 'CONFIRM':
      if (location.sub !== 'confirming') return `${event.stepId} is not waiting for a confirmation. ${where}`;
      if (phraseMatches(context, event.stepId, event.phrase)) return `${event.stepId} cannot take the confirmation now. ${where}`;
      return `The phrase does not match. Type exactly: ${expectedPhrase(context, step.step)}`;
    case 'RETRY':
      return `${event.stepId} has not failed or been rejected, so there is nothing to retry. ${where}`;
    case 'SKIP':
      return `${event.stepId} cannot be skipped while it is running. ${where}`;
  }
}
