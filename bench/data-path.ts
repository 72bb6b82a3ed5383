import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseAt } from '../src/adapters/postgres.js';
import { startEmbeddedPostgres } from '../src/rehearsal/embedded.js';
import { generateData, prepareSource, prepareTarget } from '../src/rehearsal/freshtrack.js';
import { exportTables } from '../src/steps/data/export.js';
import { loadTables } from '../src/steps/data/load.js';
import { readManifest } from '../src/steps/data/manifest.js';
import { digestsFromManifest, verifyTables } from '../src/steps/data/verify.js';

/**
 * Data-path benchmark (`node dist/bench/data-path.js [readings]`, default 5,000,000).
 *
 * On one generated FreshTrack source, moves `temperature_readings` to a target twice:
 *  - ours: export.tables (COPY text to a file, sha256) + migrate.load (TRUNCATE + COPY FREEZE, index
 *    rebuilt, sequences, ANALYZE) + migrate.verify (count and content hash on both sides, orphan check);
 *  - pg_dump -Fc -t public.temperature_readings | pg_restore --data-only --disable-triggers, into an
 *    identical, indexed, empty table (--disable-triggers matches our load, which skips foreign key
 *    triggers too).
 * Both targets live on the same target server, source and target are separate servers, as in a cutover.
 * Prints each phase, the ratio (ours / pg_dump|pg_restore; target ≤ 1.0) and peak RSS (target < 200 MB).
 */

const READINGS = 'public.temperature_readings';
const PG_BIN = '/usr/bin';

interface Timed<T> {
  ms: number;
  value: T;
}

async function time<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Run `pg_dump | pg_restore` under /usr/bin/time to get each one's peak RSS. */
function dumpAndRestore(sourceUrl: string, targetUrl: string): Promise<{ dumpKb: number; restoreKb: number }> {
  return new Promise((resolve, reject) => {
    const timeFormat = ['-f', 'maxrss_kb=%M'];
    const dump = spawn('/usr/bin/time', [...timeFormat, `${PG_BIN}/pg_dump`, '-Fc', '-t', READINGS, '-d', sourceUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const restore = spawn(
      '/usr/bin/time',
      [...timeFormat, `${PG_BIN}/pg_restore`, '--data-only', '--disable-triggers', '-d', targetUrl],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    dump.stdout.pipe(restore.stdin);
    let dumpErr = '';
    let restoreErr = '';
    dump.stderr.on('data', (c) => (dumpErr += c));
    restore.stderr.on('data', (c) => (restoreErr += c));
    const exit = (proc: ChildProcess) => new Promise<number | null>((done) => proc.on('exit', (code) => done(code)));
    Promise.all([exit(dump), exit(restore)]).then(([dumpCode, restoreCode]) => {
      if (dumpCode !== 0 || restoreCode !== 0) {
        reject(new Error(`pg_dump exited ${dumpCode}, pg_restore ${restoreCode}:\n${dumpErr}\n${restoreErr}`));
        return;
      }
      const rss = (text: string) => Number(/maxrss_kb=(\d+)/.exec(text)?.[1] ?? NaN);
      resolve({ dumpKb: rss(dumpErr), restoreKb: rss(restoreErr) });
    }, reject);
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  const readings = Number(process.argv[2] ?? 5_000_000);
  if (!Number.isInteger(readings) || readings < 1) throw new Error(`usage: data-path.js [readings], got ${process.argv[2]}`);
  const scratch = await mkdtemp(join(tmpdir(), 'cutover-bench-'));
  const sourceServer = await startEmbeddedPostgres();
  const targetServer = await startEmbeddedPostgres();
  try {
    const sourceUrl = await sourceServer.createDatabase('freshtrack');
    const oursUrl = await targetServer.createDatabase('ours');
    const theirsUrl = await targetServer.createDatabase('pgdump');
    const setup = await time(async () => {
      const source = new pg.Client(sourceUrl);
      await source.connect();
      await prepareSource(source);
      await generateData(source, { readings, seed: 1 });
      await source.end();
      for (const url of [oursUrl, theirsUrl]) {
        const target = new pg.Client(url);
        await target.connect();
        await prepareTarget(target);
        await target.end();
      }
    });
    const [size] = await query<{ table: string; total: string }>(
      sourceUrl,
      `SELECT pg_size_pretty(pg_table_size('${READINGS}')) AS table, pg_size_pretty(pg_total_relation_size('${READINGS}')) AS total`,
    );
    console.log(`readings: ${readings.toLocaleString('en-US')} (table ${size!.table}, with indexes ${size!.total}); generated in ${seconds(setup.ms)}`);

    // The parents, untimed, into both targets, so the orphan check has its parents (pg_restore does not need them).
    const source = databaseAt(sourceUrl, 'bench source');
    const ours = databaseAt(oursUrl, 'bench target (ours)');
    const parents = ['public.organizations', 'public.sites', 'public.areas', 'public.units', 'public.sensors'];
    await exportTables({ source, tables: parents, dir: join(scratch, 'parents'), runId: 'parents' });
    for (const url of [oursUrl, theirsUrl]) {
      await loadTables({ target: databaseAt(url, 'bench target'), dir: join(scratch, 'parents'), runId: 'parents' });
    }
    // Warm the operating system's cache with the source table, so neither contender pays for it alone.
    await query(sourceUrl, `SELECT count(*) FROM ${READINGS}`);

    const dir = join(scratch, 'run');
    const exported = await time(() => exportTables({ source, tables: [READINGS], dir, runId: 'bench' }));
    const loaded = await time(() => loadTables({ target: ours, dir, runId: 'bench' }));
    // As migrate.verify does: the source's digest was computed during the export, from its snapshot.
    const verified = await time(async () =>
      verifyTables({
        source,
        target: ours,
        tables: [{ name: READINGS, key: ['id'] }],
        sourceDigests: digestsFromManifest(await readManifest(dir)),
      }),
    );
    if (!verified.value.ok) throw new Error('verify found differences: the benchmark is void');
    const oursRss = process.resourceUsage().maxRSS;

    const restored = await time(() => dumpAndRestore(sourceUrl, theirsUrl));
    const [count] = await query<{ n: string }>(theirsUrl, `SELECT count(*) AS n FROM ${READINGS}`);
    if (Number(count!.n) !== readings) throw new Error(`pg_restore loaded ${count!.n} rows, expected ${readings}`);

    const oursMs = exported.ms + loaded.ms + verified.ms;
    const rate = (ms: number) => `${Math.round((readings / ms) * 1000).toLocaleString('en-US')} rows/s`;
    console.log(`ours    export  ${seconds(exported.ms)}  (${(exported.value.bytes / 1048576).toFixed(0)} MB COPY text + sha256, source digest alongside, ${rate(exported.ms)})`);
    console.log(`ours    load    ${seconds(loaded.ms)}  (${rate(loaded.ms)}, ${loaded.value.tables[0]!.indexesRebuilt} indexes rebuilt, ANALYZE)`);
    console.log(`ours    verify  ${seconds(verified.ms)}  (target count + content hash vs the source's from the export snapshot, orphan check)`);
    console.log(`ours    total   ${seconds(oursMs)}  (export + load ${seconds(exported.ms + loaded.ms)})`);
    console.log(`pg_dump -Fc | pg_restore --data-only  ${seconds(restored.ms)}`);
    console.log(`ratio ours/pg_dump: ${(oursMs / restored.ms).toFixed(2)} (export+load+verify), ${((exported.ms + loaded.ms) / restored.ms).toFixed(2)} (export+load only); target <= 1.0`);
    console.log(
      `peak RSS: ours ${mb(oursRss)} (this process, target < 200 MB); pg_dump ${mb(restored.value.dumpKb)}, pg_restore ${mb(restored.value.restoreKb)}`,
    );
  } finally {
    await Promise.allSettled([sourceServer.stop(), targetServer.stop()]);
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
