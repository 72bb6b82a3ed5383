import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { ExitError } from '../../src/engine/errors.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { exportFileName, exportTables } from '../../src/steps/data/export.js';
import { readManifest } from '../../src/steps/data/manifest.js';
import { makePair, type Pair } from '../data/support.js';
import { usePostgres } from '../support/postgres.js';
import { canMount, fill, mountTmpfs, remount } from './fault-fs.js';

/**
 * Issue 13: a full or read-only export folder during COPY used to hang the export for ever
 * (ROLLBACK sent on a connection still in COPY OUT) and leave the snapshot holder idle in transaction
 * on the source. Now it fails within a bound, with a message, and releases everything.
 */

const server = usePostgres();
const NAMES = freshTrackTables!.map((t) => t.name);
const READINGS = 'public.temperature_readings';
const mountable = canMount();

let pair: Pair;
const unmounts: Array<() => void> = [];
beforeAll(async () => {
  pair = await makePair(server(), 'exportfault');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 200_000, seed: 5 });
}, 240_000);
afterAll(async () => {
  await pair?.cleanup();
});
afterEach(() => {
  for (const unmount of unmounts.splice(0)) unmount();
});

/** Our sessions on the source still open: none may stay "idle in transaction" holding the snapshot. */
async function openSessions(): Promise<number> {
  const rows = await pair.sql<{ n: string }>('source', "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'");
  return Number(rows[0]!.n);
}

async function expectReleased(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await openSessions()) > 0) {
    if (Date.now() > deadline) throw new Error('a source session is still open after the export failed');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The export fails (never hangs: the test would time out) with a clear refusal. */
async function failedExport(dir: string, runId: string, progress?: () => void): Promise<ExitError> {
  const error = await exportTables({ source: pair.source, tables: NAMES, dir, runId, parallel: 1, ...(progress ? { progress } : {}) }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ExitError);
  return error as ExitError;
}

async function resumeAndCheck(dir: string, runId: string): Promise<void> {
  const summary = await exportTables({ source: pair.source, tables: NAMES, dir, runId, parallel: 1 });
  expect(summary.tables.find((t) => t.table === READINGS)?.rows).toBe(200_000);
  const manifest = (await readManifest(dir))!;
  expect(Object.keys(manifest.tables).sort()).toEqual([...NAMES].sort());
  expect(readdirSync(dir).filter((name) => name.endsWith('.part'))).toEqual([]);
}

describe.skipIf(!mountable)('an export folder that fails under the COPY', () => {
  it('a full disk mid-COPY: the export stops with a message, the snapshot is released, and a retry after freeing space finishes', async () => {
    const dir = join(pair.dir, 'full');
    unmounts.push(mountTmpfs(dir, '64m'));
    const filler = fill(dir, 2 * 1024 * 1024); // 2 MiB free: the small tables fit, the readings do not
    const error = await failedExport(dir, 'run-full');
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain(`The export folder ${dir} ran out of space while exporting ${READINGS}`);
    expect(existsSync(join(dir, `${exportFileName(READINGS)}.part`))).toBe(false);
    await expectReleased();
    rmSync(filler);
    await resumeAndCheck(dir, 'run-full');
  }, 240_000);

  it('a folder that turns read-only between tables: the export stops with a message naming it, the snapshot is released', async () => {
    const dir = join(pair.dir, 'readonly');
    unmounts.push(mountTmpfs(dir, '64m'));
    let first: string | undefined;
    let readOnly = false;
    const error = await failedExport(dir, 'run-ro', () => {
      // Between two tables no file is open for writing, so the remount is allowed.
      first ??= NAMES.find((name) => existsSync(join(dir, exportFileName(name))));
      if (first && !readOnly) {
        remount(dir, 'ro');
        readOnly = true;
      }
    });
    expect(readOnly).toBe(true);
    expect(error.message).toMatch(/Permission problem \(EROFS\) .* in the export folder/);
    await expectReleased();
    remount(dir, 'rw');
    await resumeAndCheck(dir, 'run-ro');
  }, 240_000);
});

