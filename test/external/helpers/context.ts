import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdapters, type AdapterOptions } from '../../../src/adapters/providers.js';
import { examplePlan } from '../../../src/config/example.js';
import { planSchema, type Plan, type PlanInput } from '../../../src/config/schema.js';
import { ManualClock, RealClock, type Clock } from '../../../src/engine/clock.js';
import type { Adapters, Progress, StepContext } from '../../../src/steps/types.js';

/** A step context as the engine builds one, with notes and progress kept for assertions. */
export interface TestContext extends StepContext {
  notes: Array<{ message: string; data?: Record<string, unknown> }>;
  progressReports: Progress[];
}

export interface ContextOptions {
  plan: Plan;
  planDir: string;
  stateDir: string;
  stepId: string;
  runId?: string;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  outputs?: Record<string, unknown>;
  adapters?: Adapters;
  adapterOptions?: AdapterOptions;
  attempt?: number;
  signal?: AbortSignal;
}

export function makeContext(options: ContextOptions): TestContext {
  const notes: TestContext['notes'] = [];
  const progressReports: Progress[] = [];
  const env = options.env ?? {};
  return {
    plan: options.plan,
    planDir: options.planDir,
    runId: options.runId ?? 'run-1',
    stepId: options.stepId,
    attempt: options.attempt ?? 1,
    clock: options.clock ?? new RealClock(),
    stateDir: options.stateDir,
    outputs: options.outputs ?? {},
    adapters: options.adapters ?? createAdapters(options.plan, options.planDir, env, options.adapterOptions),
    progress: (report) => progressReports.push(report),
    note: (message, data) => notes.push(data ? { message, data } : { message }),
    signal: options.signal ?? new AbortController().signal,
    env,
    notes,
    progressReports,
  };
}

/** The example plan with overrides, validated like a loaded plan. */
export function planWith(overrides: Partial<PlanInput>): Plan {
  return planSchema.parse({ ...examplePlan, ...overrides });
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `cutover-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export const manualClock = (at = Date.parse('2026-12-05T20:00:00Z')) => new ManualClock(at);

/** Retries without real waiting; the waits asked for are recorded. */
export function recordingRetry(attempts = 4) {
  const waits: number[] = [];
  return {
    waits,
    retry: {
      attempts,
      sleep: async (ms: number) => {
        waits.push(ms);
      },
    },
  };
}
