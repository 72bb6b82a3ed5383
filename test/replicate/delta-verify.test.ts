import type { ActionStepId } from '../../machines/runbook.js';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import type { Plan } from '../../src/config/schema.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import type { StepResult } from '../../src/steps/types.js';
import { makePair, type Pair } from '../data/support.js';
import { localPlan } from '../support/plan.js';
import { runStep, useLogicalPostgres, waitFor } from './support.js';

/**
 * The replicate strategy's verify in the freeze compares only the key ranges that differed before the
 * freeze (window.pre-verify) or were written since, on either side. These tests change a row in a
 * range the pre-verify proved equal, in the two ways the replication does not carry: directly on the
 * target, and on the source with the table out of the publication for a moment. A verify that trusted
 * the pre-verify for unmarked ranges without marking both would pass both.
 */

const server = useLogicalPostgres();
let pair: Pair;
let dir: string;
const READINGS = 30_000;

beforeAll(async () => {
  pair = await makePair(server(), 'delta');
  dir = await mkdtemp(join(tmpdir(), 'cutover-replicate-delta-'));
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: READINGS, seed: 12 });
}, 300_000);
afterAll(async () => {
  await pair.cleanup();
  await rm(dir, { recursive: true, force: true });
});

function plan(): Plan {
  const p = localPlan(dir, { strategy: 'replicate', tables: freshTrackTables, replicate: { workers: 2, chunkRows: 5_000, drainTimeout: '1m' } });
  const records = p.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.cutoverTtl }));
  writeFileSync(join(dir, 'zone.json'), `${JSON.stringify({ zone: p.dns.zone, records, changes: [] })}\n`);
  return p;
}

async function run(stepId: ActionStepId, runId: string, outputs: Record<string, unknown> = {}): Promise<StepResult> {
  return runStep({ plan: plan(), dir, pair, stepId, runId, outputs });
}

const count = async (side: 'source' | 'target') => Number((await pair.sql<{ n: string }>(side, 'SELECT count(*) AS n FROM public.temperature_readings'))[0]!.n);

/** prep.replicate and window.pre-verify on a source and target in step; the readings' ranges all verified equal. */
async function prepared(runId: string) {
  await run('prep.replicate', runId);
  await waitFor(async () => (await count('source')) === (await count('target')), 'the target to catch up');
  const pre = await run('window.pre-verify', runId);
  const readings = (pre.output as { tables: { table: string; ranges: number; differing: number }[] }).tables.find((t) => t.table === 'public.temperature_readings')!;
  // The precondition the tests rely on: every range of readings was found equal before the freeze.
  expect(readings.ranges).toBeGreaterThan(4);
  expect(readings.differing).toBe(0);
  return pre;
}

/** The window's data steps up to migrate.verify, with new readings written on the source meanwhile. */
async function window(runId: string) {
  await pair.sql('source', `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 4 FROM public.sensors`);
  const snapshot = await run('freeze.snapshot', runId);
  const outputs = { 'freeze.snapshot': snapshot.output };
  await run('export.tables', runId, outputs);
  await run('export.verify', runId, outputs);
  await run('migrate.load', runId, outputs);
  return { outputs, verify: () => run('migrate.verify', runId, outputs) };
}

const lowestReading = async () => Number((await pair.sql<{ id: string }>('source', 'SELECT min(id)::text AS id FROM public.temperature_readings'))[0]!.id);

describe('strategy replicate: the verify in the freeze compares what changed since window.pre-verify', () => {
  it('compares only the ranges written since, and finds source and target identical', async () => {
    const runId = '20261130-1000-dlt0';
    await prepared(runId);
    const { verify } = await window(runId);
    const result = await verify();
    expect(result.summary).toMatch(/Source and target identical/);
    const match = /content compared in the freeze: (\d+) of (\d+) key ranges/.exec(result.summary);
    expect(match, result.summary).not.toBeNull();
    // The new readings land in the last range (and the sensors' own small tables are one range each).
    expect(Number(match![1])).toBeLessThan(Number(match![2]) / 2);
    const readings = (result.output as { tables: { table: string; delta?: { ranges: number; touched: number } }[] }).tables.find((t) => t.table === 'public.temperature_readings')!;
    expect(readings.delta).toMatchObject({ ranges: 1, touched: 1 });
    // Nothing of the marking is left on either side.
    for (const side of ['source', 'target'] as const) {
      expect(await pair.sql(side, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cutover_verify%'`)).toEqual([]);
      expect(await pair.sql(side, `SELECT to_regclass('cutover_meta.verify_marks') AS t`)).toEqual([{ t: null }]);
    }
    await run('close.restore-ttl', runId);
  }, 180_000);

  it('catches a row changed directly on the target after the pre-verify, in a range verified equal', async () => {
    const runId = '20261130-1000-dlt1';
    await prepared(runId);
    const id = await lowestReading();
    // As a replica session would (the apply worker's role): ENABLE ALWAYS marks it all the same.
    await pair.sql('target', `SET session_replication_role = replica; UPDATE public.temperature_readings SET temperature = temperature + 1 WHERE id = ${id}; RESET session_replication_role`);
    const { verify } = await window(runId);
    await expect(verify()).rejects.toThrow(new RegExp(`public\\.temperature_readings[^\\n]*\\n\\s+changed values: 1 \\(e\\.g\\. key \\(${id}\\)\\)`));
    await run('abort.restore-ttl', runId);
    await pair.sql('target', `UPDATE public.temperature_readings SET temperature = temperature - 1 WHERE id = ${id}`);
  }, 180_000);

  it('catches a row changed on the source after the pre-verify that did not replicate', async () => {
    const runId = '20261130-1000-dlt2';
    await prepared(runId);
    const id = await lowestReading();
    const publication = 'cutover_20261130_1000_dlt2';
    // The table out of the publication for one transaction: that change is never sent to the target.
    await pair.sql('source', `ALTER PUBLICATION ${publication} DROP TABLE public.temperature_readings`);
    await pair.sql('source', `UPDATE public.temperature_readings SET temperature = temperature + 2 WHERE id = ${id}`);
    await pair.sql('source', `ALTER PUBLICATION ${publication} ADD TABLE public.temperature_readings`);
    const { verify } = await window(runId);
    // The drain went through (the change simply never travelled); only the source's marks reveal it.
    await expect(verify()).rejects.toThrow(new RegExp(`public\\.temperature_readings[^\\n]*\\n\\s+changed values: 1 \\(e\\.g\\. key \\(${id}\\)\\)`));
    await run('abort.restore-ttl', runId);
    await pair.sql('source', `UPDATE public.temperature_readings SET temperature = temperature - 2 WHERE id = ${id}`);
  }, 180_000);
});
