import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { ManualClock } from '../../src/engine/clock.js';
import { generateData, prepareSource } from '../../src/rehearsal/freshtrack.js';
import {
  freezeSource,
  snapshotCutoverPoint,
  unfreezeSource,
  verifyNoWrites,
} from '../../src/steps/data/freeze.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, withClockDriven, withCredentials, type Pair } from './support.js';

const server = usePostgres();
const TABLES = freshTrackTables!.map((t) => t.name);
const APP_ROLES = ['anon', 'authenticated', 'service_role'];

let pair: Pair;
beforeAll(async () => {
  pair = await makePair(server(), 'freeze');
  const client = new pg.Client(pair.sourceUrl);
  await client.connect();
  await prepareSource(client);
  await generateData(client, { readings: 2_000 });
  // Grants a freeze must restore exactly: a column-level grant, a grant made by an app role holding
  // the grant option (a different grantor), and a grant to PUBLIC.
  await client.query(`
    GRANT UPDATE (full_name) ON public.profiles TO anon;
    REVOKE ALL ON public.alert_instances FROM service_role;
    GRANT SELECT, INSERT ON public.alert_instances TO service_role WITH GRANT OPTION;
    SET ROLE service_role; GRANT INSERT ON public.alert_instances TO anon; RESET ROLE;
    GRANT INSERT ON public.ttn_connections TO PUBLIC;`);
  await client.end();
});

/** Every privilege on the plan's tables and their columns, from the catalog, as sorted text. */
async function grantsInCatalog(): Promise<string[]> {
  const rows = await pair.sql<{ grant: string }>(
    'source',
    `SELECT c.relname || coalesce('.' || a.attname, '') || ' ' ||
            CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END || ' ' || x.privilege_type ||
            ' by ' || pg_get_userbyid(x.grantor) || CASE WHEN x.is_grantable THEN ' grantable' ELSE '' END AS grant
       FROM pg_class c
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL
       CROSS JOIN LATERAL aclexplode(coalesce(a.attacl, c.relacl)) x
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      ORDER BY 1`,
  );
  return rows.map((r) => r.grant);
}

async function insertAs(role: string): Promise<string> {
  const client = new pg.Client(withCredentials(pair.sourceUrl, 'authenticator', 'rehearsal-authenticator'));
  await client.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    await client.query(
      `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 3.5 FROM public.sensors LIMIT 1`,
    );
    return 'inserted';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('freeze and unfreeze of the source', () => {
  it('revokes writes (an insert as authenticated is refused), ends app sessions, and unfreeze restores identical grants', async () => {
    const before = await grantsInCatalog();
    expect(before).toContain('profiles.full_name anon UPDATE by postgres');
    expect(before).toContain('alert_instances anon INSERT by service_role');
    expect(await insertAs('authenticated')).toBe('inserted');

    // A PostgREST-like session: logged in as authenticator, switched to an app role.
    const apiSession = new pg.Client(withCredentials(pair.sourceUrl, 'authenticator', 'rehearsal-authenticator'));
    const apiErrors: string[] = [];
    apiSession.on('error', (error) => apiErrors.push(error.message));
    await apiSession.connect();
    await apiSession.query('SET ROLE authenticated');

    const recordFile = join(pair.dir, 'freeze-grants.json');
    const frozen = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile });
    expect(frozen.terminated.map((s) => s.role)).toEqual(['authenticator']);
    while (apiErrors.length === 0) await delay(5);
    expect(apiErrors[0]).toBe('terminating connection due to administrator command');
    await expect(apiSession.query('SELECT 1')).rejects.toThrow(/not queryable/);

    const during = await grantsInCatalog();
    const writes = /(INSERT|UPDATE|DELETE|TRUNCATE)/;
    expect(during.filter((g) => writes.test(g) && / (anon|authenticated|service_role|PUBLIC) /.test(g))).toEqual([]);
    // Reads still work, and only the write grants were recorded.
    expect(during).toContain('temperature_readings authenticated SELECT by postgres');
    expect(
      frozen.revoked.every((g) =>
        (g.object === 'sequence' ? ['USAGE', 'UPDATE'] : ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']).includes(g.privilege),
      ),
    ).toBe(true);
    expect(frozen.revoked).toContainEqual({
      table: 'public.profiles', column: 'full_name', grantee: 'anon', grantor: 'postgres', privilege: 'UPDATE', grantable: false,
    });
    expect(await insertAs('authenticated')).toBe('permission denied for table temperature_readings');
    expect(await insertAs('service_role')).toBe('permission denied for table temperature_readings');

    // At-least-once: running the freeze again revokes nothing new but still reports everything.
    const again = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile });
    expect(again.revoked).toEqual(frozen.revoked);

    const restored = await unfreezeSource({ source: pair.source, grants: again.revoked });
    expect(restored.restored).toBe(frozen.revoked.length);
    expect(await grantsInCatalog()).toEqual(before);
    expect(await insertAs('authenticated')).toBe('inserted');
  });

  it('verify-no-writes passes on a quiet frozen source and catches a write inside the quiet window', async () => {
    const recordFile = join(pair.dir, 'freeze-grants-2.json');
    const frozen = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile });
    try {
      const clock = new ManualClock(Date.parse('2026-12-05T22:10:00Z'));
      const quiet = await withClockDriven(
        clock,
        verifyNoWrites({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, clock, quietWindowMs: 30_000 }),
      );
      expect(quiet.attempts).toHaveLength(APP_ROLES.length * TABLES.length);
      expect(quiet.attempts.every((a) => a.refused && a.answer.startsWith('permission denied'))).toBe(true);
      expect(clock.now()).toBe(Date.parse('2026-12-05T22:10:30Z'));

      // A writer the freeze does not cover (here the superuser) writes during the window.
      const noisy = withClockDriven(
        clock,
        verifyNoWrites({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, clock, quietWindowMs: 30_000 }),
        async () => {
          await pair.sql('source', `UPDATE public.sensors SET last_seen_at = now() WHERE dev_eui = (SELECT min(dev_eui) FROM public.sensors)`);
        },
      );
      await expect(noisy).rejects.toThrow(
        'Writes reached the source during the quiet window: public.sensors (+0 inserted, +1 updated, +0 deleted)',
      );
    } finally {
      await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    }
  });

  it('verify-no-writes fails, naming role and table, when the source was never frozen', async () => {
    const clock = new ManualClock(0);
    const result = withClockDriven(
      clock,
      verifyNoWrites({ source: pair.source, tables: ['public.organizations'], appRoles: ['anon'], clock, quietWindowMs: 1_000 }),
    );
    await expect(result).rejects.toThrow(/still accepts writes from app roles: anon on public\.organizations \(new row violates row-level security/);
  });

  it('refuses to freeze when an app role would keep writing through another role, and changes nothing', async () => {
    await pair.sql('source', `CREATE ROLE legacy_writer NOLOGIN; GRANT INSERT ON public.sensors TO legacy_writer;
                              CREATE ROLE mobile_app NOLOGIN INHERIT IN ROLE legacy_writer;
                              GRANT SELECT, INSERT ON public.sensors TO mobile_app;`);
    const before = await grantsInCatalog();
    const attempt = freezeSource({
      source: pair.source,
      tables: TABLES,
      appRoles: ['mobile_app'],
      recordFile: join(pair.dir, 'freeze-grants-3.json'),
    });
    await expect(attempt).rejects.toThrow(
      'The app roles can still write after the revoke: mobile_app can INSERT public.sensors (it is a member of legacy_writer)',
    );
    expect(await grantsInCatalog()).toEqual(before);
  });

  it('refuses unknown and reserved roles with a message that says what to fix', async () => {
    const recordFile = join(pair.dir, 'unused.json');
    await expect(freezeSource({ source: pair.source, tables: TABLES, appRoles: ['anon', 'ghost'], recordFile })).rejects.toThrow(
      'plan.appRoles names ghost, which do not exist on the source. Fix plan.appRoles.',
    );
    await expect(freezeSource({ source: pair.source, tables: TABLES, appRoles: ['supabase_admin'], recordFile })).rejects.toThrow(
      /reserved for Supabase's own services/,
    );
  });

  it('snapshots the cutover point: database time, WAL position and exact counts', async () => {
    const point = await snapshotCutoverPoint({ source: pair.source, tables: TABLES });
    expect(point.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Date.parse(point.at)).toBeGreaterThan(Date.now() - 60_000);
    const [counts] = await pair.sql<{ readings: string; orgs: string }>(
      'source',
      `SELECT (SELECT count(*) FROM temperature_readings) AS readings, (SELECT count(*) FROM organizations) AS orgs`,
    );
    expect(point.counts['public.temperature_readings']).toBe(Number(counts!.readings));
    expect(point.counts['public.organizations']).toBe(Number(counts!.orgs));
    expect(Object.keys(point.counts)).toHaveLength(TABLES.length);
  });
});
