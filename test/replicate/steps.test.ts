import type { ActionStepId } from '../../machines/runbook.js';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import type { Plan } from '../../src/config/schema.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { loadedTables } from '../../src/steps/rollback/loaded-tables.js';
import type { StepResult } from '../../src/steps/types.js';
import { makePair, type Pair } from '../data/support.js';
import { localPlan } from '../support/plan.js';
import { runStep, useLogicalPostgres } from './support.js';

/**
 * The replicate strategy through the step registry, as the engine runs it: prep.replicate, the
 * window's data steps taken over (drain, no export, sequences and detach, then the usual verify),
 * and abort, rollback and close leaving nothing on the source (read from its catalog).
 */

const server = useLogicalPostgres();
let pair: Pair;
let dir: string;

beforeAll(async () => {
  pair = await makePair(server(), 'steps');
  dir = await mkdtemp(join(tmpdir(), 'cutover-replicate-steps-'));
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 20_000, seed: 11 });
}, 300_000);
afterAll(async () => {
  await pair.cleanup();
  await rm(dir, { recursive: true, force: true });
});

function plan(strategy: 'copy' | 'replicate'): Plan {
  const p = localPlan(dir, { strategy, tables: freshTrackTables, replicate: { workers: 2, chunkRows: 5_000, drainTimeout: '1m' } });
  // The zone as before a cutover, for the DNS steps that abort and close run.
  const records = p.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.cutoverTtl }));
  writeFileSync(join(dir, 'zone.json'), `${JSON.stringify({ zone: p.dns.zone, records, changes: [] })}\n`);
  return p;
}

async function run(stepId: ActionStepId, runId: string, strategy: 'copy' | 'replicate', outputs: Record<string, unknown> = {}): Promise<StepResult> {
  return runStep({ plan: plan(strategy), dir, pair, stepId, runId, outputs });
}

async function leftovers() {
  return {
    slots: (await pair.sql<{ slot_name: string }>('source', 'SELECT slot_name FROM pg_replication_slots')).map((r) => r.slot_name),
    publications: (await pair.sql<{ pubname: string }>('source', 'SELECT pubname FROM pg_publication')).map((r) => r.pubname),
    subscriptions: (await pair.sql<{ subname: string }>('target', 'SELECT subname FROM pg_subscription')).map((r) => r.subname),
  };
}
const nothing = { slots: [], publications: [], subscriptions: [] };

describe('strategy replicate through the step registry', () => {
  it('prep.replicate does nothing in copy mode', async () => {
    const result = await run('prep.replicate', '20261130-0900-copy', 'copy');
    expect(result.summary).toMatch(/Strategy is copy/);
    expect(await leftovers()).toEqual(nothing);
  });

  it('runs the window: drain, no export, sequences and detach, verify — and leaves nothing', async () => {
    const runId = '20261130-0900-wind';
    const prep = await run('prep.replicate', runId, 'replicate');
    expect(prep.summary).toMatch(/subscription cutover_20261130_0900_wind streams changes/);
    expect((await leftovers()).slots).toEqual(['cutover_20261130_0900_wind']);
    await pair.sql('source', `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 3 FROM public.sensors`);
    const snapshot = await run('freeze.snapshot', runId, 'replicate');
    const outputs = { 'freeze.snapshot': snapshot.output };
    expect((await run('export.tables', runId, 'replicate', outputs)).summary).toMatch(/applied every change up to the freeze/);
    expect((await run('export.verify', runId, 'replicate', outputs)).summary).toMatch(/no export files/);
    const detach = await run('migrate.load', runId, 'replicate', outputs);
    expect(detach.summary).toMatch(/dropped subscription, slot, publication, marker table/);
    // PostgreSQL 15 cannot take the reverse subscription: a rollback stays the delta export and re-import.
    expect(detach.summary).toMatch(/no reverse replication \(the source runs PostgreSQL 1[56], and a subscription on it needs 17 or later\): a rollback exports the target's changes and re-imports them/);
    expect(await leftovers()).toEqual(nothing);
    // The rollback's delta export finds every plan table as filled by this run.
    const tgt = await pair.target.connect();
    try {
      expect([...(await loadedTables(tgt, runId))].sort()).toEqual(freshTrackTables!.map((t) => t.name).sort());
    } finally {
      await tgt.end();
    }
    const verify = await run('migrate.verify', runId, 'replicate', outputs);
    expect(verify.summary).toMatch(/Source and target identical/);
    const close = await run('close.restore-ttl', runId, 'replicate', outputs);
    expect(close.summary).toMatch(/replication: nothing was left/);
  }, 120_000);

  it('positions a sequence owned by no column (only in a column default) like copy mode does', async () => {
    const runId = '20261130-0900-seq0';
    for (const side of ['source', 'target'] as const) {
      await pair.sql(side, `CREATE SEQUENCE public.ticket_no; ALTER TABLE public.alert_instances ADD COLUMN ticket bigint; ALTER TABLE public.alert_instances ALTER COLUMN ticket SET DEFAULT nextval('public.ticket_no')`);
    }
    try {
      // Handed out on the source, by the application, before the freeze.
      await pair.sql('source', `SELECT setval('public.ticket_no', 500)`);
      await run('prep.replicate', runId, 'replicate');
      const snapshot = await run('freeze.snapshot', runId, 'replicate');
      const outputs = { 'freeze.snapshot': snapshot.output };
      await run('export.tables', runId, 'replicate', outputs);
      const detach = await run('migrate.load', runId, 'replicate', outputs);
      expect((detach.output as { sequences: { sequence: string; lastValue: string }[] }).sequences).toContainEqual(expect.objectContaining({ sequence: 'public.ticket_no', lastValue: '500' }));
      expect(await pair.sql('target', `SELECT last_value::text AS v, is_called FROM public.ticket_no`)).toEqual([{ v: '500', is_called: true }]);
      await run('close.restore-ttl', runId, 'replicate', outputs);
    } finally {
      for (const side of ['source', 'target'] as const) {
        await pair.sql(side, `ALTER TABLE public.alert_instances DROP COLUMN IF EXISTS ticket; DROP SEQUENCE IF EXISTS public.ticket_no`);
      }
    }
  }, 120_000);

  it('names DDL on the source since prep.replicate instead of waiting for a drain that cannot finish', async () => {
    const runId = '20261130-0900-ddl0';
    const prep = await run('prep.replicate', runId, 'replicate');
    await pair.sql('source', `ALTER TABLE public.alert_instances ADD COLUMN escalated_by text`);
    try {
      const snapshot = await run('freeze.snapshot', runId, 'replicate');
      const outputs = { 'prep.replicate': prep.output, 'freeze.snapshot': snapshot.output };
      await expect(run('export.tables', runId, 'replicate', outputs)).rejects.toThrow(
        /schema changed since prep\.replicate.*public\.alert_instances: now has escalated_by text\. Apply the same change to the target/,
      );
      await run('abort.restore-ttl', runId, 'replicate');
      expect(await leftovers()).toEqual(nothing);
    } finally {
      await pair.sql('source', `ALTER TABLE public.alert_instances DROP COLUMN escalated_by`);
    }
  }, 120_000);

  it('abort drops the publication, the slot and the subscription', async () => {
    const runId = '20261130-0900-abrt';
    await run('prep.replicate', runId, 'replicate');
    expect((await leftovers()).subscriptions).toEqual(['cutover_20261130_0900_abrt']);
    const abort = await run('abort.restore-ttl', runId, 'replicate');
    expect(abort.summary).toMatch(/replication: dropped subscription, slot, publication, marker table/);
    expect(await leftovers()).toEqual(nothing);
    expect(await pair.sql('source', `SELECT 1 FROM pg_namespace WHERE nspname = 'cutover_meta'`)).toEqual([]);
  }, 120_000);

  it('rollback (from the freeze on) drops them too', async () => {
    const runId = '20261130-0900-roll';
    await run('prep.replicate', runId, 'replicate');
    const rollback = await run('rollback.freeze-target', runId, 'replicate');
    expect(rollback.summary).toMatch(/replication: dropped subscription, slot, publication, marker table/);
    expect(await leftovers()).toEqual(nothing);
    await pair.sql('target', `GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO authenticated, service_role`);
  }, 120_000);
});
