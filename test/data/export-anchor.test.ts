import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type Plan } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Journal } from '../../src/engine/journal.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import type { ExportAnchor } from '../../src/steps/data/anchor.js';
import { dataSteps } from '../../src/steps/data/index.js';
import type { StepResult } from '../../src/steps/types.js';
import { usePostgres } from '../support/postgres.js';
import { dataStepContext, makePair, tableText, type Pair } from './support.js';

/**
 * Issue 10, item 5: the export anchored in the journal. A manifest rewritten consistently (rows
 * changed, checksums recomputed) is refused by migrate.load; a file damaged on disk is exported again
 * from the still-frozen source (the counters prove it unchanged) and the load succeeds.
 */

const server = usePostgres();
const runId = '2026-12-05-freshtrack';
let pair: Pair;
let planDir: string;
let plan: Plan;
let stateDir: string;
const clock = new ManualClock(Date.parse('2026-12-06T03:10:00Z'));
const outputs: Record<string, unknown> = {};
const notes: string[] = [];

beforeAll(async () => {
  pair = await makePair(server(), 'anchor');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 1_000 });
  planDir = await mkdtemp(join(tmpdir(), 'cutover-anchor-'));
  stateDir = join(planDir, '.cutover');
  await mkdir(stateDir, { recursive: true });
  const { supabase: _none, ...source } = examplePlan.source;
  plan = planSchema.parse({ ...examplePlan, source });
});
afterAll(async () => {
  await rm(planDir, { recursive: true, force: true });
  await pair.cleanup();
});

const context = (stepId: string) =>
  dataStepContext({ plan, planDir, stateDir, runId, clock, outputs, notes, env: { SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl } }, stepId);

/** Run a step and journal its result as the runner does (step.finished with the result). */
async function runStep(stepId: string): Promise<StepResult> {
  const result = await dataSteps[stepId]!.run(context(stepId));
  outputs[stepId] = result.output;
  Journal.open(stateDir).append(clock.now(), 'step.finished', { stepId, attempt: 1, summary: result.summary, result: { summary: result.summary, output: result.output } });
  return result;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('the export anchored in the journal (issue 10, item 5)', () => {
  it('refuses a consistently forged manifest, and re-exports a damaged file so that the load succeeds', async () => {
    await runStep('freeze.enable');
    await runStep('freeze.snapshot');
    const exported = await runStep('export.tables');
    const anchor = (exported.output as { anchor: ExportAnchor }).anchor;
    expect(Object.keys(anchor.tables)).toHaveLength(10);
    expect(anchor.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(anchor.tables['public.organizations']).toMatchObject({ rows: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), digest: { rows: expect.any(Number), hash: expect.any(String) } });
    // Only the journal holds it from here on: the run's outputs lose it.
    delete (outputs['export.tables'] as { anchor?: unknown }).anchor;
    await runStep('export.verify');

    const dir = join(planDir, 'exports', runId);
    const manifestFile = join(dir, 'manifest.json');
    const orgFile = join(dir, 'public.organizations.copy');
    await copyFile(manifestFile, join(planDir, 'manifest.orig'));
    await copyFile(orgFile, join(planDir, 'organizations.orig'));

    // Forged: an organization renamed in the file, the manifest's rows, bytes and sha256 recomputed to match.
    const original = await readFile(orgFile, 'utf8');
    const forged = original.replace(/^([^\t]+)\t([^\t]+)\t/, '$1\tForged Org\t');
    expect(forged).not.toBe(original);
    await writeFile(orgFile, forged);
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { tables: Record<string, { bytes: number; sha256: string }> };
    manifest.tables['public.organizations']!.bytes = Buffer.byteLength(forged);
    manifest.tables['public.organizations']!.sha256 = sha256(forged);
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    await expect(dataSteps['migrate.load']!.run(context('migrate.load'))).rejects.toThrow(
      /^migrate\.load refused: the export in .* is not the one export\.tables recorded in the journal — public\.organizations: bytes \d+ where the journal has \d+, sha256 "[0-9a-f]+" where the journal has "[0-9a-f]+"\. .*nothing was loaded from it\.$/,
    );
    expect(await pair.sql('target', 'SELECT count(*)::int AS n FROM public.organizations')).toEqual([{ n: 0 }]);

    // Damaged: the manifest is the original again, a file is cut short on disk.
    await copyFile(join(planDir, 'manifest.orig'), manifestFile);
    await writeFile(orgFile, original.slice(0, original.length / 2));
    const loaded = await runStep('migrate.load');
    expect(loaded.summary).toMatch(/^Loaded \d+ rows into 10 tables/);
    expect(notes).toContain('re-exported public.organizations (damaged on disk) from the frozen source: identical to the journal');
    expect(sha256(await readFile(orgFile))).toBe(anchor.tables['public.organizations']!.sha256);
    expect(await tableText(pair, 'target', 'public.organizations', 'id')).toEqual(await tableText(pair, 'source', 'public.organizations', 'id'));
    const verified = await runStep('migrate.verify');
    expect(verified.summary).toMatch(/^Source and target identical: 10 tables/);
  });
});
