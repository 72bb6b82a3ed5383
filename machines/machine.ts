import { assign, fromPromise, setup, type AnyStateMachine } from 'xstate';
import { mainPhases, runbook, type Cadence, type PhaseDef, type StepDef } from './runbook.js';
import { dueCount, nextOccurrence, phaseOpensAt, plannedSwitchOffset, type Timing } from './schedule.js';

/**
 * The XState v5 machine derived from the runbook (DESIGN §2). It imports no adapters and touches no
 * disk: actions and waits are invoked actors (`runStep`, `timer`) that the runner provides, and every
 * time it records comes from an event or an actor's output, never from a clock of its own.
 *
 * Waits are absolute: a gate's timer actor gets a deadline computed from the context, so a restored
 * actor that re-runs it sleeps only for what is left.
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
  /** freeze.enable was entered: rollback is possible from here on, abort no longer. */
  frozen: boolean;
  /** The close phase was entered: rollback is no longer possible. */
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

function withStep(context: RunContext, stepId: string, change: (step: StepRecord) => Partial<StepRecord>) {
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

export function buildMachine(): AnyStateMachine {
  const base = setup({
    types: {
      context: {} as RunContext,
      events: {} as RunEvent,
      input: {} as RunInput,
    },
    actors: {
      runStep: fromPromise<StepOutcome, RunStepInput>(async () => {
        throw new Error('the runner did not provide the runStep actor');
      }),
      timer: fromPromise<{ now: number }, TimerInput>(async () => {
        throw new Error('the runner did not provide the timer actor');
      }),
    },
  });

  type Ctx = RunContext;
  type AnyEvent = { type: string; [key: string]: unknown };
  const ev = (event: unknown) => event as AnyEvent & Record<string, any>;

  const forStep = (stepId: string) => ({ event }: { event: unknown }) => ev(event).stepId === stepId;

  const beginAttempt = (stepId: string) =>
    assign(({ context }: { context: Ctx }) => ({
      steps: withStep(context, stepId, (step) => ({ attempts: step.attempts + 1, status: undefined, error: undefined })),
    }));

  const recordOutcome = (stepId: string) =>
    assign(({ context, event }: { context: Ctx; event: unknown }) => {
      const outcome = ev(event).output as StepOutcome;
      return {
        steps: withStep(context, stepId, () => ({
          status: outcome.attention ? ('attention' as const) : ('done' as const),
          summary: outcome.summary,
          output: outcome.output,
          attention: outcome.attention,
          startedAt: outcome.startedAt,
          finishedAt: outcome.finishedAt,
        })),
        ...(stepId === 'dns.switch' ? { switchedAt: outcome.finishedAt } : {}),
      };
    });

  const recordError = (stepId: string) =>
    assign(({ context, event }: { context: Ctx; event: unknown }) => {
      const error = ev(event).error as { name?: string; message?: string } | undefined;
      const unknown = error?.name === OUTCOME_UNKNOWN;
      return {
        steps: withStep(context, stepId, () => ({
          status: unknown ? ('unknown' as const) : ('failed' as const),
          error: error?.message ?? String(error),
        })),
      };
    });

  const recordSkip = (stepId: string) =>
    assign(({ context, event }: { context: Ctx; event: unknown }) => {
      const { by, reason, at } = ev(event);
      return {
        steps: withStep(context, stepId, () => ({ status: 'skipped' as const, skipped: { by, reason, at } })),
        ...(stepId === 'dns.switch' ? { switchedAt: at as number } : {}),
      };
    });

  const recordSignoff = (stepId: string) =>
    assign(({ context, event }: { context: Ctx; event: unknown }) => {
      const { by, at, note, reject } = ev(event);
      const signoff: Signoff = { by, at, ...(note ? { note } : {}), ...(reject ? { reject: true } : {}) };
      return {
        steps: withStep(context, stepId, (step) => ({
          signoffs: [...step.signoffs, signoff],
          ...(reject ? { status: 'rejected' as const } : {}),
        })),
      };
    });

  /** A re-opened sign-off starts a new round: approvals before the rejection no longer count. */
  const reopen = (stepId: string) =>
    assign(({ context }: { context: Ctx }) => ({
      steps: withStep(context, stepId, () => ({ status: undefined })),
    }));

  const markDone = (stepId: string) =>
    assign(({ context }: { context: Ctx }) => ({
      steps: withStep(context, stepId, (step) => ({
        status: step.status === 'attention' || step.status === undefined ? ('done' as const) : step.status,
      })),
    }));

  const isApprover = (stepId: string) => ({ context, event }: { context: Ctx; event: unknown }) => {
    const { by } = ev(event);
    return ev(event).stepId === stepId && ruleFor(context, stepId).approvers.includes(by);
  };
  const notYetSigned = (stepId: string) => ({ context, event }: { context: Ctx; event: unknown }) =>
    !currentRound(record(context, stepId)).some((s) => s.by === ev(event).by);
  const reachesQuorum = (stepId: string) => ({ context, event }: { context: Ctx; event: unknown }) =>
    new Set([...approvals(record(context, stepId)), ev(event).by]).size >= ruleFor(context, stepId).quorum;

  const acceptSignoff = (stepId: string) => (args: { context: Ctx; event: unknown }) =>
    isApprover(stepId)(args) && notYetSigned(stepId)(args);
  const rejects = (args: { event: unknown }) => ev(args.event).reject === true;

  /** Sign-off transitions shared by sign-off, decision and attention states. */
  const signoffTransitions = (stepId: string, onQuorum: unknown, onReject: unknown) => [
    { guard: (a: any) => acceptSignoff(stepId)(a) && rejects(a), target: onReject, actions: recordSignoff(stepId) },
    { guard: (a: any) => acceptSignoff(stepId)(a) && reachesQuorum(stepId)(a), target: onQuorum, actions: [recordSignoff(stepId), markDone(stepId)] },
    { guard: (a: any) => acceptSignoff(stepId)(a), actions: recordSignoff(stepId) },
  ];

  const applyReplan = assign(({ event }: any) => ({
    t0: event.t0,
    cadences: event.cadences,
    signoff: event.signoff,
    phrases: event.phrases,
  }));
  const replanHere = (target: string) => ({
    REPLAN: { target, reenter: true, actions: applyReplan },
  });

  function runningState(stepId: string, onDone: unknown, onAttention: string = 'attention') {
    return {
      tags: ['running'],
      entry: beginAttempt(stepId),
      invoke: {
        src: 'runStep',
        input: ({ context }: { context: Ctx }): RunStepInput => ({ stepId, attempt: record(context, stepId).attempts }),
        onDone: [
          { guard: ({ event }: any) => Boolean(event.output?.attention), target: onAttention, actions: recordOutcome(stepId) },
          { target: onDone, actions: recordOutcome(stepId) },
        ],
        onError: [
          { guard: ({ event }: any) => event.error?.name === OUTCOME_UNKNOWN, target: 'unknown', actions: recordError(stepId) },
          { target: 'failed', actions: recordError(stepId) },
        ],
      },
    };
  }

  const failedStates = (stepId: string, retryTarget = 'running') => ({
    failed: { tags: ['failed'], on: { RETRY: { guard: forStep(stepId), target: retryTarget } } },
    unknown: { tags: ['unknown'], on: { RETRY: { guard: forStep(stepId), target: retryTarget } } },
  });

  /** Skip is offered whenever the step is not in the middle of running. */
  const withSkip = (stepId: string, next: unknown, states: Record<string, any>) => {
    for (const [key, state] of Object.entries(states)) {
      if (key === 'running' || key === 'evaluating' || key === 'decided' || state.always) continue;
      state.on = { ...state.on, SKIP: { guard: forStep(stepId), target: next, actions: recordSkip(stepId) } };
    }
    return states;
  };

  function stepState(phase: PhaseDef, step: StepDef, next: string): Record<string, unknown> {
    const id = step.id;
    const common = { id: `step-${stateKey(id)}` };
    switch (step.kind) {
      case 'action':
      case 'email':
        return {
          ...common,
          initial: 'running',
          ...(id === 'freeze.enable' ? { entry: assign({ frozen: true }) } : {}),
          states: withSkip(id, next, {
            running: runningState(id, next),
            ...failedStates(id),
            attention: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(id, next, undefined) } },
          }),
        };
      case 'confirm':
        return {
          ...common,
          initial: 'confirming',
          states: withSkip(id, next, {
            confirming: {
              tags: ['waiting:confirm'],
              on: {
                CONFIRM: {
                  guard: ({ context, event }: any) => event.stepId === id && event.phrase === expectedPhrase(context, step),
                  target: 'running',
                  actions: assign(({ context, event }: any) => ({
                    steps: withStep(context, id, () => ({ confirmedBy: { by: event.by, at: event.at } })),
                  })),
                },
              },
            },
            running: runningState(id, next),
            ...failedStates(id),
            attention: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(id, next, undefined) } },
          }),
        };
      case 'signoff': {
        const onReject = id === 'window.go' ? '#cutover.abort' : 'rejected';
        return {
          ...common,
          initial: 'waiting',
          states: withSkip(id, next, {
            waiting: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(id, next, onReject) } },
            rejected: { tags: ['rejected'], on: { RETRY: { guard: forStep(id), target: 'waiting', actions: reopen(id) } } },
          }),
          ...(id === 'window.go'
            ? {
                exit: assign(({ context, event }: any) =>
                  event.type === 'SIGNOFF' && event.reject
                    ? { abort: { by: event.by, reason: event.note ?? 'no-go at window.go', at: event.at } }
                    : {},
                ),
              }
            : {}),
        };
      }
      case 'decision': {
        const afterEvaluation = step.phrase ? 'confirming' : 'waiting';
        // The review's verdict decides where an approved decision leads; rollback.decide always goes on.
        const onQuorum =
          id === 'review.decision'
            ? [
                {
                  guard: ({ context }: any) => (record(context, id).output as { verdict?: string } | undefined)?.verdict === 'rollback',
                  target: '#cutover.rollback',
                  actions: assign(({ context, event }: any) => ({
                    rollback: { by: event.by, reason: record(context, id).summary ?? 'decision tree verdict: rollback', at: event.at },
                  })),
                },
                { target: next },
              ]
            : next;
        const quorumState = 'decided';
        return {
          ...common,
          initial: 'evaluating',
          states: withSkip(id, next, {
            evaluating: {
              ...runningState(id, afterEvaluation, afterEvaluation),
              on: {},
            },
            ...failedStates(id, 'evaluating'),
            confirming: {
              tags: ['waiting:confirm'],
              on: {
                CONFIRM: {
                  guard: ({ context, event }: any) => event.stepId === id && event.phrase === expectedPhrase(context, step),
                  target: 'waiting',
                  actions: assign(({ context, event }: any) => ({
                    steps: withStep(context, id, () => ({ confirmedBy: { by: event.by, at: event.at } })),
                  })),
                },
              },
            },
            waiting: { tags: ['waiting:signoff'], on: { SIGNOFF: signoffTransitions(id, quorumState, 'rejected') } },
            decided: { always: onQuorum },
            rejected: {
              tags: ['rejected'],
              // A rejected rollback goes back to where the run was; a rejected review is re-evaluated.
              ...(phase.id === 'rollback'
                ? { always: { target: '#cutover.main.hist', actions: assign({ rollback: undefined }) } }
                : { on: { RETRY: { guard: forStep(id), target: 'evaluating', actions: reopen(id) } } }),
            },
          }),
        };
      }
      case 'recurring':
        throw new Error(`recurring step ${id} belongs in a recurring phase`);
    }
  }

  function recurringPhase(phase: PhaseDef, next: string): Record<string, unknown> {
    const stepIds = phase.steps.map((step) => step.id);
    const current = (context: Ctx) => dueRecurring(context, phase.id);
    const currentId = (context: Ctx) => current(context)?.stepId ?? stepIds[0]!;
    const countRun = assign(({ context }: { context: Ctx }) => {
      const stepId = currentId(context);
      return {
        recurring: { ...context.recurring, [stepId]: (context.recurring[stepId] ?? 0) + 1 },
        steps: withStep(context, stepId, (step) => ({ runs: (step.runs ?? 0) + 1 })),
      };
    });
    return {
      id: `phase-${phase.id}`,
      initial: 'next',
      states: {
        next: { always: [{ guard: ({ context }: any) => !current(context), target: next }, { target: 'waiting' }] },
        waiting: {
          tags: ['waiting:time'],
          on: replanHere('waiting'),
          invoke: {
            src: 'timer',
            input: ({ context }: { context: Ctx }): TimerInput => {
              const due = current(context)!;
              return { deadline: due.at, reason: `${due.stepId} run ${due.index + 1}` };
            },
            // After an outage only the latest overdue run is made; the others are counted as missed.
            onDone: {
              target: 'running',
              actions: assign(({ context, event }: any) => {
                const now: number = event.output.now;
                const recurring = { ...context.recurring };
                const steps = { ...context.steps };
                for (const step of phase.steps) {
                  const due = dueCount(timingOf(context), phase.id, step, now);
                  const accounted = recurring[step.id] ?? 0;
                  if (due - 1 <= accounted) continue;
                  const current = record(context, step.id);
                  steps[step.id] = { ...current, missed: (current.missed ?? 0) + (due - 1 - accounted) };
                  recurring[step.id] = due - 1;
                }
                return { recurring, steps };
              }),
            },
          },
        },
        running: {
          tags: ['running'],
          entry: assign(({ context }: { context: Ctx }) => ({
            steps: withStep(context, currentId(context), (step) => ({ attempts: step.attempts + 1, status: undefined, error: undefined })),
          })),
          invoke: {
            src: 'runStep',
            input: ({ context }: { context: Ctx }): RunStepInput => {
              const due = current(context)!;
              return { stepId: due.stepId, attempt: record(context, due.stepId).attempts, occurrence: due.index + 1, plannedAt: due.at };
            },
            onDone: [
              {
                guard: ({ event }: any) => Boolean(event.output?.attention),
                target: 'attention',
                actions: assign(({ context, event }: any) => ({
                  steps: withStep(context, currentId(context), () => ({
                    status: 'attention' as const,
                    summary: event.output.summary,
                    output: event.output.output,
                    attention: event.output.attention,
                    startedAt: event.output.startedAt,
                    finishedAt: event.output.finishedAt,
                  })),
                })),
              },
              {
                target: 'next',
                actions: [
                  assign(({ context, event }: any) => ({
                    steps: withStep(context, currentId(context), () => ({
                      status: 'done' as const,
                      summary: event.output.summary,
                      output: event.output.output,
                      startedAt: event.output.startedAt,
                      finishedAt: event.output.finishedAt,
                    })),
                  })),
                  countRun,
                ],
              },
            ],
            onError: {
              target: 'failed',
              actions: assign(({ context, event }: any) => ({
                steps: withStep(context, currentId(context), () => ({ status: 'failed' as const, error: event.error?.message ?? String(event.error) })),
              })),
            },
          },
        },
        failed: {
          tags: ['failed'],
          on: {
            RETRY: { guard: ({ context, event }: any) => event.stepId === currentId(context), target: 'running' },
            SKIP: {
              guard: ({ context, event }: any) => event.stepId === currentId(context),
              target: 'next',
              actions: [
                assign(({ context, event }: any) => ({
                  steps: withStep(context, currentId(context), () => ({ status: 'skipped' as const, skipped: { by: event.by, reason: event.reason, at: event.at } })),
                })),
                countRun,
              ],
            },
          },
        },
        attention: {
          tags: ['waiting:signoff'],
          // A breached threshold stops here: a person signs off to go on, or starts the rollback.
          on: {
            SIGNOFF: stepIds.flatMap((stepId) =>
              signoffTransitions(stepId, 'acknowledged', undefined).map((transition) => ({
                ...transition,
                guard: (a: any) => currentId(a.context) === stepId && (transition.guard as any)(a),
              })),
            ),
          },
        },
        acknowledged: {
          always: {
            target: 'next',
            actions: [
              assign(({ context }: { context: Ctx }) => ({
                steps: withStep(context, currentId(context), () => ({ status: 'done' as const, signoffs: [] })),
              })),
              countRun,
            ],
          },
        },
      },
    };
  }

  function phaseState(phase: PhaseDef, next: string): Record<string, unknown> {
    if (phase.steps.every((step) => step.kind === 'recurring')) return recurringPhase(phase, next);
    const keys = phase.steps.map((step) => stateKey(step.id));
    const states: Record<string, unknown> = {};
    phase.steps.forEach((step, index) => {
      states[keys[index]!] = stepState(phase, step, index + 1 < keys.length ? `#step-${keys[index + 1]!}` : next);
    });
    if (phase.branch) return { id: `phase-${phase.id}`, initial: keys[0], states };
    return {
      id: `phase-${phase.id}`,
      initial: 'gate',
      ...(phase.id === 'close' ? { entry: assign({ closing: true }) } : {}),
      states: {
        gate: {
          tags: ['waiting:time'],
          on: replanHere('gate'),
          invoke: {
            src: 'timer',
            input: ({ context }: { context: Ctx }): TimerInput => ({
              deadline: phaseOpensAt(timingOf(context), phase.id)!,
              reason: `${phase.id} opens`,
            }),
            onDone: keys[0],
          },
        },
        ...states,
      },
    };
  }

  const mainStates: Record<string, unknown> = { hist: { type: 'history', history: 'deep' } };
  mainPhases.forEach((phase, index) => {
    const next = index + 1 < mainPhases.length ? `#phase-${mainPhases[index + 1]!.id}` : '#cutover.completed';
    mainStates[phase.id] = phaseState(phase, next);
  });
  const rollbackPhase = runbook.find((phase) => phase.id === 'rollback')!;
  const abortPhase = runbook.find((phase) => phase.id === 'abort')!;

  return base.createMachine({
      id: 'cutover',
      context: ({ input }: { input: RunInput }) => ({
        ...input,
        frozen: false,
        closing: false,
        steps: {},
        recurring: {},
      }),
      initial: 'main',
      on: { REPLAN: { actions: applyReplan } },
      states: {
        main: {
          initial: runbook[0]!.id,
          states: mainStates,
          on: {
            ROLLBACK: {
              guard: ({ context }: any) => context.frozen && !context.closing,
              target: 'rollback',
              actions: assign(({ event }: any) => ({ rollback: { by: event.by, reason: event.reason, at: event.at } })),
            },
            ABORT: {
              guard: ({ context }: any) => !context.frozen,
              target: 'abort',
              actions: assign(({ event }: any) => ({ abort: { by: event.by, reason: event.reason, at: event.at } })),
            },
          },
        },
        rollback: { ...phaseState(rollbackPhase, '#cutover.rolledBack'), id: 'phase-rollback' },
        abort: { ...phaseState(abortPhase, '#cutover.aborted'), id: 'phase-abort' },
        completed: { type: 'final', tags: ['ended'] },
        rolledBack: { type: 'final', tags: ['ended'] },
        aborted: { type: 'final', tags: ['ended'] },
      },
    } as any);
}
