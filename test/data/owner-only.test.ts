import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema } from '../../src/config/schema.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { archiveExports } from '../../src/steps/core/archive.js';
import { exportTables } from '../../src/steps/data/export.js';
import type { StepContext } from '../../src/steps/types.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Issue 10, item 7: files that hold user data are owner-only whatever the umask and whatever the mode
 * of an existing folder. Found: the close.archive tarball was written 0644 into an exports/ at 0755.
 */

const server = usePostgres();
const runId = '2026-12-05-freshtrack';
let pair: Pair;
let planDir: string;
let previousUmask: number;

beforeAll(async () => {
  pair = await makePair(server(), 'owner_only');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 200 });
  planDir = await mkdtemp(join(tmpdir(), 'cutover-owner-only-'));
  previousUmask = process.umask(0o000);
});
afterAll(async () => {
  process.umask(previousUmask);
  await rm(planDir, { recursive: true, force: true });
  await pair.cleanup();
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('owner-only files under umask 000 in a pre-existing 0755 folder', () => {
  it('every export file, the manifest, the archive and its checksum are 0600', async () => {
    const exportsRoot = join(planDir, 'exports');
    await mkdir(exportsRoot, { mode: 0o755 });
    expect(await modeOf(exportsRoot)).toBe(0o755);
    const dir = join(exportsRoot, runId);
    await exportTables({ source: pair.source, tables: examplePlan.tables.map((t) => t.name), dir, runId });

    const plan = planSchema.parse(examplePlan);
    const ctx = { plan, planDir, runId, stepId: 'close.archive', signal: new AbortController().signal } as unknown as StepContext;
    const result = await archiveExports.run(ctx);
    expect(result.output).toMatchObject({ archive: join(exportsRoot, `${runId}.tar.gz`) });

    expect(await modeOf(dir)).toBe(0o700);
    const inside = await readdir(dir);
    expect(inside).toEqual(expect.arrayContaining(['manifest.json', 'SHA256SUMS', 'public.temperature_readings.copy']));
    const modes: Record<string, string> = {};
    for (const name of inside) modes[name] = (await modeOf(join(dir, name))).toString(8);
    for (const name of await readdir(exportsRoot)) {
      if (name !== runId) modes[name] = (await modeOf(join(exportsRoot, name))).toString(8);
    }
    expect(Object.keys(modes)).toEqual(expect.arrayContaining([`${runId}.tar.gz`, `${runId}.tar.gz.sha256`]));
    expect(Object.entries(modes).filter(([, mode]) => mode !== '600')).toEqual([]);
  });
});
