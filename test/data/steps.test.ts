import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type Plan } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { planDatabase } from '../../src/adapters/postgres.js';
import { dataSteps } from '../../src/steps/data/index.js';
import type { Progress, StepContext, StepResult } from '../../src/steps/types.js';
import { startFakeSupabaseAuth, type FakeSupabaseAuth } from '../fakes/supabase-auth.js';
import { usePostgres } from '../support/postgres.js';
import { dataStepContext, makePair, passwordOf, withClockDriven, withCredentials, type Pair } from './support.js';

/**
 * The data path as the engine runs it: each step action through a StepContext, in runbook order,
 * with connection strings only in the environment.
 */

const server = usePostgres();
const runId = '2026-12-05-freshtrack';
const SERVICE_KEY = 'service-role-key-that-must-not-leak';

let pair: Pair;
let fake: FakeSupabaseAuth;
let planDir: string;
let plan: Plan;
const clock = new ManualClock(Date.parse('2026-12-05T22:00:00Z'));
const outputs: Record<string, unknown> = {};
const notes: string[] = [];
const progress: Progress[] = [];
let env: Record<string, string | undefined>;

beforeAll(async () => {
  pair = await makePair(server(), 'steps');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 20_000 });
  fake = await startFakeSupabaseAuth({ users: 48, serviceRoleKey: SERVICE_KEY });
  planDir = await mkdtemp(join(tmpdir(), 'cutover-plan-'));
  plan = planSchema.parse({ ...examplePlan, freeze: { quietWindow: '30s' } });
  env = {
    SOURCE_DATABASE_URL: pair.sourceUrl,
    TARGET_DATABASE_URL: pair.targetUrl,
    SUPABASE_URL: fake.url,
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
  };
});
afterAll(async () => {
  await fake.close();
  await rm(planDir, { recursive: true, force: true });
  await pair.cleanup();
});

const context = (stepId: string, overrides: Partial<StepContext> = {}) => dataStepContext({ plan, planDir, runId, clock, outputs, env, notes, progress }, stepId, overrides);

/** Run a step like the engine: the output is kept for later steps; the manual clock follows any wait. */
async function runStep(stepId: string, overrides: Partial<StepContext> = {}): Promise<StepResult> {
  const result = await withClockDriven(clock, dataSteps[stepId]!.run(context(stepId, overrides)));
  outputs[stepId] = result.output;
  return result;
}

const secrets = () => [pair.sourceUrl, pair.targetUrl, passwordOf(pair.sourceUrl), SERVICE_KEY];

function expectNoSecrets(text: string) {
  for (const secret of secrets()) expect(text).not.toContain(secret);
}

describe('data steps through the step context', () => {
  it('run from T-24h checks through freeze, export, load and verify, with small secret-free outputs', async () => {
    const ready = await runStep('final.target-ready');
    expect(ready.summary).toMatch(/^Target ready: 10 tables with matching columns, 2 extensions; .* free of .* needed$/);

    const dryRun = await runStep('final.export-dry-run');
    expect(dryRun.output).toMatchObject({ rows: expect.any(Number), fitsWindow: true });
    expect(dryRun.attention).toBeUndefined();
    expect((await readdir(join(planDir, 'exports'))).filter((f) => f.includes('dry-run'))).toEqual([]);

    const freeze = await runStep('freeze.enable');
    expect(freeze.summary).toMatch(
      /^Revoked \d+ write grants on 10 tables from anon, authenticated, service_role; every write refused on 11 tables; ended 0 sessions$/,
    );
    // 4 write privileges on 10 tables, USAGE and UPDATE on temperature_readings' identity sequence, for 3 roles.
    expect((outputs['freeze.enable'] as { revoked: unknown[] }).revoked.length).toBe(3 * (10 * 4 + 2));
    expect((outputs['freeze.enable'] as { guarded: string[] }).guarded).toContain('auth.users');
    expect(notes).toContain(
      'freeze: revoked on public.organizations: DELETE, INSERT, TRUNCATE, UPDATE from anon (granted by postgres); ' +
        'DELETE, INSERT, TRUNCATE, UPDATE from authenticated (granted by postgres); DELETE, INSERT, TRUNCATE, UPDATE from service_role (granted by postgres)',
    );

    const quiet = await runStep('freeze.verify-no-writes');
    expect(quiet.summary).toBe('No writes for 30s on 10 tables; 30 INSERT attempts as anon, authenticated, service_role were refused; the guard trigger refused our own INSERT on all 10');

    const snapshot = await runStep('freeze.snapshot');
    const counts = (outputs['freeze.snapshot'] as { counts: Record<string, number> }).counts;
    expect(counts['public.temperature_readings']).toBe(20_000);
    expect(snapshot.summary).toMatch(/^Cutover point .* at WAL [0-9A-F]+\/[0-9A-F]+: \d+ rows in 10 tables$/);

    const exported = await runStep('export.tables');
    expect(exported.summary).toMatch(/^Exported \d+ rows .* from 10 tables in [\d.]+ s; 48 auth users; 0 writes between 17:00 and 17:00 [+-]\d{2}:\d{2}$/);
    const dir = join(planDir, 'exports', runId);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'auth-users.json'))).mode & 0o777).toBe(0o600);
    expect(progress.some((p) => p.label === 'export public.temperature_readings' && p.unit === 'rows')).toBe(true);

    const again = await runStep('export.tables');
    expect(again.summary).toMatch(/\(10 already done\); 48 auth users; 0 writes between 17:00 and 17:00 [+-]\d{2}:\d{2}$/);
    expect(fake.requests).toHaveLength(1);

    const checked = await runStep('export.verify');
    expect(checked.output).toMatchObject({ tables: 10, rows: Object.values(counts).reduce((a, b) => a + b, 0), authUsers: 48 });

    const loaded = await runStep('migrate.load');
    expect(loaded.summary).toMatch(/^Loaded \d+ rows into 10 tables in [\d.]+ s$/);
    expect(progress.at(-1)).toMatchObject({ label: 'load public.ttn_connections', unit: 'rows' });
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);

    const verified = await runStep('migrate.verify');
    expect(verified.summary).toMatch(/^Source and target identical: 10 tables, \d+ rows/);
    // The source side was hashed during the export, over the export's snapshot.
    const verifiedTables = (outputs['migrate.verify'] as { tables: { sourceDigestFrom: string }[] }).tables;
    expect(verifiedTables.map((t) => t.sourceDigestFrom)).toEqual(Array(10).fill('export'));

    const unfreeze = await runStep('rollback.unfreeze-source');
    expect(unfreeze.summary).toBe(`Removed the write barrier from 11 tables and restored ${3 * (10 * 4 + 2)} write grants revoked at freeze.enable; the source accepts writes again`);

    for (const [step, output] of Object.entries(outputs)) {
      const text = JSON.stringify(output);
      expect(text.length, step).toBeLessThan(20_000);
      expectNoSecrets(text);
    }
    expectNoSecrets(notes.join('\n'));
    expectNoSecrets(await readFile(join(dir, 'manifest.json'), 'utf8'));
  });

  it('names a table and the kind of difference when migrate.verify fails', async () => {
    await pair.sql('target', `DELETE FROM public.user_roles WHERE user_id = (SELECT user_id FROM public.user_roles WHERE role = 'owner' ORDER BY user_id LIMIT 1) AND role = 'owner'`);
    await expect(runStep('migrate.verify')).rejects.toThrow(/DIFF public\.user_roles: \d+ rows on the source, \d+ on the target\n\s+missing rows: 1 \(e\.g\. key \(/);
  });

  it('unfreeze passes and says so when nothing was revoked', async () => {
    const result = await runStep('rollback.unfreeze-source', {
      outputs: { 'freeze.enable': { revoked: [] } },
    });
    expect(result.summary).toMatch(/^Removed the write barrier from \d+ tables and restored 0 write grants revoked at freeze.enable/);
  });

  it('says which environment variable is missing, without printing any connection string', async () => {
    const failure = runStep('freeze.snapshot', { env: { TARGET_DATABASE_URL: pair.targetUrl } });
    await expect(failure).rejects.toThrow(
      /^SOURCE_DATABASE_URL is not set: set it to the source database's connection string/,
    );
    const wrongPassword = runStep('freeze.snapshot', {
      env: { SOURCE_DATABASE_URL: withCredentials(pair.sourceUrl, 'postgres', 'hunter2') },
    });
    await expect(wrongPassword).rejects.toThrow(
      'Could not connect to the source database (SOURCE_DATABASE_URL): password authentication failed for user "postgres"',
    );
    await wrongPassword.catch((error: Error) => expect(error.message).not.toContain('hunter2'));
  });

  it('pins TimeZone, DateStyle and extra_float_digits on every session it opens', async () => {
    await pair.sql('source', `ALTER DATABASE ${pair.sourceUrl.split('/').pop()} SET TimeZone = 'America/New_York'`);
    await pair.sql('source', `ALTER DATABASE ${pair.sourceUrl.split('/').pop()} SET DateStyle = 'SQL, DMY'`);
    const client = await planDatabase(plan, env, 'source').connect();
    try {
      const settings = await client.query(
        `SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds, current_setting('extra_float_digits') AS efd,
                now()::text LIKE '%+00' AS utc`,
      );
      expect(settings.rows[0]).toEqual({ tz: 'UTC', ds: 'ISO, MDY', efd: '3', utc: true });
    } finally {
      await client.end();
    }
  });

  it('has a dry-run text for every action, with its SQL and tables, and no side effects', async () => {
    expect(Object.keys(dataSteps).sort()).toEqual(
      [
        'export.tables',
        'export.verify',
        'final.export-dry-run',
        'final.target-ready',
        'freeze.enable',
        'freeze.snapshot',
        'freeze.verify-no-writes',
        'migrate.load',
        'migrate.verify',
        'rollback.unfreeze-source',
      ].sort(),
    );
    const texts: Record<string, string> = {};
    for (const [id, action] of Object.entries(dataSteps)) texts[id] = await action.dryRun(context(id, { env: {} }));
    expect(texts['freeze.enable']).toContain('REVOKE <privilege> ON TABLE <table> FROM <role>');
    expect(texts['freeze.enable']).toContain('public.temperature_readings');
    expect(texts['freeze.verify-no-writes']).toContain('SET LOCAL ROLE <role>; INSERT INTO <table> DEFAULT VALUES');
    expect(texts['freeze.snapshot']).toContain('pg_current_wal_lsn()');
    expect(texts['export.tables']).toContain('public.temperature_readings (20000 rows at the cutover point)');
    expect(texts['migrate.load']).toContain('SET LOCAL session_replication_role = replica');
    expect(texts['migrate.verify']).toContain('hashtextextended');
    expect(texts['rollback.unfreeze-source']).toContain('GRANT DELETE on public.alert_instances to anon by postgres');
    for (const text of Object.values(texts)) expectNoSecrets(text);
  });
});
