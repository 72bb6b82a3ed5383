import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { peopleInstant } from '../../src/engine/time-format.js';
import type { CutoverPoint } from '../../src/steps/data/manifest.js';
import { readDeltaManifest } from '../../src/steps/rollback/delta-manifest.js';
import { deltaDir, targetGrantRecordFile } from '../../src/steps/rollback/index.js';
import type { Progress } from '../../src/steps/types.js';
import { useFixtures } from './use-fixtures.js';
import {
  BRANCH,
  NEW_READINGS,
  SOURCE_EVENTS,
  SOURCE_WRITES_AFTER_UNFREEZE,
  context,
  migrate,
  runStep,
  writeAfterSwitch,
  type Fixture,
} from './fixture.js';

/**
 * Issue 6, point 4: a rollback killed mid-way (SIGKILL, in a child process, in the middle of
 * rollback.export-delta and of rollback.reimport) and resumed as the engine resumes (the step in
 * flight runs again, finished steps keep their outputs) ends in the same state as an uninterrupted
 * one: source rows and sequences, target rows and grants, the delta files, manifest and report.
 */

const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const child = join(import.meta.dirname, 'branch-child.ts');
const { newFixture } = useFixtures('rollback-kill');
const TABLES = ['devices', 'readings', 'events'];

/** A cutover that switched and took writes on the target; the same in every call. */
async function switchedCutover(name: string): Promise<Fixture> {
  const f = await newFixture(name);
  await migrate(f);
  await writeAfterSwitch(f);
  return f;
}

const outputsFile = (f: Fixture) => join(f.planDir, 'outputs.json');

/** Run the branch in a child from the start; SIGKILL it where it pauses (mid-step). Resolves with that report. */
async function runChildUntilKilled(f: Fixture, pauseLabel: string): Promise<Progress> {
  // The state the engine would hand over: outputs of the window's steps (freeze.enable, freeze.snapshot, …).
  await writeFile(outputsFile(f), JSON.stringify(f.outputs));
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [jiti, child, f.sourceUrl, f.targetUrl, f.planDir, outputsFile(f), pauseLabel, BRANCH[0]!],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let pausedAt: Progress | undefined;
    proc.stderr.on('data', (chunk) => (stderr += chunk));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { paused?: Progress };
      if (message.paused && !pausedAt) {
        pausedAt = message.paused;
        proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && pausedAt) resolve(pausedAt);
      else reject(new Error(`the child was not killed mid-way (exit ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

/** Resume like the engine: outputs of finished steps from the saved state; the step in flight runs again. */
async function resume(f: Fixture): Promise<string> {
  const saved = JSON.parse(await readFile(outputsFile(f), 'utf8').catch(() => '{}')) as Record<string, unknown>;
  Object.assign(f.outputs, saved);
  const inFlight = BRANCH.find((step) => !(step in saved))!;
  for (const step of BRANCH.slice(BRANCH.indexOf(inFlight))) await runStep(f, step);
  return inFlight;
}

/** Everything the rollback leaves behind, in a form two fixtures can be compared by. */
async function endState(f: Fixture) {
  const dir = deltaDir(context(f, 'x'));
  const rows = async (side: 'source' | 'target') =>
    Object.fromEntries(
      await Promise.all(
        TABLES.map(async (t) => [t, (await f.sql<{ row: string }>(side, `SELECT x::text AS row FROM ${t} x ORDER BY id`)).map((r) => r.row)] as const),
      ),
    );
  const acl = (side: 'source' | 'target') =>
    f.sql(side, `SELECT relname, relacl::text AS acl FROM pg_class WHERE relname = ANY($1::text[]) ORDER BY relname`, [TABLES]);
  const files = (await readdir(dir)).filter((name) => name.endsWith('.copy') || name.endsWith('.part')).sort();
  const manifest = (await readDeltaManifest(dir))!;
  const point = f.outputs['freeze.snapshot'] as CutoverPoint;
  return {
    source: await rows('source'),
    sourceSequence: await f.sql('source', 'SELECT last_value::text, is_called FROM readings_id_seq'),
    sourceAcl: await acl('source'),
    target: await rows('target'),
    targetAcl: await acl('target'),
    targetGrantRecord: JSON.parse(await readFile(targetGrantRecordFile(context(f, 'x')), 'utf8')) as unknown,
    files: Object.fromEntries(
      await Promise.all(files.map(async (name) => [name, createHash('sha256').update(await readFile(join(dir, name))).digest('hex')] as const)),
    ),
    manifest: {
      complete: manifest.complete,
      skipped: manifest.skipped,
      reserved: manifest.reserved,
      tables: Object.fromEntries(Object.entries(manifest.tables).map(([t, { exportedAt: _, ...entry }]) => [t, entry])),
    },
    // The cutover point is each fixture's own freeze time; everything else must match byte for byte.
    report: (await readFile(join(dir, 'manual-review.md'), 'utf8')).replace(`${peopleInstant(point.at, f.plan.t0.zone)} (WAL ${point.lsn})`, '<cutover point>'),
  };
}

describe('a rollback killed mid-way and resumed', () => {
  let uninterrupted: Awaited<ReturnType<typeof endState>>;

  beforeAll(async () => {
    const f = await switchedCutover('whole');
    for (const step of BRANCH) await runStep(f, step);
    uninterrupted = await endState(f);
  });

  it('the uninterrupted run is the reference: every post-cutover row in the source, the target frozen', () => {
    expect(uninterrupted.source.readings).toHaveLength(2_000 + NEW_READINGS + 1 + SOURCE_WRITES_AFTER_UNFREEZE);
    expect(uninterrupted.source.events).toHaveLength(SOURCE_EVENTS + 5);
    expect(uninterrupted.targetAcl.every((r) => /rb_app=r\//.test(String(r.acl)))).toBe(true);
    expect(Object.keys(uninterrupted.files)).toHaveLength(9);
  });

  it('killed in export-delta (one table done, the next mid-way): resumes keeping the finished table, same end state', async () => {
    const f = await switchedCutover('export');
    const pausedAt = await runChildUntilKilled(f, 'export-delta public.readings');
    expect(pausedAt.done).toBe(NEW_READINGS + 1);

    // Evidence the kill landed mid-step: devices complete in the manifest, readings only as a .part file.
    const dir = deltaDir(context(f, 'x'));
    const before = (await readDeltaManifest(dir))!;
    expect(before.complete).toBe(false);
    expect(Object.keys(before.tables)).toEqual(['public.devices']);
    expect(existsSync(join(dir, 'public.readings.new.copy.part'))).toBe(true);
    expect(existsSync(join(dir, 'public.readings.new.copy'))).toBe(false);
    const devicesFile = join(dir, before.tables['public.devices']!.changed.file);
    const devicesMtime = (await stat(devicesFile)).mtimeMs;

    expect(await resume(f)).toBe('rollback.export-delta');
    expect(f.notes).toContain('export-delta: already exported by an earlier attempt: public.devices');
    expect((await stat(devicesFile)).mtimeMs).toBe(devicesMtime);
    expect(existsSync(join(dir, 'public.readings.new.copy.part'))).toBe(false);
    expect(await endState(f)).toEqual(uninterrupted);
  });

  it('killed in reimport (readings committed, events mid-transaction): resumes inserting nothing twice, same end state', async () => {
    const f = await switchedCutover('reimport');
    const pausedAt = await runChildUntilKilled(f, 'reimport public.events');
    expect(pausedAt).toMatchObject({ done: 5, total: 5 });

    // Readings went in (their transaction committed); the events transaction died with the process.
    const counts = (f.outputs['freeze.snapshot'] as CutoverPoint).counts;
    const [readings] = await f.sql<{ n: string }>('source', 'SELECT count(*) AS n FROM readings');
    expect(Number(readings!.n)).toBe(counts['public.readings']! + NEW_READINGS + 1 + SOURCE_WRITES_AFTER_UNFREEZE);
    const [events] = await f.sql<{ n: string }>('source', 'SELECT count(*) AS n FROM events');
    expect(Number(events!.n)).toBe(SOURCE_EVENTS);

    expect(await resume(f)).toBe('rollback.reimport');
    const output = f.outputs['rollback.reimport'] as { tables: { table: string; inserted: number; present: number }[] };
    expect(output.tables).toEqual([
      { table: 'public.readings', deltaRows: NEW_READINGS + 1, inserted: 0, present: NEW_READINGS + 1, heldBack: 0, conflicts: 0 },
      { table: 'public.events', deltaRows: 5, inserted: 5, present: 5, heldBack: 0, conflicts: 0 },
    ]);
    expect(await endState(f)).toEqual(uninterrupted);
  });
});
