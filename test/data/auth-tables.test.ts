import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema } from '../../src/config/schema.js';
import { checkPlanCoverage } from '../../src/steps/data/accounted.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { checkTargetReady } from '../../src/steps/data/target-ready.js';
import { formatVerifyReport, verifyTables } from '../../src/steps/data/verify.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Supabase's auth tables (issue 11, item 7): auth.users and auth.identities may be plan tables when the
 * target is a self-hosted Supabase with the auth schema; a foreign key from the application to a table
 * that is not migrated is reported by `check` with what to do, instead of surfacing as orphans at verify.
 */

const server = usePostgres();

const AUTH = `
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text, created_at timestamptz NOT NULL,
  email_lower text GENERATED ALWAYS AS (lower(email)) STORED);
CREATE TABLE auth.identities (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE, provider text NOT NULL);
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid REFERENCES auth.users);
`;
const APP = `
CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users ON DELETE CASCADE, display_name text);
`;
const DATA = `
INSERT INTO auth.users (id, email, created_at) SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'u' || i || '@example.com', timestamptz '2026-01-01' + i * interval '1 hour' FROM generate_series(1, 25) i;
INSERT INTO auth.identities SELECT ('10000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'email' FROM generate_series(1, 25) i;
INSERT INTO public.profiles SELECT id, 'name of ' || email FROM auth.users;
`;

const withAuth = [
  { name: 'auth.users', key: ['id'], timestampColumn: 'created_at' },
  { name: 'auth.identities', key: ['id'] },
  { name: 'public.profiles', key: ['id'] },
];

describe('auth tables as plan tables', () => {
  let pair: Pair;
  let env: Record<string, string>;
  beforeAll(async () => {
    pair = await makePair(server(), 'authtables');
    await pair.sql('source', AUTH + APP + DATA);
    await pair.sql('target', AUTH + APP);
    env = { SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl };
  });
  afterAll(() => pair.cleanup());

  it('a target that keeps the foreign key to auth.users: check says to add auth.users to the plan (its target has schema auth)', async () => {
    const plan = planSchema.parse({ ...examplePlan, tables: [{ name: 'public.profiles', key: ['id'] }] });
    const findings = await checkPlanCoverage(plan, env);
    expect(findings).toContainEqual({
      system: 'foreign keys',
      ok: false,
      message: expect.stringMatching(
        /^public\.profiles \(id\) references auth\.users \(constraint profiles_id_fkey\), which the plan does not migrate, and the target keeps that foreign key: .*Add auth\.users to plan\.tables \(the target has schema auth, a self-hosted Supabase\), or drop the constraint on the target \(ALTER TABLE "public"\."profiles" DROP CONSTRAINT "profiles_id_fkey"\)/,
      ),
    });
  });

  it('auth.users and auth.identities migrate as plan tables, with no orphan and every verify line clean', async () => {
    const plan = planSchema.parse({ ...examplePlan, tables: withAuth });
    expect(await checkPlanCoverage(plan, env)).toEqual([
      { system: 'plan tables', ok: true, message: 'all 1 source table in public accounted for (1 migrated, 0 excluded with a reason)' },
      { system: 'auth tables', ok: true, message: 'auth.users is a plan table and the target has schema auth (a self-hosted Supabase)' },
      { system: 'auth tables', ok: true, message: 'auth.identities is a plan table and the target has schema auth (a self-hosted Supabase)' },
    ]);
    const names = plan.tables.map((t) => t.name);
    await checkTargetReady({ source: pair.source, target: pair.target, tables: names, appRoles: [] });
    await exportTables({ source: pair.source, tables: names, dir: pair.dir, runId: 'run-auth' });
    const loaded = await loadTables({ target: pair.target, dir: pair.dir, runId: 'run-auth' });
    expect(loaded.tables.map((t) => [t.table, t.rows])).toEqual([
      ['auth.users', 25],
      ['auth.identities', 25],
      ['public.profiles', 25],
    ]);
    const report = await verifyTables({ source: pair.source, target: pair.target, tables: plan.tables, runId: 'run-auth', excludedTables: [] });
    expect(report.ok, formatVerifyReport(report)).toBe(true);
  });

  it('other auth tables stay refused, and a target without schema auth is not ready for auth.users', async () => {
    const sessions = planSchema.parse({ ...examplePlan, tables: [{ name: 'auth.sessions', key: ['id'] }] });
    await expect(exportTables({ source: pair.source, tables: sessions.tables.map((t) => t.name), dir: `${pair.dir}/x`, runId: 'run-x' })).rejects.toThrow(
      /schema "auth" is internal to Supabase.*only auth\.users and auth\.identities may be plan tables/,
    );
    const plain = await makePair(server(), 'authplain');
    try {
      await plain.sql('source', AUTH + APP + DATA);
      await expect(
        checkTargetReady({ source: plain.source, target: plain.target, tables: ['auth.users'], appRoles: [] }),
      ).rejects.toThrow(/auth\.users is a plan table, but the target has no schema auth/);
      const plan = planSchema.parse({ ...examplePlan, tables: withAuth });
      const findings = await checkPlanCoverage(plan, { SOURCE_DATABASE_URL: plain.sourceUrl, TARGET_DATABASE_URL: plain.targetUrl });
      expect(findings.filter((f) => !f.ok).map((f) => f.message)).toEqual([
        expect.stringMatching(/^auth\.users is a plan table, but the target has no schema auth/),
        expect.stringMatching(/^auth\.identities is a plan table, but the target has no schema auth/),
      ]);
    } finally {
      await plain.cleanup();
    }
  });
});
