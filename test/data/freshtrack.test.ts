import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { generateData, prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

const server = usePostgres();
const NOW = Date.parse('2026-12-05T21:58:00Z');

let pair: Pair;
beforeAll(async () => {
  pair = await makePair(server(), 'freshtrack');
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl);
});

async function generate(url: string, readings: number, seed: number) {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await generateData(client, { readings, seed, now: NOW });
  } finally {
    await client.end();
  }
}

describe('the FreshTrack rehearsal databases', () => {
  it('makes the source look like Supabase: API roles, auth.users, RLS with policies, grants to the app roles', async () => {
    const roles = await pair.sql<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean }>(
      'source',
      `SELECT rolname, rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator') ORDER BY 1`,
    );
    expect(roles).toEqual([
      { rolname: 'anon', rolcanlogin: false, rolbypassrls: false },
      { rolname: 'authenticated', rolcanlogin: false, rolbypassrls: false },
      { rolname: 'authenticator', rolcanlogin: true, rolbypassrls: false },
      { rolname: 'service_role', rolcanlogin: false, rolbypassrls: true },
    ]);
    const tables = await pair.sql<{ relname: string; rls: boolean; policies: number; writable: boolean }>(
      'source',
      `SELECT c.relname, c.relrowsecurity AS rls, (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
              has_table_privilege('authenticated', c.oid, 'INSERT') AS writable
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1`,
    );
    expect(tables.map((t) => `public.${t.relname}`).sort()).toEqual(freshTrackTables!.map((t) => t.name).sort());
    expect(tables.every((t) => t.rls && t.policies > 0 && t.writable)).toBe(true);
    const [auth] = await pair.sql<{ users: string | null }>('source', `SELECT to_regclass('auth.users')::text AS users`);
    expect(auth!.users).toBe('auth.users');
  });

  it('gives the target the same public tables and columns, without Supabase internals or RLS', async () => {
    const columns = `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS col
                       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1`;
    expect(await pair.sql('target', columns)).toEqual(await pair.sql('source', columns));
    const [target] = await pair.sql<{ auth: string | null; rls: number }>(
      'target',
      `SELECT to_regnamespace('auth')::text AS auth,
              (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relrowsecurity) AS rls`,
    );
    expect(target).toEqual({ auth: null, rls: 0 });
  });

  it('generates exactly the readings asked for, every 5 minutes per sensor up to now, with users and roles', async () => {
    const counts = await generate(pair.sourceUrl, 10_001, 5);
    expect(counts).toMatchObject({ organizations: 1, sensors: 72, readings: 10_001, users: 12 });
    const [shape] = await pair.sql<Record<string, unknown>>(
      'source',
      `SELECT (SELECT count(*)::int FROM temperature_readings) AS readings,
              (SELECT count(DISTINCT sensor_id)::int FROM temperature_readings) AS sensors_reporting,
              (SELECT max(recorded_at) <= '2026-12-05T21:58:00Z' FROM temperature_readings) AS not_in_future,
              (SELECT array_agg(DISTINCT gap) FROM (
                 SELECT recorded_at - lag(recorded_at) OVER (PARTITION BY sensor_id ORDER BY recorded_at) AS gap
                   FROM temperature_readings) g WHERE gap IS NOT NULL)::text AS cadence,
              (SELECT count(*)::int FROM auth.users) AS auth_users,
              (SELECT count(*)::int FROM profiles p JOIN auth.users u ON u.id = p.id) AS profiles_of_users,
              (SELECT count(DISTINCT role)::int FROM user_roles) AS roles_used,
              (SELECT count(*)::int FROM alert_instances) > 0 AS has_alerts,
              (SELECT count(*)::int FROM ttn_connections WHERE settings ? 'uplink' AND octet_length(api_key_encrypted) = 32) AS ttn`,
    );
    expect(shape).toEqual({
      readings: 10_001,
      sensors_reporting: 72,
      not_in_future: true,
      cadence: '{00:05:00}',
      auth_users: 12,
      profiles_of_users: 12,
      roles_used: 5,
      has_alerts: true,
      ttn: 1,
    });
  });

  it('is deterministic for a seed: the same rows on another database', async () => {
    await generate(pair.targetUrl, 10_001, 5);
    for (const table of ['temperature_readings', 'alert_instances', 'profiles', 'ttn_connections']) {
      const digest = `SELECT count(*)::text AS n, sum(hashtextextended(t::text, 0))::text AS h FROM ${table} t`;
      expect(await pair.sql('target', digest), table).toEqual(await pair.sql('source', digest));
    }
  });
});
