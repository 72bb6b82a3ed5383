import type { StepId } from '../../machines/runbook.js';
import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
import type { DnsProvider, MailProvider } from '../adapters/types.js';

/** Live progress of a long action (rows copied so far, of how many). */
export interface Progress {
  label: string;
  done: number;
  total?: number;
  unit?: string;
}

/** Everything a step action may use. Adapters are injected; steps never construct them. */
export interface StepContext {
  plan: Plan;
  /** Folder that holds the plan file; relative paths in the plan resolve against it. */
  planDir: string;
  runId: string;
  stepId: string;
  /** 1 for the first run of this step, +1 for each retry or resumed re-run. */
  attempt: number;
  clock: Clock;
  /** Folder holding state.json and journal.ndjson. */
  stateDir: string;
  /** Outputs of the steps that already finished, by step id. */
  outputs: Readonly<Record<string, unknown>>;
  /** Actual switch time (ISO), once dns.switch has finished. */
  switchedAt?: string;
  adapters: Adapters;
  progress(report: Progress): void;
  /** Add a line to the journal (never put secrets here). */
  note(message: string, data?: Record<string, unknown>): void;
  signal: AbortSignal;
  /** Environment to read secrets from (process.env unless a test says otherwise). */
  env: Record<string, string | undefined>;
}

export interface Adapters {
  dns(): DnsProvider;
  mail(): MailProvider;
}

/**
 * What a step returns. `summary` is one line for the journal and UI. `attention` marks a result that
 * needs a person (a breached threshold): the machine stops there for a sign-off instead of going on.
 */
export interface StepResult {
  summary: string;
  output?: unknown;
  attention?: { reason: string; evidence?: unknown };
}

export interface StepAction {
  run(ctx: StepContext): Promise<StepResult>;
  /** What the step would do: SQL, a DNS diff, the number of recipients. No side effects. */
  dryRun(ctx: StepContext): Promise<string> | string;
}

/** Actions by step id, as the runner looks them up (tests give it a few of their own). */
export type StepRegistry = Record<string, StepAction>;

/** Step actions keyed by runbook step ids. */
export type StepActions = Partial<Record<StepId, StepAction>>;

/**
 * A module's group of step actions: a key that is not a runbook step id does not compile, and the
 * group keeps its exact keys (so the registry can prove every step has an action) while it can still
 * be indexed by any string, as the runner and tests do.
 */
export function stepGroup<const T extends StepActions>(actions: T & Record<Exclude<keyof T, StepId>, never>): T & StepRegistry {
  return actions as T & StepRegistry;
}
