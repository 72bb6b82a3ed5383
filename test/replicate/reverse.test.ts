import { mkdtemp, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseAt } from '../../src/adapters/postgres.js';
import { freshTrackTables } from '../../src/config/example.js';
import type { Plan } from '../../src/config/schema.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import type { ActionStepId } from '../../machines/runbook.js';
import type { Pair } from '../data/support.js';
import { localPlan } from '../support/plan.js';
import { runStep } from './support.js';

/**
 * Rollback without loss in strategy replicate (issue 15, "What to build" 5): a PostgreSQL 17 source
 * takes a subscription, so from the detach on the target's writes flow back to it; the rollback
 * freezes the target, drains that subscription and removes it, and the delta export then finds every
 * post-switch write already on the source. The source stays frozen all along (barrier and revoked
 * grants): only the reverse apply worker passes. Needs PostgreSQL 17 binaries: CUTOVER_PG17_BIN
 * (bash scripts/postgres17.sh prints the folder); skipped with that reason when it is unset. The
 * PostgreSQL 15 path (delta export and re-import) is test/replicate/steps.test.ts and the rehearsal.
 */

const pg17 = process.env.CUTOVER_PG17_BIN;
let older: EmbeddedServer;
let newer: EmbeddedServer;
let pair: Pair;
let dir: string;

async function sqlAt(url: string, text: string, values?: unknown[]) {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (!pg17) return;
  const logical = { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10 };
  [newer, older] = await Promise.all([startEmbeddedPostgres({ binDir: pg17, settings: logical }), startEmbeddedPostgres({ settings: logical })]);
  const sourceUrl = await newer.createDatabase('reverse_source');
  const targetUrl = await older.createDatabase('reverse_target');
  dir = await mkdtemp(join(tmpdir(), 'cutover-replicate-reverse-'));
  pair = {
    source: databaseAt(sourceUrl, 'source database (SOURCE_DATABASE_URL)'),
    target: databaseAt(targetUrl, 'target database (TARGET_DATABASE_URL)'),
    sourceUrl,
    targetUrl,
    dir,
    sql: (side, text, values) => sqlAt(side === 'source' ? sourceUrl : targetUrl, text, values) as never,
    cleanup: async () => {},
  };
  await prepareFreshTrackPair(sourceUrl, targetUrl, { readings: 5_000, seed: 17 });
}, 300_000);
afterAll(async () => {
  await Promise.all([newer?.stop(), older?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function plan(): Plan {
  const p = localPlan(dir, { strategy: 'replicate', tables: freshTrackTables, replicate: { workers: 2, chunkRows: 5_000, drainTimeout: '1m' } });
  const records = p.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.cutoverTtl }));
  writeFileSync(join(dir, 'zone.json'), `${JSON.stringify({ zone: p.dns.zone, records, changes: [] })}\n`);
  return p;
}

const runId = '20261130-1200-back';
const outputs: Record<string, unknown> = {};
async function step(stepId: ActionStepId) {
  const result = await runStep({ plan: plan(), dir, pair, stepId, runId, outputs });
  outputs[stepId] = result.output;
  return result;
}

describe.skipIf(!pg17)('strategy replicate, PostgreSQL 17 source: rollback through reverse replication (skipped when CUTOVER_PG17_BIN is unset)', () => {
  it('brings every write the new system took back to the frozen source, and says how long nothing accepted writes', async () => {
    await step('prep.replicate');
    await step('freeze.enable');
    await step('freeze.snapshot');
    await step('export.tables');
    await step('export.verify');
    const detach = await step('migrate.load');
    expect(detach.summary).toMatch(/the target's changes now flow back to the source \(subscription cutover_20261130_1200_back_back on the source\)/);
    expect((await step('migrate.verify')).summary).toMatch(/Source and target identical/);

    // The new system takes writes after the switch.
    const before = Number((await pair.sql<{ n: string }>('source', 'SELECT count(*) AS n FROM public.temperature_readings'))[0]!.n);
    const written = await pair.sql<{ id: string }>(
      'target',
      `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 21.5 FROM public.sensors RETURNING id::text AS id`,
    );
    expect(written.length).toBeGreaterThan(0);

    const freeze = await step('rollback.freeze-target');
    expect(freeze.summary).toMatch(/the source applied every change the target took up to its freeze \(\S+\) through reverse replication/);
    // Every write the target acknowledged is on the source, which is still frozen for the application.
    const arrived = await pair.sql<{ n: string }>('source', 'SELECT count(*) AS n FROM public.temperature_readings WHERE id = ANY($1::bigint[])', [written.map((w) => w.id)]);
    expect(Number(arrived[0]!.n)).toBe(written.length);
    expect(Number((await pair.sql<{ n: string }>('source', 'SELECT count(*) AS n FROM public.temperature_readings'))[0]!.n)).toBe(before + written.length);
    await expect(pair.sql('source', `SET ROLE service_role; INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 1 FROM public.sensors LIMIT 1`)).rejects.toThrow();

    // Nothing left of the reverse direction.
    expect(await pair.sql('source', 'SELECT subname FROM pg_subscription')).toEqual([]);
    expect(await pair.sql('target', 'SELECT slot_name FROM pg_replication_slots')).toEqual([]);
    expect(await pair.sql('target', 'SELECT pubname FROM pg_publication')).toEqual([]);

    // The delta export compares the target with the source: nothing is missing there.
    const delta = await step('rollback.export-delta');
    expect(delta.summary).toMatch(/Nothing written to the target after the cutover point/);
    const unfreeze = await step('rollback.unfreeze-source');
    expect(unfreeze.summary).toMatch(/no system accepted writes for [\d.]+ s of the rollback \(from rollback\.freeze-target\)/);
  }, 300_000);
});
