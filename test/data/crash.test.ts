import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { readManifest } from '../../src/steps/data/manifest.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import type { Progress } from '../../src/steps/types.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Crash tests (DESIGN §10): a child process runs the real export or load and is killed with SIGKILL
 * half-way through the readings table; the same work is then resumed here and must give a target
 * identical to the source and a manifest whose checksums match the files.
 */

const server = usePostgres();
const TABLES = freshTrackTables!.map((t) => ({ name: t.name, key: t.key }));
const NAMES = TABLES.map((t) => t.name);
const READINGS = 'public.temperature_readings';
// Enough rows that exporting and loading them takes well over the progress interval (100 ms).
const READING_COUNT = 600_000;
const runId = 'run-crash';
const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const child = join(import.meta.dirname, 'crash-child.ts');

let pair: Pair;
let dir: string;
beforeAll(async () => {
  pair = await makePair(server(), 'crash');
  dir = join(pair.dir, runId);
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: READING_COUNT, seed: 3 });
});
afterAll(async () => {
  await pair.cleanup();
});

/**
 * Run the child until `shouldKill` says so for one of its progress reports, then SIGKILL it.
 * Resolves with the report it was killed at; fails if the child finished first.
 */
function runAndKill(mode: 'export' | 'load', shouldKill: (report: Progress) => boolean): Promise<Progress> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [jiti, child, mode, pair.sourceUrl, pair.targetUrl, dir, runId, NAMES.join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let killedAt: Progress | undefined;
    proc.stderr.on('data', (chunk) => (stderr += chunk));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const report = JSON.parse(line) as Progress & { finished?: boolean };
      if (!killedAt && !report.finished && shouldKill(report)) {
        killedAt = report;
        proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killedAt) resolve(killedAt);
      else reject(new Error(`the ${mode} child was not killed mid-way (exit ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

async function count(side: 'source' | 'target', table: string): Promise<number> {
  const [row] = await pair.sql<{ n: string }>(side, `SELECT count(*) AS n FROM ${table}`);
  return Number(row!.n);
}

describe('crash and resume', () => {
  it('export killed mid-table resumes: finished tables are skipped, the partial one is rewritten, checksums match', async () => {
    const killedAt = await runAndKill('export', (r) => r.label === `export ${READINGS}` && r.done >= (r.total ?? Infinity) * 0.4);
    expect(killedAt.done).toBeLessThan(READING_COUNT);

    // Evidence that the kill landed mid-table: a partial file and no manifest entry for readings.
    const partial = join(dir, `${READINGS}.copy.part`);
    expect(existsSync(partial)).toBe(true);
    expect(existsSync(join(dir, `${READINGS}.copy`))).toBe(false);
    const before = (await readManifest(dir))!;
    expect(before.tables[READINGS]).toBeUndefined();
    const doneBefore = Object.keys(before.tables);
    expect(doneBefore.length).toBeGreaterThan(0);
    const mtimes = new Map(
      await Promise.all(doneBefore.map(async (t) => [t, (await stat(join(dir, before.tables[t]!.file))).mtimeMs] as const)),
    );

    const resumed = await exportTables({ source: pair.source, tables: NAMES, dir, runId });
    expect(resumed.tables.filter((t) => t.skipped).map((t) => t.table).sort()).toEqual(doneBefore.sort());
    expect(resumed.tables.find((t) => t.table === READINGS)).toMatchObject({ skipped: false, rows: READING_COUNT });
    for (const [table, mtime] of mtimes) expect((await stat(join(dir, before.tables[table]!.file))).mtimeMs, table).toBe(mtime);
    expect(existsSync(partial)).toBe(false);

    const manifest = (await readManifest(dir))!;
    expect(Object.keys(manifest.tables).sort()).toEqual([...NAMES].sort());
    for (const table of NAMES) {
      const entry = manifest.tables[table]!;
      const content = await readFile(join(dir, entry.file));
      expect(createHash('sha256').update(content).digest('hex'), table).toBe(entry.sha256);
      expect(content.length, table).toBe(entry.bytes);
      expect(entry.rows, table).toBe(await count('source', table));
    }
  });

  it('load killed mid-table rolls that table back; resuming skips loaded tables and gives an identical target', async () => {
    const killedAt = await runAndKill('load', (r) => r.label === `load ${READINGS}` && r.done >= (r.total ?? Infinity) * 0.5);
    expect(killedAt.done).toBeLessThan(killedAt.total!);

    // The killed transaction is rolled back by the server once it notices the client is gone.
    const loaded = async () =>
      (await pair.sql<{ table_name: string }>('target', `SELECT table_name FROM cutover_meta.loaded WHERE run_id = '${runId}'`)).map(
        (r) => r.table_name,
      );
    const loadedBefore = await loaded();
    expect(loadedBefore).not.toContain(READINGS);
    expect(loadedBefore.length).toBeGreaterThan(0);

    const resumed = await loadTables({ target: pair.target, dir, runId, tables: NAMES });
    expect(resumed.tables.filter((t) => t.skipped).map((t) => t.table).sort()).toEqual(loadedBefore.sort());
    expect(resumed.tables.find((t) => t.table === READINGS)).toMatchObject({ skipped: false, rows: READING_COUNT, indexesRebuilt: 2 });
    expect(await count('target', READINGS)).toBe(READING_COUNT);

    const report = await verifyTables({ source: pair.source, target: pair.target, tables: TABLES });
    expect(report.tables.filter((t) => !t.match)).toEqual([]);
    expect(report.ok).toBe(true);

    // The application can write again on the target: the identity continues after the last reading.
    const [next] = await pair.sql<{ id: string }>(
      'target',
      `INSERT INTO temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 4.2 FROM sensors LIMIT 1 RETURNING id`,
    );
    expect(Number(next!.id)).toBe(READING_COUNT + 1);
  });
});
