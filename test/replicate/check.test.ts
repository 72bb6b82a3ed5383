import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';
import { reachSystems } from '../../src/steps/core/reach-systems.js';
import { localPlan } from '../support/plan.js';

/**
 * `cutover check` with strategy replicate refuses a source that cannot replicate the plan, each time
 * naming the fix (issue 15, "What it must show" 5): a table without a key, a pooler URL, wal_level
 * not logical, no free slot. The check is the one reach-systems runs for `check` and prep.preflight.
 */

let logical: EmbeddedServer;
let plain: EmbeddedServer;
let dir: string;
beforeAll(async () => {
  [logical, plain] = await Promise.all([
    startEmbeddedPostgres({ settings: { wal_level: 'logical', max_replication_slots: 2, max_wal_senders: 4 } }),
    startEmbeddedPostgres(),
  ]);
  dir = await mkdtemp(join(tmpdir(), 'cutover-replicate-check-'));
}, 120_000);
afterAll(async () => {
  await Promise.all([logical?.stop(), plain?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const plan = (replicate: { maxRetainedBytes?: number } = {}) =>
  localPlan(dir, {
    strategy: 'replicate',
    replicate: { workers: 4, chunkRows: 250_000, drainTimeout: '5m', maxLagBytes: 256 * 1024 * 1024, maxRetainedBytes: 8 * 1024 ** 3, ...replicate },
    tables: [
      { name: 'public.readings', key: ['id'] },
      { name: 'public.events', key: ['sensor', 'at'] },
    ],
  });

async function replicationCheck(sourceUrl: string, limits: { maxRetainedBytes?: number } = {}) {
  const results = await reachSystems(plan(limits), dir, { SOURCE_DATABASE_URL: sourceUrl, TARGET_DATABASE_URL: sourceUrl });
  return results.find((r) => r.system === 'logical replication')!;
}

async function exec(url: string, sql: string) {
  const pg = (await import('pg')).default;
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const SCHEMA = `CREATE TABLE public.readings (id bigint PRIMARY KEY, v int);
                CREATE TABLE public.events (sensor int NOT NULL, at timestamptz NOT NULL, v int);`;

describe('check with strategy replicate', () => {
  it('passes a source that can replicate, and says what it found', async () => {
    const url = await logical.createDatabase('ok');
    await exec(url, SCHEMA);
    await exec(url, 'ALTER TABLE public.events REPLICA IDENTITY FULL');
    const check = await replicationCheck(url);
    expect(check.ok, check.message).toBe(true);
    expect(check.message).toMatch(/wal_level = logical/);
  });

  it('names a slot a killed run left behind, with the WAL it holds', async () => {
    const url = await logical.createDatabase('orphan');
    await exec(url, SCHEMA);
    await exec(url, 'ALTER TABLE public.events REPLICA IDENTITY FULL');
    await exec(url, `SELECT pg_create_logical_replication_slot('cutover_20261130_0900_dead', 'pgoutput')`);
    try {
      const check = await replicationCheck(url);
      expect(check.message).toMatch(/Slot cutover_20261130_0900_dead is not streaming and holds \d+ (bytes|kB) of WAL/);
      expect(check.message).toMatch(/pg_drop_replication_slot\('cutover_20261130_0900_dead'\)/);
      expect(check.ok).toBe(true);
      // Over the plan's threshold of WAL held back, check fails.
      const strict = await replicationCheck(url, { maxRetainedBytes: 0 });
      expect(strict.ok).toBe(false);
      expect(strict.message).toMatch(/holding more WAL than plan\.replicate\.maxRetainedBytes \(0 bytes\)/);
    } finally {
      await exec(url, `SELECT pg_drop_replication_slot('cutover_20261130_0900_dead')`);
    }
  });

  it('refuses a table without a primary key or declared replica identity, naming the fix', async () => {
    const url = await logical.createDatabase('nokey');
    await exec(url, SCHEMA);
    const check = await replicationCheck(url);
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(/public\.events has no primary key/);
    expect(check.message).toMatch(/ADD PRIMARY KEY \(sensor, at\)/);
    expect(check.message).toMatch(/REPLICA IDENTITY FULL/);
    expect(check.message).not.toMatch(/public\.readings/);
  });

  it('refuses a pooler URL before connecting, naming the direct connection', async () => {
    for (const url of [
      'postgres://postgres.abc:secret@aws-0-eu-central-1.pooler.supabase.com:5432/postgres?sslmode=verify-full',
      'postgres://postgres:secret@db.abc.supabase.co:6543/postgres?sslmode=verify-full',
    ]) {
      const check = await replicationCheck(url);
      expect(check.ok).toBe(false);
      expect(check.message).toMatch(/connection pooler/);
      expect(check.message).toMatch(/port 5432/);
      expect(check.message).not.toContain('secret');
    }
  });

  it('refuses wal_level other than logical, naming the setting', async () => {
    const url = await plain.createDatabase('replica');
    await exec(url, SCHEMA);
    await exec(url, 'ALTER TABLE public.events REPLICA IDENTITY FULL');
    const check = await replicationCheck(url);
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(/wal_level = replica/);
    expect(check.message).toMatch(/ALTER SYSTEM SET wal_level = logical/);
  });

  it('refuses a source without a free replication slot, naming how to free one', async () => {
    const url = await logical.createDatabase('full');
    await exec(url, SCHEMA);
    await exec(url, 'ALTER TABLE public.events REPLICA IDENTITY FULL');
    await exec(url, `SELECT pg_create_physical_replication_slot('taken_1'), pg_create_physical_replication_slot('taken_2')`);
    try {
      const check = await replicationCheck(url);
      expect(check.ok).toBe(false);
      expect(check.message).toMatch(/no free replication slot \(2 of max_replication_slots = 2 in use\)/);
      expect(check.message).toMatch(/pg_drop_replication_slot/);
    } finally {
      await exec(url, `SELECT pg_drop_replication_slot('taken_1'), pg_drop_replication_slot('taken_2')`);
    }
  });
});
