import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { planSchema, type PlanInput } from '../../src/config/schema.js';
import { cli } from '../support/cli.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { checkPlanBarrier } from '../../src/steps/data/barrier.js';
import { freezeSource } from '../../src/steps/data/freeze.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, withCredentials, type Pair } from './support.js';

/**
 * Issue 10, item 2: `check` and prep.preflight (both through reachSystems → checkPlanBarrier) refuse a
 * plan the barrier cannot hold, naming the role and the fix; freeze.enable refuses it too, changing nothing.
 */

const server = usePostgres();
const plan = planSchema.parse(examplePlan);
let pair: Pair;
let superuser: string;

beforeAll(async () => {
  pair = await makePair(server(), 'preflight');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 100 });
  superuser = decodeURIComponent(new URL(pair.sourceUrl).username);
});

const check = (url = pair.sourceUrl, appRoles = plan.appRoles) =>
  checkPlanBarrier({ ...plan, appRoles }, { SOURCE_DATABASE_URL: url });

/** Apply `setup`, run `work`, then `teardown` whatever happens (roles are cluster-wide). */
async function withChange<T>(setup: string, teardown: string, work: () => Promise<T>): Promise<T> {
  await pair.sql('source', setup);
  try {
    return await work();
  } finally {
    await pair.sql('source', teardown);
  }
}

describe('check and prep.preflight: can the freeze hold? (issue 10, item 2)', () => {
  it('passes the Supabase layout, noting that service_role bypasses RLS but not the barrier', async () => {
    const result = await check();
    expect(result).toEqual({
      ok: true,
      message:
        'the freeze can hold on the source for anon, authenticated, service_role ' +
        "(app role service_role has BYPASSRLS: the freeze's guard trigger holds for it all the same)",
    });
  });

  it('refuses an app role that owns a plan table, naming it and the fix; freeze.enable refuses it and changes nothing', async () => {
    await withChange('ALTER TABLE public.ttn_connections OWNER TO service_role', `ALTER TABLE public.ttn_connections OWNER TO "${superuser}"`, async () => {
      const result = await check();
      expect(result.ok).toBe(false);
      expect(result.message).toContain(
        "app role service_role is the owner of public.ttn_connections: an owner can drop the freeze's guard trigger and grant itself writes back. " +
          `Fix: ALTER TABLE public.ttn_connections OWNER TO "${superuser}".`,
      );
      const triggersBefore = await pair.sql('source', 'SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal');
      await expect(
        freezeSource({
          source: pair.source,
          tables: plan.tables.map((t) => t.name),
          appRoles: plan.appRoles,
          recordFile: join(pair.dir, 'refused.json'),
          window: 'the maintenance window',
        }),
      ).rejects.toThrow(/^The freeze cannot hold: app role service_role is the owner of public\.ttn_connections.*Nothing was changed\.$/s);
      expect(await pair.sql('source', 'SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal')).toEqual(triggersBefore);
      expect(await pair.sql('source', `SELECT has_table_privilege('anon', 'public.sensors', 'INSERT') AS yes`)).toEqual([{ yes: true }]);
    });
  });

  it('refuses a superuser, a REPLICATION role, and an app role that can SET ROLE into a table owner', async () => {
    await withChange(
      `CREATE ROLE app_admin NOLOGIN SUPERUSER; CREATE ROLE app_stream NOLOGIN REPLICATION;
       CREATE ROLE legacy_owner NOLOGIN; ALTER TABLE public.sites OWNER TO legacy_owner; GRANT legacy_owner TO authenticated;`,
      `ALTER TABLE public.sites OWNER TO "${superuser}"; DROP ROLE app_admin; DROP ROLE app_stream; DROP ROLE legacy_owner;`,
      async () => {
        const result = await check(pair.sourceUrl, ['anon', 'authenticated', 'app_admin', 'app_stream']);
        expect(result.ok).toBe(false);
        expect(result.message).toContain('app role app_admin is a superuser: no freeze can stop it. Fix: ALTER ROLE "app_admin" NOSUPERUSER');
        expect(result.message).toContain(
          'app role app_stream is allowed REPLICATION: it can write past the freeze through a replication connection. Fix: ALTER ROLE "app_stream" NOREPLICATION',
        );
        expect(result.message).toContain(
          `app role authenticated can SET ROLE to legacy_owner, which is the owner of public.sites: an owner can drop the freeze's guard trigger`,
        );
      },
    );
  });

  it('refuses a migration login that cannot install the barrier, saying which role it needs', async () => {
    await withChange(
      `CREATE ROLE migrator LOGIN PASSWORD 'migrator'; GRANT USAGE ON SCHEMA auth TO migrator;`,
      'DROP OWNED BY migrator; DROP ROLE migrator;',
      async () => {
        const result = await check(withCredentials(pair.sourceUrl, 'migrator', 'migrator'));
        expect(result.ok).toBe(false);
        expect(result.message).toMatch(
          /The migration login migrator cannot install and later remove the freeze's guard trigger on auth\.users \(owned by supabase_auth_admin\): it must be supabase_auth_admin or a member of it with the TRIGGER privilege\. Fix: as a role that may, GRANT "supabase_auth_admin" TO "migrator" \(on Supabase the auth tables belong to supabase_auth_admin/,
        );
        expect(result.message).toContain('public.alert_instances, public.areas');
        expect(result.message).toContain('The migration login migrator may not create the schema _cutover_freeze');
      },
    );
  });

  it('`cutover check` shows it: a ✗ line naming the role and the fix, ✓ once fixed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-check-barrier-'));
    try {
      const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
      writeFileSync(join(dir, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records: [], changes: [] }));
      writeFileSync(join(dir, 'audience.txt'), 'ana@example.com\n');
      const { supabase: _none, ...source } = examplePlan.source;
      writeFileSync(
        join(dir, 'cutover.config.ts'),
        renderPlanFile({
          ...examplePlan,
          source,
          dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records },
          mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: 'audience.txt' } },
        }),
      );
      const env = { SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl };
      const line = (stdout: string) => stdout.split('\n').find((l) => l.includes('freeze barrier')) ?? stdout;
      await withChange('ALTER TABLE public.ttn_connections OWNER TO service_role', `ALTER TABLE public.ttn_connections OWNER TO "${superuser}"`, async () => {
        const refused = await cli(['--config', join(dir, 'cutover.config.ts'), 'check'], env);
        expect(refused.code).not.toBe(0);
        expect(line(refused.stdout)).toMatch(/^✗ freeze barrier: the freeze cannot hold: app role service_role is the owner of public\.ttn_connections: .* Fix: ALTER TABLE public\.ttn_connections OWNER TO /);
      });
      const fixed = await cli(['--config', join(dir, 'cutover.config.ts'), 'check'], env);
      expect(line(fixed.stdout)).toMatch(/^✓ freeze barrier: the freeze can hold on the source for anon, authenticated, service_role/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
