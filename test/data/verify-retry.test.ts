import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { Runner } from '../../src/engine/runner.js';
import { dataSteps } from '../../src/steps/data/index.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { driveToEnd } from '../support/drive.js';
import { localPlan } from '../support/plan.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * migrate.verify under the real runner (which retries failing actions with backoff): a mismatch is a
 * verdict, the same every time, so the step fails at once; only a connection that cannot be made is
 * worth another attempt. Every other step is a stub: the retry policy of verify is under test.
 */

const server = usePostgres();
const dir = mkdtempSync(join(tmpdir(), 'cutover-verify-retry-'));
let pair: Pair;
const plan = () => localPlan(dir, { tables: [{ name: 'public.item', key: ['id'] }] as never });

function registry(): StepRegistry {
  return new Proxy({} as StepRegistry, {
    get: (_target, id: string) =>
      id === 'migrate.verify' ? dataSteps['migrate.verify'] : { run: async () => ({ summary: `${id} (stub)` }), dryRun: () => 'stub' },
  });
}

async function runUntilVerifyFails(stateDir: string, env: Record<string, string>) {
  const clock = new ManualClock(Date.parse('2026-12-04T00:00:00Z'));
  const adapters = { dns: () => { throw new Error('no DNS in this test'); }, mail: () => { throw new Error('no mail in this test'); } };
  const runner = Runner.open({ stateDir, plan: plan(), planDir: dir, registry: registry(), adapters, clock, env, mode: 'drive', command: 'test', retries: 2, retryDelayMs: 10 });
  try {
    const blocked = await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'failed' });
    const entries = runner.journal.entries.filter((e) => e.stepId === 'migrate.verify');
    return { blocked, entries };
  } finally {
    runner.close();
  }
}

beforeAll(async () => {
  pair = await makePair(server(), 'retry');
  for (const side of ['source', 'target'] as const) {
    await pair.sql(side, `CREATE TABLE item (id int PRIMARY KEY, label text); INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 50) g`);
  }
  await pair.sql('target', `UPDATE item SET label = 'changed' WHERE id = 7`);
});
afterAll(async () => {
  await pair.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('migrate.verify and retries', () => {
  it('fails at once on a mismatch, naming the row: no retry, no backoff', async () => {
    const { blocked, entries } = await runUntilVerifyFails(join(dir, 'state-mismatch'), {
      SOURCE_DATABASE_URL: pair.sourceUrl,
      TARGET_DATABASE_URL: pair.targetUrl,
    });
    expect(blocked).toMatchObject({ kind: 'failed', location: { stepId: 'migrate.verify' } });
    expect(entries.filter((e) => e.type === 'step.retrying')).toEqual([]);
    const failed = entries.filter((e) => e.type === 'step.failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.error)).toMatch(/public\.item[\s\S]*changed values: 1 \(e\.g\. key \(7\)\)/);
  });

  it('retries when the database cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const closed = new URL(pair.sourceUrl);
    closed.port = '1';
    const { blocked, entries } = await runUntilVerifyFails(join(dir, 'state-unreachable'), {
      SOURCE_DATABASE_URL: closed.toString(),
      TARGET_DATABASE_URL: pair.targetUrl,
    });
    expect(blocked).toMatchObject({ kind: 'failed', location: { stepId: 'migrate.verify' } });
    expect(entries.filter((e) => e.type === 'step.retrying')).toHaveLength(2);
    expect(String(entries.find((e) => e.type === 'step.failed')!.error)).toMatch(/Could not connect to the source database \(SOURCE_DATABASE_URL\)/);
  });
});
