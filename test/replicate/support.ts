import { afterAll, beforeAll } from 'vitest';
import type { ActionStepId } from '../../machines/runbook.js';
import type { Plan } from '../../src/config/schema.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';
import { createStepRegistry } from '../../src/steps/registry.js';
import type { StepResult } from '../../src/steps/types.js';
import type { Pair } from '../data/support.js';
import { makeContext } from '../external/helpers/context.js';

/** One real PostgreSQL server with wal_level = logical per suite file (source and target databases on it). */
export function useLogicalPostgres(): () => EmbeddedServer {
  let server: EmbeddedServer | undefined;
  beforeAll(async () => {
    server = await startEmbeddedPostgres({ settings: { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10 } });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('PostgreSQL is not started yet: use the getter inside a test');
    return server;
  };
}

/** Poll `condition` until true or the deadline passes (then fail with `what`). */
export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const registry = createStepRegistry();

/** One step through the step registry, as the engine runs it, on a pair's source and target. */
export async function runStep(options: { plan: Plan; dir: string; pair: Pair; stepId: ActionStepId; runId: string; outputs?: Record<string, unknown> }): Promise<StepResult> {
  const ctx = makeContext({
    plan: options.plan,
    planDir: options.dir,
    stateDir: options.dir,
    stepId: options.stepId,
    runId: options.runId,
    outputs: options.outputs ?? {},
    env: { SOURCE_DATABASE_URL: options.pair.sourceUrl, TARGET_DATABASE_URL: options.pair.targetUrl },
  });
  return registry[options.stepId].run(ctx);
}
