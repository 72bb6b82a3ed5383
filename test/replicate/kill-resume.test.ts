import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { releaseHolder } from '../../src/steps/replicate/holder.js';
import { PROGRESS_TABLE, replicationNames } from '../../src/steps/replicate/names.js';
import { dropReplication } from '../../src/steps/replicate/objects.js';
import { prepareReplication } from '../../src/steps/replicate/prepare.js';
import { copySequences, drainToFreeze } from '../../src/steps/replicate/window.js';
import { makePair, tableText, type Pair } from '../data/support.js';
import { useLogicalPostgres, waitFor } from './support.js';

/**
 * SIGKILL in the middle of the replicate strategy (issue 15, "What it must show" 3): during the
 * initial copy and during catch-up. The resumed run copies no finished range again, the data ends
 * identical, and the source ends with no slot and no publication (read from its catalog).
 */

const server = useLogicalPostgres();
const TABLES = freshTrackTables!.map((t) => ({ name: t.name, key: t.key }));
const NAMES = TABLES.map((t) => t.name);
const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const child = join(import.meta.dirname, 'kill-child.ts');

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'cutover-replicate-kill-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/**
 * Run the child until `shouldKill` accepts one of its lines, then SIGKILL it; fails if it finished first.
 * With `holdPendingOf`, the chunks of that run not yet copied are locked on the target before the kill:
 * a worker that finishes a chunk's COPY then waits on its progress row, uncommitted, so the kill always
 * lands in the middle of the copy however fast or busy the machine is.
 */
function runAndKill(pair: Pair, args: string[], shouldKill: (line: Record<string, unknown>) => boolean, holdPendingOf?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [jiti, child, args[0]!, pair.sourceUrl, pair.targetUrl, stateDir, ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    let holder: pg.Client | undefined;
    proc.stderr.on('data', (chunk) => (stderr += chunk));
    const kill = async () => {
      if (holdPendingOf) {
        holder = await pair.target.connect();
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM ${PROGRESS_TABLE} WHERE run_id = $1 AND rows IS NULL FOR UPDATE`, [holdPendingOf]);
      }
      proc.kill('SIGKILL');
    };
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const report = JSON.parse(line) as Record<string, unknown>;
      if (!killed && !report.finished && shouldKill(report)) {
        killed = true;
        kill().catch(reject);
      }
    });
    proc.on('exit', () => {
      const release = holder ? holder.query('ROLLBACK').then(() => holder!.end()) : Promise.resolve();
      release.then(() => (killed ? resolve() : reject(new Error(`the child ended before it was killed: ${stderr}`))), reject);
    });
  });
}

/** The target's chunks of `runId`: copied, and not yet. */
async function chunkCounts(pair: Pair, runId: string) {
  const [row] = await pair.sql<{ copied: number; pending: number }>(
    'target',
    `SELECT count(*) FILTER (WHERE rows IS NOT NULL)::int AS copied, count(*) FILTER (WHERE rows IS NULL)::int AS pending FROM ${PROGRESS_TABLE} WHERE run_id = $1`,
    [runId],
  );
  return row!;
}

/** This run's slot and publication on the source (slots are per server, and the tests share one). */
async function sourceCatalog(pair: Pair, runId: string) {
  const names = replicationNames(runId);
  return {
    slots: await pair.sql('source', 'SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [names.slot]),
    publications: await pair.sql('source', 'SELECT pubname FROM pg_publication WHERE pubname = $1', [names.publication]),
  };
}

async function cleanup(pair: Pair, runId: string) {
  const src = await pair.source.connect();
  const tgt = await pair.target.connect();
  try {
    return await dropReplication(src, tgt, replicationNames(runId));
  } finally {
    await src.end();
    await tgt.end();
  }
}

async function expectIdentical(pair: Pair) {
  for (const table of NAMES) expect(await tableText(pair, 'target', table, '1'), table).toEqual(await tableText(pair, 'source', table, '1'));
}

describe('replicate: SIGKILL and resume', () => {
  it('a kill during the initial copy resumes from the held snapshot without copying a finished range again', async () => {
    const pair = await makePair(server(), 'killcopy');
    await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 300_000, seed: 7 });
    const runId = '20261130-0900-kcpy';
    const indexes = async () => (await pair.sql<{ indexdef: string }>('target', `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.indexdef);
    const indexesBefore = await indexes();
    await runAndKill(pair, ['prepare', runId], (report) => typeof report.done === 'number' && (report.done as number) > 100_000, runId);
    const before = await pair.sql<{ table_name: string; chunk: number; copied_at: Date }>(
      'target',
      `SELECT table_name, chunk, copied_at FROM ${PROGRESS_TABLE} WHERE run_id = $1 AND rows IS NOT NULL`,
      [runId],
    );
    const pending = await pair.sql('target', `SELECT 1 FROM ${PROGRESS_TABLE} WHERE run_id = $1 AND rows IS NULL`, [runId]);
    expect(before.length).toBeGreaterThan(0);
    expect(pending.length).toBeGreaterThan(0);
    // Writes while nobody copies: they are after the snapshot, so replication must bring them.
    await pair.sql('source', `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 9 FROM public.sensors`);

    const resumed = await prepareReplication({ source: pair.source, target: pair.target, sourceUrl: pair.sourceUrl, runId, stateDir, tables: TABLES, workers: 2, chunkRows: 25_000 });
    expect(resumed.resumed).toBe('copy');
    // What the killed copy set aside was recorded before the drop, and is built again.
    expect(await indexes()).toEqual(indexesBefore);
    expect(resumed.droppedStaleSlot).toBe(false);
    expect(resumed.copy!.tables.reduce((sum, t) => sum + t.chunksSkipped, 0)).toBe(before.length);
    // The ranges finished before the kill still carry their first copy's time: not copied again.
    const after = await pair.sql<{ table_name: string; chunk: number; copied_at: Date }>('target', `SELECT table_name, chunk, copied_at FROM ${PROGRESS_TABLE} WHERE run_id = $1`, [runId]);
    for (const row of before) {
      const again = after.find((r) => r.table_name === row.table_name && r.chunk === row.chunk)!;
      expect(again.copied_at.getTime()).toBe(row.copied_at.getTime());
    }
    const { lsn } = (await pair.sql<{ lsn: string }>('source', 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!;
    await drainToFreeze({ source: pair.source, target: pair.target, names: replicationNames(runId), freezeLsn: lsn, timeoutMs: 60_000 });
    await copySequences({ source: pair.source, target: pair.target, tables: NAMES });
    await expectIdentical(pair);
    await cleanup(pair, runId);
    expect(await sourceCatalog(pair, runId)).toEqual({ slots: [], publications: [] });
  }, 300_000);

  it('a slot whose snapshot died with the run is found, dropped, and the copy starts over', async () => {
    const pair = await makePair(server(), 'killstale');
    await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 300_000, seed: 8 });
    const runId = '20261130-0900-kstl';
    await runAndKill(pair, ['prepare', runId], (report) => typeof report.done === 'number' && (report.done as number) > 0, runId);
    // The kill landed mid-copy: ranges not copied yet.
    expect((await chunkCounts(pair, runId)).pending).toBeGreaterThan(0);
    // The machine went down: the snapshot holder is gone too, the slot stays behind.
    const src = await pair.source.connect();
    await releaseHolder(src, replicationNames(runId).slot);
    await src.end();
    await waitFor(async () => (await pair.sql('source', `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'cutover-snapshot-%'`)).length === 0, 'the holder to end');
    expect((await sourceCatalog(pair, runId)).slots).toHaveLength(1);

    const resumed = await prepareReplication({ source: pair.source, target: pair.target, sourceUrl: pair.sourceUrl, runId, stateDir, tables: TABLES, workers: 2, chunkRows: 25_000 });
    expect(resumed.droppedStaleSlot).toBe(true);
    expect(resumed.copy!.tables.reduce((sum, t) => sum + t.chunksSkipped, 0)).toBe(0);
    const { lsn } = (await pair.sql<{ lsn: string }>('source', 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!;
    await drainToFreeze({ source: pair.source, target: pair.target, names: replicationNames(runId), freezeLsn: lsn, timeoutMs: 60_000 });
    await expectIdentical(pair);
    await cleanup(pair, runId);
    expect(await sourceCatalog(pair, runId)).toEqual({ slots: [], publications: [] });
  }, 300_000);

  it('a kill during catch-up: the resumed run copies nothing again and drains to the freeze', async () => {
    const pair = await makePair(server(), 'killcatch');
    await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 50_000, seed: 9 });
    const runId = '20261130-0900-kcat';
    const first = await prepareReplication({ source: pair.source, target: pair.target, sourceUrl: pair.sourceUrl, runId, stateDir, tables: TABLES, workers: 2, chunkRows: 25_000 });
    const names = first.names;
    // The target falls behind: its apply worker stops while the source keeps writing.
    await pair.sql('target', `ALTER SUBSCRIPTION ${names.subscription} DISABLE`);
    await pair.sql('source', `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT s.id, now() - g * interval '1 second', 5 FROM public.sensors s, generate_series(1, 200) g`);
    const { lsn } = (await pair.sql<{ lsn: string }>('source', 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!;
    await runAndKill(pair, ['drain', runId, lsn], (report) => report.draining === true);

    const again = await prepareReplication({ source: pair.source, target: pair.target, sourceUrl: pair.sourceUrl, runId, stateDir, tables: TABLES, workers: 2, chunkRows: 25_000 });
    expect(again.resumed).toBe('streaming');
    expect(again.copy).toBeNull();
    await pair.sql('target', `ALTER SUBSCRIPTION ${names.subscription} ENABLE`);
    await drainToFreeze({ source: pair.source, target: pair.target, names, freezeLsn: lsn, timeoutMs: 60_000 });
    await expectIdentical(pair);
    const dropped = await cleanup(pair, runId);
    expect(dropped.slot && dropped.publication && dropped.subscription).toBe(true);
    expect(await sourceCatalog(pair, runId)).toEqual({ slots: [], publications: [] });
    expect(await pair.sql('target', 'SELECT subname FROM pg_subscription')).toEqual([]);
  }, 300_000);
});
