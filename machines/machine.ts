import { and, assign, fromPromise, setup, type AnyMachineSnapshot, type AnyStateNode, type StateValue } from 'xstate';
import { branchPhase, builtinRunbook, findPhase, findStep, Runbook, type Branch, type Cadence, type PhaseDef, type StepDef, type StepKind } from './runbook.js';
import { dueCount, nextOccurrence, phaseOpensAt, plannedSwitchOffset, type Timing } from './schedule.js';

/**
 * The XState v5 machine derived from the runbook (DESIGN §2). It imports no adapters and touches no
 * disk: actions and waits are invoked actors (`runStep`, `timer`) that the runner provides, and every
 * time it records comes from an event or an actor's output, never from a clock of its own.
 *
 * Waits are absolute: a gate's timer actor gets a deadline computed from the context, so a restored
 * actor that re-runs it sleeps only for what is left.
 *
 * Guards and actions are named in `setup()`; the predicates behind the guards are exported so that
 * `explainRefusal` (src/engine/view.ts) says why an event was refused with the same rules. What is
 * special about a step (the freeze, the switch, a no-go…) is read from its declaration in the
 * runbook, never from its id.
 */

export interface Signoff {
  by: string;
  at: number;
  note?: string;
  reject?: boolean;
}

export interface StepRecord {
  /** Runs started, counting retries and resumed re-runs. */
  attempts: number;
  status?: 'done' | 'skipped' | 'failed' | 'unknown' | 'rejected' | 'attention';
  summary?: string;
  error?: string;
  output?: unknown;
  startedAt?: number;
  finishedAt?: number;
  signoffs: Signoff[];
  confirmedBy?: { by: string; at: number };
  skipped?: { by: string; reason: string; at: number };
  /** Recurring steps: runs finished and runs missed while nothing was running. */
  runs?: number;
  missed?: number;
  attention?: { reason: string; evidence?: unknown };
}

export interface SignoffRule {
  approvers: string[];
  quorum: number;
}

/** What the plan contributes to a run. Sent again (REPLAN) when the plan changes, e.g. T0 moves. */
export interface RunSettings {
  t0: number;
  cadences: Record<Cadence, number>;
  signoff: Record<string, SignoffRule>;
  phrases: { zone: string; rollback: string };
}

export interface RunInput extends RunSettings {
  runId: string;
}

export interface RunContext extends RunInput {
  switchedAt?: number;
  /** The step that marks the freeze was entered: rollback is possible from here on, abort no longer. */
  frozen: boolean;
  /** A phase that closes the rollback window was entered: rollback is no longer possible. */
  closing: boolean;
  steps: Record<string, StepRecord>;
  /** Recurring steps: occurrences accounted for (run, skipped or missed). */
  recurring: Record<string, number>;
  rollback?: { by: string; reason: string; at: number };
  abort?: { by: string; reason: string; at: number };
}

export type RunEvent =
  | { type: 'SIGNOFF'; stepId: string; by: string; at: number; note?: string; reject?: boolean }
  | { type: 'CONFIRM'; stepId: string; by: string; at: number; phrase: string }
  | { type: 'RETRY'; stepId: string; at: number }
  | { type: 'SKIP'; stepId: string; by: string; reason: string; at: number }
  | { type: 'ROLLBACK'; by: string; reason: string; at: number }
  | { type: 'ABORT'; by: string; reason: string; at: number }
  | ({ type: 'REPLAN' } & RunSettings);

export interface RunStepInput {
  stepId: string;
  attempt: number;
  /** Recurring steps: which run this is (1-based) and when it was due. */
  occurrence?: number;
  plannedAt?: number;
}

export interface StepOutcome {
  summary: string;
  output?: unknown;
  attention?: { reason: string; evidence?: unknown };
  startedAt: number;
  finishedAt: number;
}

export interface TimerInput {
  deadline: number;
  /** What is waited for, for the runner's messages. */
  reason: string;
}

/** Thrown by the runner when a non-idempotent step is found started but unfinished. */
export const OUTCOME_UNKNOWN = 'OutcomeUnknownError';

export function stateKey(stepId: string): string {
  return stepId.replaceAll('.', '_');
}

export function timingOf(context: RunContext): Timing {
  return {
    t0: context.t0,
    switchedAt: context.switchedAt,
    plannedSwitch: context.t0 + plannedSwitchOffset(),
    cadences: context.cadences,
  };
}

function record(context: RunContext, stepId: string): StepRecord {
  return context.steps[stepId] ?? { attempts: 0, signoffs: [] };
}

function withStep(context: RunContext, stepId: string, change: (step: StepRecord) => Partial<StepRecord>): Record<string, StepRecord> {
  const current = record(context, stepId);
  return { ...context.steps, [stepId]: { ...current, ...change(current) } };
}

export function ruleFor(context: RunContext, stepId: string): SignoffRule {
  return context.signoff[stepId] ?? { approvers: [], quorum: 1 };
}

/** Sign-offs of the current round: those after the last rejection (earlier ones stay on the record). */
export function currentRound(step: StepRecord | undefined): Signoff[] {
  const signoffs = step?.signoffs ?? [];
  const lastReject = signoffs.findLastIndex((s) => s.reject);
  return signoffs.slice(lastReject + 1);
}

/** Approvals counted toward the quorum: distinct approvers since the step was last re-opened. */
export function approvals(step: StepRecord | undefined): string[] {
  return [...new Set(currentRound(step).map((s) => s.by))];
}

export function expectedPhrase(context: RunContext, step: StepDef): string {
  return step.phrase === 'zone' ? context.phrases.zone : context.phrases.rollback;
}

/** The recurring occurrence that is due next in a phase, if any remain. */
export function dueRecurring(context: RunContext, phaseId: string) {
  return nextOccurrence(timingOf(context), phaseId, context.recurring);
}

// The rules behind the guards. The machine's guards call these; so does explainRefusal.

/** From the freeze until a phase closes the rollback window. */
export const mayRollback = (context: RunContext): boolean => context.frozen && !context.closing;
/** Only before the freeze: after it, the source holds no writes the target lacks only by a rollback. */
export const mayAbort = (context: RunContext): boolean => !context.frozen;
export const isApprover = (context: RunContext, stepId: string, by: string): boolean => ruleFor(context, stepId).approvers.includes(by);
export const hasSigned = (context: RunContext, stepId: string, by: string): boolean => currentRound(context.steps[stepId]).some((s) => s.by === by);
/** This approval (with the round's others) makes the quorum. */
export const reachesQuorum = (context: RunContext, stepId: string, by: string): boolean =>
  new Set([...approvals(context.steps[stepId]), by]).size >= ruleFor(context, stepId).quorum;
export const phraseMatches = (context: RunContext, stepId: string, phrase: string): boolean => {
  const step = findStep(stepId)?.step;
  return step !== undefined && phrase === expectedPhrase(context, step);
};
/** The decision step's recorded verdict is rollback. */
export const verdictIsRollback = (context: RunContext, stepId: string): boolean => {
  const output = context.steps[stepId]?.output;
  return typeof output === 'object' && output !== null && 'verdict' in output && output.verdict === 'rollback';
};
const isOutcomeUnknown = (error: unknown): boolean => error instanceof Error && error.name === OUTCOME_UNKNOWN;
const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Which step an event names, if it names one. */
const eventStep = (event: RunEvent): string | undefined => ('stepId' in event ? event.stepId : undefined);

/** The step of a recurring phase that runs now (or ran last): the one whose occurrence is due. */
function recurringStepOf(context: RunContext, phase: PhaseDef): string {
  return dueRecurring(context, phase.id)?.stepId ?? phase.steps[0]!.id;
}

const cutover = setup({
  types: {
    context: {} as RunContext,
    events: {} as RunEvent,
    input: {} as RunInput,
    tags: {} as 'running' | 'failed' | 'unknown' | 'rejected' | 'waiting:signoff' | 'waiting:confirm' | 'waiting:time' | 'ended',
  },
  actors: {
    runStep: fromPromise<StepOutcome, RunStepInput>(async () => {
      throw new Error('the runner did not provide the runStep actor');
    }),
    timer: fromPromise<{ now: number }, TimerInput>(async () => {
      throw new Error('the runner did not provide the timer actor');
    }),
  },
  guards: {
    /** The event names this step (retry, skip). */
    namesStep: ({ event }, params: { stepId: string }) => eventStep(event) === params.stepId,
    /** A sign-off of this step by an approver who has not signed in this round. */
    signoffCounts: ({ context, event }, params: { stepId: string }) =>
      event.type === 'SIGNOFF' && event.stepId === params.stepId && isApprover(context, params.stepId, event.by) && !hasSigned(context, params.stepId, event.by),
    rejects: ({ event }) => event.type === 'SIGNOFF' && event.reject === true,
    completesQuorum: ({ context, event }, params: { stepId: string }) => event.type === 'SIGNOFF' && reachesQuorum(context, params.stepId, event.by),
    phraseConfirmed: ({ context, event }, params: { stepId: string }) =>
      event.type === 'CONFIRM' && event.stepId === params.stepId && phraseMatches(context, params.stepId, event.phrase),
    verdictIsRollback: ({ context }, params: { stepId: string }) => verdictIsRollback(context, params.stepId),
    mayRollback: ({ context }) => mayRollback(context),
    mayAbort: ({ context }) => mayAbort(context),
    needsAttention: (_, params: { outcome: StepOutcome }) => Boolean(params.outcome.attention),
    outcomeUnknown: (_, params: { error: unknown }) => isOutcomeUnknown(params.error),
    recurringDone: ({ context }, params: { phaseId: string }) => !dueRecurring(context, params.phaseId),
    /** In a recurring phase: this is the step whose run is due (or ran last). */
    isDueStep: ({ context }, params: { phaseId: string; stepId: string }) => {
      const phase = findPhase(params.phaseId);
      return phase !== undefined && recurringStepOf(context, phase) === params.stepId;
    },
  },
  actions: {
    beginAttempt: assign(({ context }, params: { stepId: string }) => ({
      steps: withStep(context, params.stepId, (step) => ({ attempts: step.attempts + 1, status: undefined, error: undefined })),
    })),
    recordOutcome: assign(({ context }, params: { stepId: string; outcome: StepOutcome }) => {
      const { outcome } = params;
      return {
        steps: withStep(context, params.stepId, () => ({
          status: outcome.attention ? ('attention' as const) : ('done' as const),
          summary: outcome.summary,
          output: outcome.output,
          attention: outcome.attention,
          startedAt: outcome.startedAt,
          finishedAt: outcome.finishedAt,
        })),
      };
    }),
    recordError: assign(({ context }, params: { stepId: string; error: unknown }) => ({
      steps: withStep(context, params.stepId, () => ({
        status: isOutcomeUnknown(params.error) ? ('unknown' as const) : ('failed' as const),
        error: errorMessage(params.error),
      })),
    })),
    recordSkip: assign(({ context, event }, params: { stepId: string }) =>
      event.type === 'SKIP' ? { steps: withStep(context, params.stepId, () => ({ status: 'skipped' as const, skipped: { by: event.by, reason: event.reason, at: event.at } })) } : {},
    ),
    recordSignoff: assign(({ context, event }, params: { stepId: string }) => {
      if (event.type !== 'SIGNOFF') return {};
      const signoff: Signoff = { by: event.by, at: event.at, ...(event.note ? { note: event.note } : {}), ...(event.reject ? { reject: true } : {}) };
      return {
        steps: withStep(context, params.stepId, (step) => ({ signoffs: [...step.signoffs, signoff], ...(event.reject ? { status: 'rejected' as const } : {}) })),
      };
    }),
    recordConfirmation: assign(({ context, event }, params: { stepId: string }) =>
      event.type === 'CONFIRM' ? { steps: withStep(context, params.stepId, () => ({ confirmedBy: { by: event.by, at: event.at } })) } : {},
    ),
    /** A re-opened sign-off starts a new round: approvals before the rejection no longer count. */
    reopen: assign(({ context }, params: { stepId: string }) => ({ steps: withStep(context, params.stepId, () => ({ status: undefined })) })),
    /** Approved: a step that needed attention (or only waited) is done; a skip or failure stays on the record. */
    markDone: assign(({ context }, params: { stepId: string }) => ({
      steps: withStep(context, params.stepId, (step) => ({ status: step.status === 'attention' || step.status === undefined ? ('done' as const) : step.status })),
    })),
    /** The switch happened when the step that marks it finished, or was skipped (done by hand). */
    recordSwitchFinished: assign((_, params: { outcome: StepOutcome }) => ({ switchedAt: params.outcome.finishedAt })),
    recordSwitchSkipped: assign(({ event }) => (event.type === 'SKIP' ? { switchedAt: event.at } : {})),
    markFrozen: assign({ frozen: true }),
    markClosing: assign({ closing: true }),
    recordNoGo: assign(({ event }, params: { stepId: string }) =>
      event.type === 'SIGNOFF' ? { abort: { by: event.by, reason: event.note ?? `no-go at ${params.stepId}`, at: event.at } } : {},
    ),
    recordVerdictRollback: assign(({ context, event }, params: { stepId: string }) =>
      event.type === 'SIGNOFF' ? { rollback: { by: event.by, reason: context.steps[params.stepId]?.summary ?? 'decision tree verdict: rollback', at: event.at } } : {},
    ),
    clearRollback: assign({ rollback: undefined }),
    recordRollbackRequest: assign(({ event }) => (event.type === 'ROLLBACK' ? { rollback: { by: event.by, reason: event.reason, at: event.at } } : {})),
    recordAbortRequest: assign(({ event }) => (event.type === 'ABORT' ? { abort: { by: event.by, reason: event.reason, at: event.at } } : {})),
    applyReplan: assign(({ event }) => (event.type === 'REPLAN' ? { t0: event.t0, cadences: event.cadences, signoff: event.signoff, phrases: event.phrases } : {})),
    /** One occurrence of a recurring step accounted for (run, skipped or acknowledged). */
    countRun: assign(({ context }, params: { stepId: string }) => ({
      recurring: { ...context.recurring, [params.stepId]: (context.recurring[params.stepId] ?? 0) + 1 },
      steps: withStep(context, params.stepId, (step) => ({ runs: (step.runs ?? 0) + 1 })),
    })),
    /** After an outage only the latest overdue run is made; the others are counted as missed. */
    countMissed: assign(({ context }, params: { phase: PhaseDef; now: number }) => {
      const recurring = { ...context.recurring };
      const steps = { ...context.steps };
      for (const step of params.phase.steps) {
        const due = dueCount(timingOf(context), params.phase.id, step, params.now);
        const accounted = recurring[step.id] ?? 0;
        if (due - 1 <= accounted) continue;
        const current = record(context, step.id);
        steps[step.id] = { ...current, missed: (current.missed ?? 0) + (due - 1 - accounted) };
        recurring[step.id] = due - 1;
      }
      return { recurring, steps };
    }),
    /** A breach acknowledged by a sign-off: the run counts as done and the next one starts a fresh round. */
    acknowledge: assign(({ context }, params: { stepId: string }) => ({ steps: withStep(context, params.stepId, () => ({ status: 'done' as const, signoffs: [] })) })),
  },
});

type MachineConfig = Parameters<typeof cutover.createMachine>[0];
type StateConfig = NonNullable<MachineConfig['states']>[string];
type Transitions = NonNullable<StateConfig['on']>;

/** Which step a state is about: fixed for a step's own states, the due one in a recurring phase. */
type WhichStep = (context: RunContext) => string;

/**
 * Sign-off transitions shared by sign-off, decision and attention states: a rejection, the approval
 * that makes the quorum, or one more approval. `onlyIf` narrows them further (the due step of a
 * recurring phase).
 */
function signoffTransitions(
  stepId: string,
  onQuorum: string | undefined,
  onReject: { target?: string; noGo?: true },
  onlyIf?: { type: 'isDueStep'; params: { phaseId: string; stepId: string } },
): Transitions['SIGNOFF'] {
  const counts = { type: 'signoffCounts', params: { stepId } } as const;
  const first = onlyIf ? [onlyIf] : [];
  return [
    {
      guard: and([...first, counts, 'rejects']),
      ...(onReject.target ? { target: onReject.target } : {}),
      actions: [{ type: 'recordSignoff', params: { stepId } }, ...(onReject.noGo ? [{ type: 'recordNoGo', params: { stepId } } as const] : [])],
    },
    {
      guard: and([...first, counts, { type: 'completesQuorum', params: { stepId } }]),
      ...(onQuorum ? { target: onQuorum } : {}),
      actions: [
        { type: 'recordSignoff', params: { stepId } },
        { type: 'markDone', params: { stepId } },
      ],
    },
    { guard: and([...first, counts]), actions: { type: 'recordSignoff', params: { stepId } } },
  ];
}

/** A step's action runs (at least once; the runner makes a resumed run idempotent or asks). */
function runningState(step: StepDef | undefined, which: WhichStep, targets: { done: string; attention: string; unknown: string; failed: string }, extra: { occurrence?: (context: RunContext) => { index: number; at: number } | undefined } = {}): StateConfig {
  return {
    tags: ['running'],
    entry: { type: 'beginAttempt', params: ({ context }) => ({ stepId: which(context) }) },
    invoke: {
      src: 'runStep',
      input: ({ context }): RunStepInput => {
        const stepId = which(context);
        const due = extra.occurrence?.(context);
        return { stepId, attempt: record(context, stepId).attempts, ...(due ? { occurrence: due.index + 1, plannedAt: due.at } : {}) };
      },
      onDone: [
        {
          guard: { type: 'needsAttention', params: ({ event }) => ({ outcome: event.output }) },
          target: targets.attention,
          actions: { type: 'recordOutcome', params: ({ context, event }) => ({ stepId: which(context), outcome: event.output }) },
        },
        {
          target: targets.done,
          actions: [
            { type: 'recordOutcome', params: ({ context, event }) => ({ stepId: which(context), outcome: event.output }) },
            ...(step?.marksSwitch ? [{ type: 'recordSwitchFinished', params: ({ event }: { event: { output: StepOutcome } }) => ({ outcome: event.output }) } as const] : []),
          ],
        },
      ],
      onError: [
        {
          guard: { type: 'outcomeUnknown', params: ({ event }) => ({ error: event.error }) },
          target: targets.unknown,
          actions: { type: 'recordError', params: ({ context, event }) => ({ stepId: which(context), error: event.error }) },
        },
        { target: targets.failed, actions: { type: 'recordError', params: ({ context, event }) => ({ stepId: which(context), error: event.error }) } },
      ],
    },
  };
}

const retryTo = (stepId: string, target: string, reopen = false): Transitions['RETRY'] => ({
  guard: { type: 'namesStep', params: { stepId } },
  target,
  ...(reopen ? { actions: { type: 'reopen', params: { stepId } } } : {}),
});

const failedStates = (stepId: string, retryTarget: string): Record<string, StateConfig> => ({
  failed: { tags: ['failed'], on: { RETRY: retryTo(stepId, retryTarget) } },
  unknown: { tags: ['unknown'], on: { RETRY: retryTo(stepId, retryTarget) } },
});

/** The typed confirmation before a dangerous step (the zone name, the rollback phrase). */
const confirmingState = (stepId: string, target: string): StateConfig => ({
  tags: ['waiting:confirm'],
  on: {
    CONFIRM: { guard: { type: 'phraseConfirmed', params: { stepId } }, target, actions: { type: 'recordConfirmation', params: { stepId } } },
  },
});

/** A breached threshold stops here: a person signs off to go on (or starts the rollback). */
const attentionState = (stepId: string, next: string): StateConfig => ({ tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(stepId, next, {}) } });

/** Skip is offered in every state where the step is not in the middle of running. */
function withSkip(step: StepDef, next: string, states: Record<string, StateConfig>, running: readonly string[]): Record<string, StateConfig> {
  const skip: Transitions['SKIP'] = {
    guard: { type: 'namesStep', params: { stepId: step.id } },
    target: next,
    actions: [{ type: 'recordSkip', params: { stepId: step.id } }, ...(step.marksSwitch ? (['recordSwitchSkipped'] as const) : [])],
  };
  return Object.fromEntries(
    Object.entries(states).map(([key, state]) => [key, running.includes(key) || state.always ? state : { ...state, on: { ...state.on, SKIP: skip } }]),
  );
}

type StepBuilder = (phase: PhaseDef, step: StepDef, next: string) => StateConfig;

const fixed = (stepId: string): WhichStep => () => stepId;
const stepTargets = (next: string, attention = 'attention') => ({ done: next, attention, unknown: 'unknown', failed: 'failed' });

/** One builder per step kind. */
const builders: Record<Exclude<StepKind, 'recurring'>, StepBuilder> = {
  action: (_phase, step, next) => ({
    initial: 'running',
    ...(step.marksFreeze ? { entry: 'markFrozen' } : {}),
    states: withSkip(step, next, { running: runningState(step, fixed(step.id), stepTargets(next)), ...failedStates(step.id, 'running'), attention: attentionState(step.id, next) }, ['running']),
  }),
  email: (phase, step, next) => builders.action(phase, step, next),
  confirm: (_phase, step, next) => ({
    initial: 'confirming',
    states: withSkip(
      step,
      next,
      {
        confirming: confirmingState(step.id, 'running'),
        running: runningState(step, fixed(step.id), stepTargets(next)),
        ...failedStates(step.id, 'running'),
        attention: attentionState(step.id, next),
      },
      ['running'],
    ),
  }),
  signoff: (_phase, step, next) => {
    const noGo = step.rejectionAborts ? { target: `#phase-${branchPhase('abort').id}`, noGo: true as const } : { target: 'rejected' };
    return {
      initial: 'waiting',
      states: withSkip(
        step,
        next,
        {
          waiting: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(step.id, next, noGo) } },
          rejected: { tags: ['rejected'], on: { RETRY: retryTo(step.id, 'waiting', true) } },
        },
        [],
      ),
    };
  },
  decision: (_phase, step, next) => {
    // Evaluate (the decision tree's verdict), confirm when a phrase is asked, then the approvers sign.
    const afterEvaluation = step.phrase ? 'confirming' : 'waiting';
    const decided: StateConfig['always'] = step.routesOnVerdict
      ? [
          { guard: { type: 'verdictIsRollback', params: { stepId: step.id } }, target: `#phase-${branchPhase('rollback').id}`, actions: { type: 'recordVerdictRollback', params: { stepId: step.id } } },
          { target: next },
        ]
      : { target: next };
    const rejected: StateConfig = step.rejectionResumes
      ? // The branch is called off: back to where the run was.
        { always: { target: '#cutover.main.hist', actions: 'clearRollback' } }
      : { tags: ['rejected'], on: { RETRY: retryTo(step.id, 'evaluating', true) } };
    return {
      initial: 'evaluating',
      states: withSkip(
        step,
        next,
        {
          evaluating: runningState(step, fixed(step.id), { done: afterEvaluation, attention: afterEvaluation, unknown: 'unknown', failed: 'failed' }),
          ...failedStates(step.id, 'evaluating'),
          ...(step.phrase ? { confirming: confirmingState(step.id, 'waiting') } : {}),
          waiting: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(step.id, 'decided', { target: 'rejected' }) } },
          decided: { always: decided },
          rejected,
        },
        ['evaluating', 'decided'],
      ),
    };
  },
};

/** A phase of recurring checks: wait for the next due run, run it, until the phase ends. */
function recurringPhase(phase: PhaseDef, next: string): StateConfig {
  const which: WhichStep = (context) => recurringStepOf(context, phase);
  const current = { type: 'countRun', params: ({ context }: { context: RunContext }) => ({ stepId: which(context) }) } as const;
  return {
    id: `phase-${phase.id}`,
    initial: 'next',
    states: {
      next: { always: [{ guard: { type: 'recurringDone', params: { phaseId: phase.id } }, target: next }, { target: 'waiting' }] },
      waiting: {
        tags: ['waiting:time'],
        on: { REPLAN: { target: 'waiting', reenter: true, actions: 'applyReplan' } },
        invoke: {
          src: 'timer',
          input: ({ context }): TimerInput => {
            const due = dueRecurring(context, phase.id)!;
            return { deadline: due.at, reason: `${due.stepId} run ${due.index + 1}` };
          },
          onDone: { target: 'running', actions: { type: 'countMissed', params: ({ event }) => ({ phase, now: event.output.now }) } },
        },
      },
      // A recurring check's effects are reads and notes: an interrupted run is simply run again.
      running: runningState(undefined, which, { done: 'counted', attention: 'attention', unknown: 'failed', failed: 'failed' }, { occurrence: (context) => dueRecurring(context, phase.id) }),
      counted: { always: { target: 'next', actions: current } },
      failed: {
        tags: ['failed'],
        on: {
          RETRY: phase.steps.map((step) => ({ guard: and([{ type: 'namesStep', params: { stepId: step.id } }, { type: 'isDueStep', params: { phaseId: phase.id, stepId: step.id } }]), target: 'running' })),
          SKIP: phase.steps.map((step) => ({
            guard: and([{ type: 'namesStep', params: { stepId: step.id } }, { type: 'isDueStep', params: { phaseId: phase.id, stepId: step.id } }]),
            target: 'next',
            actions: [{ type: 'recordSkip', params: { stepId: step.id } }, current],
          })),
        },
      },
      attention: {
        tags: ['waiting:signoff'],
        on: {
          SIGNOFF: phase.steps.flatMap((step) => signoffTransitions(step.id, 'acknowledged', {}, { type: 'isDueStep', params: { phaseId: phase.id, stepId: step.id } }) ?? []),
        },
      },
      acknowledged: { always: { target: 'next', actions: [{ type: 'acknowledge', params: ({ context }) => ({ stepId: which(context) }) }, current] } },
    },
  };
}

function stepsOf(phase: PhaseDef, next: string): Record<string, StateConfig> {
  const keys = phase.steps.map((step) => stateKey(step.id));
  return Object.fromEntries(
    phase.steps.map((step, index) => {
      const after = index + 1 < keys.length ? `#step-${keys[index + 1]!}` : next;
      if (step.kind === 'recurring') throw new Error(`recurring step ${step.id} belongs in a phase of recurring steps only`);
      return [keys[index]!, { id: `step-${keys[index]!}`, ...builders[step.kind](phase, step, after) }];
    }),
  );
}

/** A phase in the main line: a gate until it opens, then its steps in order. */
function mainPhase(phase: PhaseDef, next: string): StateConfig {
  if (phase.steps.every((step) => step.kind === 'recurring')) return recurringPhase(phase, next);
  return {
    id: `phase-${phase.id}`,
    initial: 'gate',
    ...(phase.closesRollbackWindow ? { entry: 'markClosing' } : {}),
    states: {
      gate: {
        tags: ['waiting:time'],
        on: { REPLAN: { target: 'gate', reenter: true, actions: 'applyReplan' } },
        invoke: {
          src: 'timer',
          input: ({ context }): TimerInput => ({ deadline: phaseOpensAt(timingOf(context), phase.id)!, reason: `${phase.id} opens` }),
          onDone: stateKey(phase.steps[0]!.id),
        },
      },
      ...stepsOf(phase, next),
    },
  };
}

/** Where each branch ends. */
const branchEnd: Record<Branch, string> = { rollback: 'rolledBack', abort: 'aborted' };

function branchState(book: Runbook, branch: Branch): StateConfig {
  const phase = book.branchPhase(branch);
  return { id: `phase-${phase.id}`, initial: stateKey(phase.steps[0]!.id), states: stepsOf(phase, `#cutover.${branchEnd[branch]}`) };
}

/**
 * The machine of a runbook: the built-in one, or a plan's with its own steps inserted. The runbook
 * rides along as the root's meta, so whoever holds a snapshot reads the same steps (`runbookOf`).
 * Steps a plan adds are actions and sign-offs only: the guards that look steps up by id (a confirm's
 * phrase, the due step of a recurring phase) only ever meet built-in steps.
 */
export function buildMachine(book: Runbook = builtinRunbook) {
  const { mainPhases } = book;
  const mainStates: Record<string, StateConfig> = { hist: { type: 'history', history: 'deep' } };
  mainPhases.forEach((phase, index) => {
    mainStates[phase.id] = mainPhase(phase, index + 1 < mainPhases.length ? `#phase-${mainPhases[index + 1]!.id}` : '#cutover.completed');
  });
  const rollback = book.branchPhase('rollback');
  const abort = book.branchPhase('abort');
  return cutover.createMachine({
    id: 'cutover',
    meta: { runbook: book },
    context: ({ input }) => ({ ...input, frozen: false, closing: false, steps: {}, recurring: {} }),
    initial: 'main',
    on: { REPLAN: { actions: 'applyReplan' } },
    states: {
      main: {
        initial: mainPhases[0]!.id,
        states: mainStates,
        on: {
          ROLLBACK: { guard: 'mayRollback', target: `#phase-${rollback.id}`, actions: 'recordRollbackRequest' },
          ABORT: { guard: 'mayAbort', target: `#phase-${abort.id}`, actions: 'recordAbortRequest' },
        },
      },
      [rollback.id]: branchState(book, 'rollback'),
      [abort.id]: branchState(book, 'abort'),
      completed: { type: 'final', tags: ['ended'] },
      rolledBack: { type: 'final', tags: ['ended'] },
      aborted: { type: 'final', tags: ['ended'] },
    },
  });
}

export type CutoverMachine = ReturnType<typeof buildMachine>;

/** The runbook a snapshot's machine was built from (the plan's, with its own steps). */
export function runbookOf(snapshot: AnyMachineSnapshot): Runbook {
  const meta: unknown = snapshot.machine.root.meta;
  return typeof meta === 'object' && meta !== null && 'runbook' in meta && meta.runbook instanceof Runbook ? meta.runbook : builtinRunbook;
}

/**
 * The state of a stored run that this machine does not have, if any: the run stands at a step the
 * plan has since removed (a plan's own steps are data, and data changes). Restoring it would fail
 * deep inside XState; the runner says what to do instead.
 */
export function missingState(machine: CutoverMachine, value: unknown): string | undefined {
  const walk = (node: AnyStateNode, at: StateValue): string | undefined => {
    if (typeof at === 'string') return node.states[at] ? undefined : at;
    for (const [key, inner] of Object.entries(at)) {
      const child = node.states[key];
      if (!child) return key;
      const missing = inner === undefined ? undefined : walk(child, inner);
      if (missing) return missing;
    }
    return undefined;
  };
  return typeof value === 'string' || (typeof value === 'object' && value !== null) ? walk(machine.root, value as StateValue) : undefined;
}
