import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseAt } from '../src/adapters/postgres.js';
import { startEmbeddedPostgres } from '../src/rehearsal/embedded.js';
import { generateData, prepareSource, prepareTarget } from '../src/rehearsal/freshtrack.js';
import { exportTables } from '../src/steps/data/export.js';
import { loadTables } from '../src/steps/data/load.js';
import { replicationNames } from '../src/steps/replicate/names.js';
import { dropReplication } from '../src/steps/replicate/objects.js';
import { prepareReplication } from '../src/steps/replicate/prepare.js';

/**
 * Initial-copy benchmark of strategy replicate (`node dist/bench/initial-copy.js [readings] [workers]`,
 * default 5,000,000 readings and 4 workers): `temperature_readings` from a source server to a target
 * server (same machine), into an indexed empty table each time, three ways:
 *  - ours: prep.replicate's work (slot, copy from its exported snapshot by N workers over key ranges
 *    with the indexes set aside, index rebuild, subscription);
 *  - pg_dump -Fd -j N | pg_restore -j N --data-only --disable-triggers (the same N);
 *  - today's single stream: export.tables + migrate.load (strategy copy, one table, one stream).
 * Prints each time and the ratios (ours / other; below 1.0 is faster).
 */

const READINGS = 'public.temperature_readings';
const PG_BIN = process.env.CUTOVER_POSTGRES_BIN ?? '/usr/bin';
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function sql(url: string, text: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const readings = Number(process.argv[2] ?? 5_000_000);
  const workers = Number(process.argv[3] ?? 4);
  const scratch = await mkdtemp(join(tmpdir(), 'cutover-bench-copy-'));
  const sourceServer = await startEmbeddedPostgres({ settings: { wal_level: 'logical' } });
  const targetServer = await startEmbeddedPostgres();
  try {
    const sourceUrl = await sourceServer.createDatabase('freshtrack');
    const targetUrl = await targetServer.createDatabase('target');
    const source = new pg.Client(sourceUrl);
    await source.connect();
    await prepareSource(source);
    await generateData(source, { readings, seed: 1 });
    await source.end();
    const target = new pg.Client(targetUrl);
    await target.connect();
    await prepareTarget(target);
    await target.end();
    const empty = () => sql(targetUrl, `TRUNCATE ${READINGS}`);
    const counted = async () => Number((await sql(targetUrl, `SELECT count(*) AS n FROM ${READINGS}`))[0]!.n);
    await sql(sourceUrl, `SELECT count(*) FROM ${READINGS}`); // warm the cache for everyone

    const src = databaseAt(sourceUrl, 'bench source');
    const tgt = databaseAt(targetUrl, 'bench target');
    const runId = 'bench-copy';
    // The whole of prep.replicate's work: slot, copy, index rebuild, subscription.
    const started = performance.now();
    const prepared = await prepareReplication({
      source: src,
      target: tgt,
      sourceUrl,
      runId,
      stateDir: scratch,
      tables: [{ name: READINGS, key: ['id'] }],
      workers,
      chunkRows: 250_000,
    });
    const oursMs = performance.now() - started;
    console.log(`ours: copy ${seconds(prepared.copy!.durationMs)} + indexes rebuilt ${seconds(prepared.rebuildMs)} (+ slot and subscription)`);
    if ((await counted()) !== readings) throw new Error('ours: wrong row count');
    const s = await src.connect();
    const t = await tgt.connect();
    await dropReplication(s, t, replicationNames(runId));
    await s.end();
    await t.end();
    await empty();

    const dumpDir = join(scratch, 'dump');
    const dumpMs = await timed(async () => {
      const dump = spawnSync(`${PG_BIN}/pg_dump`, ['-Fd', '-j', String(workers), '-t', READINGS, '-f', dumpDir, '-d', sourceUrl], { encoding: 'utf8' });
      if (dump.status !== 0) throw new Error(`pg_dump: ${dump.stderr}`);
      const restore = spawnSync(`${PG_BIN}/pg_restore`, ['-j', String(workers), '--data-only', '--disable-triggers', '-d', targetUrl, dumpDir], { encoding: 'utf8' });
      if (restore.status !== 0) throw new Error(`pg_restore: ${restore.stderr}`);
    });
    if ((await counted()) !== readings) throw new Error('pg_restore: wrong row count');
    await empty();

    const dir = join(scratch, 'single');
    const singleMs = await timed(async () => {
      await exportTables({ source: src, tables: [READINGS], dir, runId: 'single', parallel: 1 });
      await loadTables({ target: tgt, dir, runId: 'single', tables: [READINGS] });
    });
    if ((await counted()) !== readings) throw new Error('single stream: wrong row count');

    console.log(`readings: ${readings.toLocaleString('en-US')}, N = ${workers}`);
    console.log(`ours (replicate initial copy, ${workers} workers, key ranges): ${seconds(oursMs)}`);
    console.log(`pg_dump -Fd -j ${workers} + pg_restore -j ${workers}:            ${seconds(dumpMs)}   ratio ours/pg_dump = ${(oursMs / dumpMs).toFixed(2)}`);
    console.log(`single stream (export.tables + migrate.load):    ${seconds(singleMs)}   ratio ours/single = ${(oursMs / singleMs).toFixed(2)}`);
  } finally {
    await Promise.all([sourceServer.stop(), targetServer.stop()]);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
