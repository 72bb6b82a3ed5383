import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionStepId } from '../../machines/runbook.js';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type Plan } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { dataSteps } from '../../src/steps/data/index.js';
import { proveBeforeSwitch } from '../../src/steps/data/proof.js';
import { createStepRegistry } from '../../src/steps/registry.js';
import type { StepResult } from '../../src/steps/types.js';
import { usePostgres } from '../support/postgres.js';
import { dataStepContext, makePair, type Pair } from './support.js';

/**
 * Issue 10, item 3: the proof over the whole freeze. The write counters and WAL position recorded at
 * freeze.snapshot are compared at the end of the export, at migrate.verify and right before dns.switch;
 * a write the barrier cannot stop (a superuser's) blocks dns.switch, naming the table and the key.
 */

const server = usePostgres();
const runId = '2026-12-05-freshtrack';
let pair: Pair;
let planDir: string;
let plan: Plan;
// 22:10 New York time on the cutover day.
const clock = new ManualClock(Date.parse('2026-12-06T03:10:00Z'));
const outputs: Record<string, unknown> = {};
const notes: string[] = [];
let dnsTouched = 0;

beforeAll(async () => {
  pair = await makePair(server(), 'proof');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 1_000 });
  planDir = await mkdtemp(join(tmpdir(), 'cutover-proof-'));
  const { supabase: _none, ...source } = examplePlan.source;
  plan = planSchema.parse({ ...examplePlan, source });
});
afterAll(async () => {
  await rm(planDir, { recursive: true, force: true });
  await pair.cleanup();
});

/** Counts every reach for DNS: dns.switch must be blocked before it touches the zone. */
const adapters = {
  dns: () => {
    dnsTouched++;
    throw new Error('DNS must not be touched in this test');
  },
  mail: () => {
    throw new Error('no mail here');
  },
};
const context = (stepId: string) =>
  dataStepContext({ plan, planDir, runId, clock, outputs, notes, adapters, env: { SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl } }, stepId);

async function runStep(stepId: ActionStepId): Promise<StepResult> {
  const registry = createStepRegistry();
  const result = await registry[stepId].run(context(stepId));
  outputs[stepId] = result.output;
  return result;
}

/** Counters are sent by the writing backend after its transaction: wait until they show the write. */
async function waitForCounters(table: string, atLeast: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [row] = await pair.sql<{ n: string }>('source', `SELECT pg_stat_clear_snapshot(), n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables WHERE relid = '${table}'::regclass`);
    if (Number(row!.n) >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`counters of ${table} never reached ${atLeast}`);
    await delay(100);
  }
}

describe('proof over the whole freeze (issue 10, item 3)', () => {
  it('shows "0 writes between" at export and verify; a superuser write after the snapshot blocks dns.switch naming table and key', async () => {
    await runStep('freeze.enable');
    const snapshot = await runStep('freeze.snapshot');
    expect(Object.keys((snapshot.output as { counters: object }).counters)).toHaveLength(10);
    clock.set(Date.parse('2026-12-06T03:25:00Z'));
    const exported = await runStep('export.tables');
    expect(exported.summary).toMatch(/; 0 writes between 22:10 and 22:25 -05:00$/);
    await runStep('migrate.load');
    clock.set(Date.parse('2026-12-06T04:20:00Z'));
    const verified = await runStep('migrate.verify');
    expect(verified.summary).toMatch(/; 0 writes between 22:10 and 23:20 -05:00$/);
    expect(notes.some((n) => /^proof: 0 writes between 22:10 and 23:20 -05:00 on 10 tables \(WAL \+\d+ bytes since [0-9A-F]+\/[0-9A-F]+/.test(n))).toBe(true);

    // A superuser slips past the barrier: it may disable the guard trigger (which is why check refuses
    // superuser app roles); here it writes one reading and renames one sensor.
    const [before] = await pair.sql<{ n: string }>('source', `SELECT n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables WHERE relid = 'public.temperature_readings'::regclass`);
    const client = new pg.Client(pair.sourceUrl);
    await client.connect();
    const sensor = (await client.query<{ id: string; dev_eui: string }>('SELECT id, dev_eui FROM public.sensors ORDER BY id LIMIT 1')).rows[0]!;
    await client.query(`BEGIN;
      ALTER TABLE public.temperature_readings DISABLE TRIGGER cutover_freeze_guard;
      INSERT INTO public.temperature_readings (id, sensor_id, recorded_at, temperature) OVERRIDING SYSTEM VALUE
        VALUES (987654321, '${sensor.id}', now(), 4.2);
      ALTER TABLE public.temperature_readings ENABLE ALWAYS TRIGGER cutover_freeze_guard;
      COMMIT`);
    await client.end();
    await waitForCounters('public.temperature_readings', Number(before!.n) + 1);

    clock.set(Date.parse('2026-12-06T05:10:00Z'));
    const blocked = createStepRegistry()['dns.switch']!.run(context('dns.switch'));
    await expect(blocked).rejects.toThrow(
      /^dns\.switch blocked: the source was written after the cutover point \(22:10 -05:00\): public\.temperature_readings \(\+1 inserted, \+0 updated, \+0 deleted; 1000 rows at the cutover point, 1001 now\)\. Rows that differ from the export \(loaded on the target\):\n  public\.temperature_readings: 1 row written on the source after the export \(missing on the target\): key \(987654321\)\n/,
    );
    expect(dnsTouched).toBe(0);
    // migrate.verify, run again, now says so too (its hashes come from the export, so only the counters can tell).
    await expect(dataSteps['migrate.verify']!.run(context('migrate.verify'))).rejects.toThrow(
      /^The source was written after the cutover point \(22:10 -05:00\), seen at migrate\.verify: public\.temperature_readings \(\+1 inserted/,
    );

    // The row carried over by hand: the counters still moved, but nothing is lost, and the proof lets the switch go.
    const [row] = await pair.sql<{ row: string }>('source', 'SELECT t::text AS row FROM public.temperature_readings t WHERE id = 987654321');
    await pair.sql('target', 'INSERT INTO public.temperature_readings OVERRIDING SYSTEM VALUE SELECT (($1::text)::public.temperature_readings).*', [row!.row]);
    expect(await proveBeforeSwitch(context('dns.switch'))).toBe('writes after 22:10 -05:00 on public.temperature_readings, all of them on the target');
  });
});
