import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { generateData, prepareSource } from '../../src/rehearsal/freshtrack.js';
import { freezeSource, unfreezeSource } from '../../src/steps/data/freeze.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, withCredentials, type Pair } from './support.js';

/**
 * Issue 10, item 1: on a Supabase-like source, every write path an application has is refused while
 * frozen, with the freeze's message — not only the grants of the named app roles.
 */

const server = usePostgres();
const TABLES = [...freshTrackTables!.map((t) => t.name), 'public.sensor_events'];
const APP_ROLES = ['anon', 'authenticated', 'service_role'];
const WINDOW = 'the maintenance window of "FreshTrack" (2026-12-05T22:00 America/New_York, 150m)';

/** What a Supabase project has besides the tables: RPCs, views, rules, triggers, partitions, extra roles. */
const SUPABASE_PATHS_SQL = `
CREATE TABLE IF NOT EXISTS auth.identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  provider text NOT NULL);
ALTER TABLE auth.identities OWNER TO supabase_auth_admin;
INSERT INTO auth.identities (user_id, provider) SELECT id, 'email' FROM auth.users;

-- Sign-up: Supabase's documented handle_new_user pattern.
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN INSERT INTO public.profiles (id, email) VALUES (NEW.id, NEW.email); RETURN NEW; END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- An RPC (PostgREST /rpc/log_reading), owned by postgres.
CREATE FUNCTION public.log_reading(p_sensor uuid, p_temperature numeric) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) VALUES (p_sensor, now(), p_temperature) $$;
CREATE FUNCTION public.purge_readings() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  TRUNCATE public.temperature_readings $$;
GRANT EXECUTE ON FUNCTION public.log_reading(uuid, numeric), public.purge_readings() TO anon;

-- An auto-updatable view (runs as its owner).
CREATE VIEW public.sensor_names AS SELECT id, name FROM public.sensors;
GRANT SELECT, UPDATE ON public.sensor_names TO anon;

-- Outside the plan's schemas: a table whose SECURITY DEFINER trigger writes a plan table, and a DO INSTEAD rule.
CREATE SCHEMA private;
GRANT USAGE ON SCHEMA private TO anon;
CREATE TABLE private.uplinks (dev_eui text NOT NULL, temperature numeric);
CREATE FUNCTION private.touch_sensor() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN UPDATE public.sensors SET last_seen_at = now() WHERE dev_eui = NEW.dev_eui; RETURN NEW; END $$;
CREATE TRIGGER touch AFTER INSERT ON private.uplinks FOR EACH ROW EXECUTE FUNCTION private.touch_sensor();
CREATE TABLE private.ack_requests (alert uuid);
CREATE RULE acknowledge AS ON INSERT TO private.ack_requests
  DO INSTEAD UPDATE public.alert_instances SET status = 'acknowledged' WHERE id = NEW.alert;
GRANT INSERT ON private.uplinks, private.ack_requests TO anon;

-- A partitioned plan table (grants on the partition too, as ALTER DEFAULT PRIVILEGES gives them).
CREATE TABLE public.sensor_events (id bigserial, sensor_id uuid, at timestamptz NOT NULL, kind text, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE public.sensor_events_2026 PARTITION OF public.sensor_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.sensor_events (sensor_id, at, kind) SELECT id, '2026-06-01', 'boot' FROM public.sensors;
GRANT ALL ON public.sensor_events, public.sensor_events_2026 TO anon, authenticated, service_role;
GRANT ALL ON SEQUENCE public.sensor_events_id_seq TO anon, authenticated, service_role;

-- In the plan's schema, not in the plan.
CREATE TABLE public.device_notes (note text);
CREATE TABLE public."Device Log.2026" (note text);
GRANT ALL ON public.device_notes, public."Device Log.2026" TO authenticated;

-- A login with BYPASSRLS the plan does not list, and a NOINHERIT group the API roles can SET ROLE to.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'batch_writer') THEN
    CREATE ROLE batch_writer LOGIN BYPASSRLS PASSWORD 'batch-writer'; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ops_group') THEN CREATE ROLE ops_group NOLOGIN NOINHERIT; END IF;
END $$;
GRANT CONNECT ON DATABASE current_database_placeholder TO batch_writer;
GRANT USAGE ON SCHEMA public TO batch_writer, ops_group;
GRANT INSERT, TRUNCATE ON public.temperature_readings TO batch_writer;
GRANT SELECT, UPDATE ON public.units TO ops_group;
CREATE POLICY "ops maintain" ON public.units FOR ALL TO ops_group USING (true);
GRANT ops_group TO authenticated;
`;

interface Path {
  name: string;
  login: 'authenticator' | 'batch_writer' | 'superuser';
  /** Statements before the write (role switches, settings). */
  setup: string[];
  write: string;
  /** What refuses it while frozen: the barrier (25006, the window named) or the revoked sequence grants. */
  refusedBy: 'barrier' | 'sequence grant';
}

let pair: Pair;
let someSensor: string;
let someUser: string;
let someAlert: string;
let someDevEui: string;

const PATHS: () => Path[] = () => [
  { name: 'RPC: SECURITY DEFINER function inserting', login: 'authenticator', setup: ['SET ROLE anon'], write: `SELECT public.log_reading('${someSensor}', 4.5)`, refusedBy: 'barrier' },
  { name: 'RPC: SECURITY DEFINER function truncating', login: 'authenticator', setup: ['SET ROLE anon'], write: 'SELECT public.purge_readings()', refusedBy: 'barrier' },
  { name: 'UPDATE through a view', login: 'authenticator', setup: ['SET ROLE anon'], write: `UPDATE public.sensor_names SET name = 'renamed' WHERE id = '${someSensor}'`, refusedBy: 'barrier' },
  { name: 'trigger from a table outside the plan', login: 'authenticator', setup: ['SET ROLE anon'], write: `INSERT INTO private.uplinks VALUES ('${someDevEui}', 3)`, refusedBy: 'barrier' },
  { name: 'DO INSTEAD rule', login: 'authenticator', setup: ['SET ROLE anon'], write: `INSERT INTO private.ack_requests VALUES ('${someAlert}')`, refusedBy: 'barrier' },
  { name: 'direct INSERT into a partition', login: 'authenticator', setup: ['SET ROLE anon'], write: `INSERT INTO public.sensor_events_2026 (id, sensor_id, at, kind) VALUES (-1, '${someSensor}', '2026-07-01', 'x')`, refusedBy: 'barrier' },
  { name: 'DELETE from a partition', login: 'authenticator', setup: ['SET ROLE service_role'], write: 'DELETE FROM public.sensor_events_2026', refusedBy: 'barrier' },
  { name: 'nextval on a plan sequence', login: 'authenticator', setup: ['SET ROLE anon'], write: `SELECT nextval('public.sensor_events_id_seq')`, refusedBy: 'sequence grant' },
  { name: 'setval(…, 1) on a plan sequence', login: 'authenticator', setup: ['SET ROLE anon'], write: `SELECT setval('public.sensor_events_id_seq', 1)`, refusedBy: 'sequence grant' },
  { name: 'nextval on an identity sequence', login: 'authenticator', setup: ['SET ROLE service_role'], write: `SELECT nextval(pg_get_serial_sequence('public.temperature_readings', 'id'))`, refusedBy: 'sequence grant' },
  { name: 'auth sign-up (handle_new_user into profiles)', login: 'superuser', setup: ['SET ROLE supabase_auth_admin'], write: `INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'new@example.com')`, refusedBy: 'barrier' },
  { name: 'auth user deletion cascading into plan tables', login: 'superuser', setup: ['SET ROLE supabase_auth_admin'], write: `DELETE FROM auth.users WHERE id = '${someUser}'`, refusedBy: 'barrier' },
  { name: 'BYPASSRLS login not in appRoles', login: 'batch_writer', setup: [], write: `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) VALUES ('${someSensor}', now(), 1)`, refusedBy: 'barrier' },
  { name: 'TRUNCATE by a login not in appRoles', login: 'batch_writer', setup: [], write: 'TRUNCATE public.temperature_readings', refusedBy: 'barrier' },
  { name: 'SET ROLE to a NOINHERIT group', login: 'authenticator', setup: ['SET ROLE authenticated', 'SET ROLE ops_group'], write: `UPDATE public.units SET name = name || '!'`, refusedBy: 'barrier' },
  { name: 'superuser with session_replication_role = replica', login: 'superuser', setup: ['SET session_replication_role = replica'], write: `DELETE FROM public.ttn_connections`, refusedBy: 'barrier' },
  { name: 'table with a name that needs quoting', login: 'authenticator', setup: ['SET ROLE authenticated'], write: `INSERT INTO public."Device Log.2026" VALUES ('hello')`, refusedBy: 'barrier' },
  { name: 'table of the plan schema outside the plan', login: 'authenticator', setup: ['SET ROLE authenticated'], write: `INSERT INTO public.device_notes VALUES ('hello')`, refusedBy: 'barrier' },
];

beforeAll(async () => {
  pair = await makePair(server(), 'barrier');
  const client = new pg.Client(pair.sourceUrl);
  await client.connect();
  await prepareSource(client);
  await generateData(client, { readings: 500 });
  const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  await client.query(SUPABASE_PATHS_SQL.replace('current_database_placeholder', `"${database}"`));
  ({ id: someSensor, dev_eui: someDevEui } = (await client.query<{ id: string; dev_eui: string }>('SELECT id, dev_eui FROM public.sensors LIMIT 1')).rows[0]!);
  someUser = (await client.query<{ id: string }>('SELECT id FROM public.profiles LIMIT 1')).rows[0]!.id;
  someAlert = (await client.query<{ id: string }>('SELECT id FROM public.alert_instances LIMIT 1')).rows[0]!.id;
  await client.end();
});

function loginUrl(login: Path['login']): string {
  if (login === 'authenticator') return withCredentials(pair.sourceUrl, 'authenticator', 'rehearsal-authenticator');
  if (login === 'batch_writer') return withCredentials(pair.sourceUrl, 'batch_writer', 'batch-writer');
  return pair.sourceUrl;
}

/**
 * Run one write path in a transaction that is always rolled back: `accepted` with the rows it wrote
 * (this transaction's tuple counters, so a statement that matched no row is not taken for a write),
 * or the error's code and message.
 */
async function attempt(path: Path): Promise<{ accepted: boolean; wrote?: boolean; code?: string; message?: string }> {
  const client = new pg.Client(loginUrl(path.login));
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const statement of path.setup) await client.query(statement);
    await client.query(path.write);
    await client.query('RESET ROLE');
    const tuples = await client.query<{ n: string }>(
      'SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_xact_all_tables',
    );
    // TRUNCATE and sequence calls move no tuple counter: a statement that returned is their write.
    return { accepted: true, wrote: Number(tuples.rows[0]!.n) > 0 || /TRUNCATE|purge|nextval|setval/.test(path.write) };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { accepted: false, code: e.code, message: e.message };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    await client.end().catch(() => {});
  }
}

/** Rows of every table in public and auth, and every sequence's position. */
async function dataState(): Promise<Record<string, string>> {
  const tables = await pair.sql<{ id: string; kind: string }>(
    'source',
    `SELECT c.oid::regclass::text AS id, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'auth', 'private') AND c.relkind IN ('r', 'S') ORDER BY 1`,
  );
  const state: Record<string, string> = {};
  for (const { id, kind } of tables) {
    const rows = await pair.sql<{ v: string }>(
      'source',
      kind === 'S' ? `SELECT last_value::text AS v FROM ${id}` : `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS v FROM ${id} t`,
    );
    state[id] = rows[0]!.v;
  }
  return state;
}

/** ACLs (tables, columns, sequences, schemas), triggers with their enable state, functions and schemas, from the catalog. */
async function catalogState(): Promise<string[]> {
  const rows = await pair.sql<{ line: string }>(
    'source',
    `WITH user_rel AS (
       SELECT c.oid, c.relacl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))
     SELECT 'acl ' || oid::regclass || ' ' || coalesce(relacl::text, '-') AS line FROM user_rel
     UNION ALL
     SELECT 'column acl ' || a.attrelid::regclass || '.' || a.attname || ' ' || a.attacl::text
       FROM pg_attribute a JOIN user_rel r ON r.oid = a.attrelid WHERE a.attacl IS NOT NULL
     UNION ALL
     SELECT 'trigger ' || t.tgrelid::regclass || ' ' || t.tgname || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
       FROM pg_trigger t WHERE NOT t.tgisinternal
     UNION ALL
     SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '-') FROM pg_namespace
     UNION ALL
     SELECT 'function ' || p.oid::regprocedure || ' ' || coalesce(p.proacl::text, '-')
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 1`,
  );
  return rows.map((r) => r.line);
}

describe('the freeze barrier on a Supabase-like source (issue 10, item 1)', () => {
  it('a revoke-only freeze lets every one of these write paths through (the finding)', async () => {
    const recordFile = join(pair.dir, 'revoke-only.json');
    const frozen = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile });
    try {
      const accepted: string[] = [];
      for (const path of PATHS()) {
        const result = await attempt(path);
        if (result.accepted && result.wrote) accepted.push(path.name);
      }
      // Every path but the sequences' (their grants are revoked now, with the tables') goes through a
      // freeze that only revokes grants.
      expect(accepted).toEqual(PATHS().filter((p) => p.refusedBy === 'barrier').map((p) => p.name));
    } finally {
      await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    }
  });

  it('refuses every path with the window named, changes nothing, and unfreeze leaves the catalog as it was (twice each)', async () => {
    const catalogBefore = await catalogState();
    const recordFile = join(pair.dir, 'barrier.json');
    await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile, window: WINDOW });
    // Killed after the commit, before the output was saved: the step runs again.
    const frozen = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile, window: WINDOW });
    expect(frozen.guarded).toEqual(expect.arrayContaining([
      'auth.identities', 'auth.users', 'public.sensor_events', 'public.sensor_events_2026', 'public.temperature_readings', 'public.profiles',
    ]));
    expect(frozen.guarded).not.toContain('private.uplinks');
    expect(frozen.revoked.filter((g) => g.object === 'sequence').map((g) => g.table)).toEqual(
      expect.arrayContaining(['public.sensor_events_id_seq', 'public.temperature_readings_id_seq']),
    );

    const dataBefore = await dataState();
    const answers: Record<string, string> = {};
    for (const path of PATHS()) {
      const result = await attempt(path);
      answers[path.name] = result.accepted ? 'accepted' : `${result.code} ${result.message}`;
    }
    for (const path of PATHS()) {
      if (path.refusedBy === 'barrier') {
        expect(answers[path.name], path.name).toMatch(/^25006 (INSERT|UPDATE|DELETE|TRUNCATE) on .+ refused: the source is frozen, writes are refused during the maintenance window of "FreshTrack"/);
      } else {
        expect(answers[path.name], path.name).toMatch(/^42501 permission denied for sequence/);
      }
    }
    expect(await dataState()).toEqual(dataBefore);

    const first = await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    expect(first.unguarded).toEqual(frozen.guarded);
    const second = await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    expect(second.unguarded).toEqual([]);
    expect(await catalogState()).toEqual(catalogBefore);
    // And the source writes again.
    expect(await attempt(PATHS()[0]!)).toEqual({ accepted: true, wrote: true });
  });

  it('a freeze killed with SIGKILL inside its transaction leaves nothing installed; run again and unfrozen, the catalog is as before', async () => {
    const catalogBefore = await catalogState();
    const recordFile = join(pair.dir, 'killed.json');
    // Our lock makes the child's CREATE TRIGGER on device_notes wait (ROW EXCLUSIVE lets catalog reads
    // through, not SHARE ROW EXCLUSIVE): it is then inside its transaction, grants already revoked.
    const blocker = new pg.Client(pair.sourceUrl);
    blocker.on('error', () => {});
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE public.device_notes IN ROW EXCLUSIVE MODE');
    const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
    const child = spawn(process.execPath, [jiti, join(import.meta.dirname, 'freeze-child.ts'), pair.sourceUrl, recordFile, WINDOW, TABLES.join(','), APP_ROLES.join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const waiting = await pair.sql<{ n: number }>(
        'source',
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE OR REPLACE TRIGGER%'`,
      );
      if (waiting[0]!.n > 0) break;
      if (Date.now() > deadline || child.exitCode !== null) {
        const activity = await pair.sql('source', `SELECT usename, state, wait_event_type, left(query, 80) AS query FROM pg_stat_activity WHERE datname = current_database()`);
        throw new Error(`the freeze child never reached its CREATE TRIGGER: ${stderr} ${JSON.stringify(activity)}`);
      }
      await delay(50);
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await blocker.query('ROLLBACK');
    await blocker.end();
    // The record was written before the revoke (so a kill after the commit still knows what to restore).
    expect(existsSync(recordFile)).toBe(true);
    // The orphaned backend finds its client gone and rolls back: wait for it, then nothing is installed.
    for (const until = Date.now() + 60_000; ; ) {
      const left = await pair.sql<{ n: number }>('source', `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'CREATE OR REPLACE TRIGGER%' AND state <> 'idle'`);
      if (left[0]!.n === 0) break;
      if (Date.now() > until) throw new Error('the killed freeze backend never ended');
      await delay(50);
    }
    expect(await catalogState()).toEqual(catalogBefore);

    const frozen = await freezeSource({ source: pair.source, tables: TABLES, appRoles: APP_ROLES, recordFile, window: WINDOW });
    expect((await attempt(PATHS()[0]!)).code).toBe('25006');
    await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    expect(await catalogState()).toEqual(catalogBefore);
  });
});
