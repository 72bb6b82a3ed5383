import type pg from 'pg';
import { openClient } from '../adapters/postgres.js';

/**
 * The rehearsal's databases: a source made to look like a Supabase project (its API roles, an `auth`
 * schema with `auth.users`, row-level security with policies, Supabase's grants) and a plain
 * self-hosted target, both with the FreshTrack Pro schema; and a generator of realistic data.
 */

/**
 * Supabase's roles. Roles are cluster-wide, so this is idempotent (a rehearsal may put source and
 * target on one server). `authenticator` logs in and switches to the API roles with SET ROLE, as
 * PostgREST does; the password is a rehearsal-only value.
 */
export const SUPABASE_ROLES_SQL = `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN NOINHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN NOINHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD 'rehearsal-authenticator';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    CREATE ROLE supabase_auth_admin NOLOGIN NOINHERIT CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_admin') THEN
    CREATE ROLE supabase_admin NOLOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
  END IF;
END
$$;
GRANT anon, authenticated, service_role TO authenticator;
`;

/** Supabase's non-public schemas, on the source only. */
export const SUPABASE_INTERNALS_SQL = `
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;

CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin;
CREATE TABLE IF NOT EXISTS auth.users (
  instance_id uuid,
  id uuid PRIMARY KEY,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text UNIQUE DEFAULT NULL,
  is_anonymous boolean NOT NULL DEFAULT false
);
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE SCHEMA IF NOT EXISTS storage;
CREATE TABLE IF NOT EXISTS storage.buckets (id text PRIMARY KEY, name text NOT NULL, public boolean DEFAULT false);
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text PRIMARY KEY);
`;

/**
 * The FreshTrack Pro application schema, identical on both sides (the target gets no reference to
 * auth.users: the self-hosted stack keeps its users elsewhere).
 */
export function freshTrackSchemaSql(options: { supabase: boolean }): string {
  const profileUser = options.supabase ? ' REFERENCES auth.users (id) ON DELETE CASCADE' : '';
  return `
CREATE TYPE public.alert_status AS ENUM ('active', 'acknowledged', 'resolved', 'escalated');
CREATE TYPE public.app_role AS ENUM ('owner', 'admin', 'manager', 'staff', 'viewer');

CREATE TABLE public.organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  slug text NOT NULL UNIQUE,
  timezone text NOT NULL DEFAULT 'America/New_York',
  settings jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.sites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  name text NOT NULL,
  address text,
  latitude double precision,
  longitude double precision,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_organization_id_idx ON public.sites (organization_id);

CREATE TABLE public.areas (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id uuid NOT NULL REFERENCES public.sites (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX areas_site_id_idx ON public.areas (site_id);

CREATE TABLE public.units (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  area_id uuid NOT NULL REFERENCES public.areas (id) ON DELETE CASCADE,
  name text NOT NULL,
  unit_type text NOT NULL,
  temp_min numeric(5,2) NOT NULL,
  temp_max numeric(5,2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_area_id_idx ON public.units (area_id);

CREATE TABLE public.sensors (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  unit_id uuid NOT NULL REFERENCES public.units (id) ON DELETE CASCADE,
  dev_eui text NOT NULL UNIQUE,
  name text NOT NULL,
  model text NOT NULL,
  firmware_version text,
  is_active boolean NOT NULL DEFAULT true,
  last_seen_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensors_unit_id_idx ON public.sensors (unit_id);

-- Append-only: one row per LoRaWAN uplink.
CREATE TABLE public.temperature_readings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sensor_id uuid NOT NULL REFERENCES public.sensors (id),
  recorded_at timestamptz NOT NULL,
  temperature numeric(6,2) NOT NULL,
  humidity numeric(5,2),
  battery_level smallint,
  signal_strength integer,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX temperature_readings_sensor_recorded_idx ON public.temperature_readings (sensor_id, recorded_at DESC);

CREATE TABLE public.profiles (
  id uuid PRIMARY KEY${profileUser},
  organization_id uuid REFERENCES public.organizations (id) ON DELETE SET NULL,
  email text NOT NULL,
  full_name text,
  phone text,
  avatar_url text,
  notification_preferences jsonb NOT NULL DEFAULT '{"email": true, "sms": false}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.alert_instances (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  unit_id uuid NOT NULL REFERENCES public.units (id) ON DELETE CASCADE,
  sensor_id uuid REFERENCES public.sensors (id) ON DELETE SET NULL,
  status public.alert_status NOT NULL DEFAULT 'active',
  alert_type text NOT NULL,
  temperature numeric(6,2),
  threshold numeric(6,2),
  message text,
  triggered_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by uuid REFERENCES public.profiles (id) ON DELETE SET NULL,
  resolved_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_instances_unit_triggered_idx ON public.alert_instances (unit_id, triggered_at DESC);
CREATE INDEX alert_instances_status_idx ON public.alert_instances (status);

CREATE TABLE public.user_roles (
  user_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
  organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  role public.app_role NOT NULL DEFAULT 'viewer',
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, organization_id)
);

CREATE TABLE public.ttn_connections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL UNIQUE REFERENCES public.organizations (id) ON DELETE CASCADE,
  application_id text NOT NULL,
  cluster text NOT NULL DEFAULT 'nam1',
  settings jsonb NOT NULL DEFAULT '{}',
  api_key_encrypted bytea,
  is_enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;
}

/** Tables that carry an organization id (directly), for row-level security policies. */
const ORG_TABLES = ['sites', 'ttn_connections', 'user_roles'];

/**
 * Supabase's grants (everything in public to the API roles, guarded by RLS) and a realistic set of
 * policies: members read their organization's data; service_role bypasses RLS.
 */
export const SUPABASE_GRANTS_AND_POLICIES_SQL = `
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION public.user_organization_ids() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT organization_id FROM public.user_roles WHERE user_id = auth.uid()
$$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations','sites','areas','units','sensors','temperature_readings',
                           'alert_instances','profiles','user_roles','ttn_connections'] LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY[${ORG_TABLES.map((t) => `'${t}'`).join(', ')}] LOOP
    EXECUTE format('CREATE POLICY "members read" ON public.%I FOR SELECT TO authenticated
                    USING (organization_id IN (SELECT public.user_organization_ids()))', t);
  END LOOP;
END
$$;
CREATE POLICY "members read" ON public.organizations FOR SELECT TO authenticated
  USING (id IN (SELECT public.user_organization_ids()));
CREATE POLICY "members read" ON public.areas FOR SELECT TO authenticated
  USING (site_id IN (SELECT id FROM public.sites));
CREATE POLICY "members read" ON public.units FOR SELECT TO authenticated
  USING (area_id IN (SELECT id FROM public.areas));
CREATE POLICY "members read" ON public.sensors FOR SELECT TO authenticated
  USING (unit_id IN (SELECT id FROM public.units));
CREATE POLICY "members read" ON public.temperature_readings FOR SELECT TO authenticated
  USING (sensor_id IN (SELECT id FROM public.sensors));
CREATE POLICY "members insert" ON public.temperature_readings FOR INSERT TO authenticated
  WITH CHECK (sensor_id IN (SELECT id FROM public.sensors));
CREATE POLICY "members read" ON public.alert_instances FOR SELECT TO authenticated
  USING (unit_id IN (SELECT id FROM public.units));
CREATE POLICY "members acknowledge" ON public.alert_instances FOR UPDATE TO authenticated
  USING (unit_id IN (SELECT id FROM public.units));
CREATE POLICY "own profile" ON public.profiles FOR ALL TO authenticated
  USING (id = auth.uid()) WITH CHECK (id = auth.uid());
`;

/**
 * Target roles: the self-hosted API keeps the same role names, so the application's grants carry over,
 * without Supabase's internals or row-level security (access is enforced by the new API layer).
 */
export const TARGET_GRANTS_SQL = `
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO authenticated, service_role;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO authenticated, service_role;
`;

/** Make `client`'s database a Supabase-like FreshTrack source (empty). */
export async function prepareSource(client: pg.Client): Promise<void> {
  await client.query(SUPABASE_ROLES_SQL);
  await client.query(SUPABASE_INTERNALS_SQL);
  await client.query(freshTrackSchemaSql({ supabase: true }));
  await client.query(SUPABASE_GRANTS_AND_POLICIES_SQL);
}

/** Make `client`'s database a self-hosted FreshTrack target (empty, same public schema). */
export async function prepareTarget(client: pg.Client): Promise<void> {
  await client.query(SUPABASE_ROLES_SQL);
  await client.query('CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE EXTENSION IF NOT EXISTS "uuid-ossp"');
  await client.query(freshTrackSchemaSql({ supabase: false }));
  await client.query(TARGET_GRANTS_SQL);
}

/**
 * A FreshTrack pair as the rehearsal and the tests use it: the source made to look like Supabase and
 * filled when `data` is given, the target with the schema only. Returns what was generated.
 */
export async function prepareFreshTrackPair(sourceUrl: string, targetUrl: string, data?: GenerateOptions): Promise<GeneratedCounts | undefined> {
  const connect = (url: string) => openClient(url, { label: 'rehearsal database', statementTimeoutMs: 0 });
  const source = await connect(sourceUrl);
  let counts: GeneratedCounts | undefined;
  try {
    await prepareSource(source);
    if (data) counts = await generateData(source, data);
  } finally {
    await source.end();
  }
  const target = await connect(targetUrl);
  try {
    await prepareTarget(target);
  } finally {
    await target.end();
  }
  return counts;
}

export interface GenerateOptions {
  /** Temperature readings to create. */
  readings: number;
  /** Same seed, same rows (ids, names, values); only timestamps follow `now`. */
  seed?: number;
  /** Newest reading time (ms since epoch); defaults to now, rounded down to 5 minutes. */
  now?: number;
}

export interface GeneratedCounts {
  organizations: number;
  sites: number;
  areas: number;
  units: number;
  sensors: number;
  readings: number;
  alerts: number;
  users: number;
  /** How far back the readings go, in hours. */
  historyHours: number;
}

/** Per organization: 3 sites × 4 areas × 3 units × 2 sensors = 72 sensors, 12 users. */
const SITES_PER_ORG = 3;
const AREAS_PER_SITE = 4;
const UNITS_PER_AREA = 3;
const SENSORS_PER_UNIT = 2;
const USERS_PER_ORG = 12;
/** One organization per this many readings: about 12 days of 5-minute history per sensor. */
const READINGS_PER_ORG = 250_000;
const CADENCE_MINUTES = 5;

/**
 * Fill a prepared FreshTrack database (source or target) with realistic data, entirely inside
 * PostgreSQL (INSERT … SELECT over generate_series), deterministic for a seed. Readings come every
 * 5 minutes from every sensor, back from `now` as far as the count needs, in time order (as an
 * append-only table fills). Values are derived from hashes of (seed, sensor, step), not random(), so
 * parallel plans cannot change them. Auth users are created too when `auth.users` exists.
 */
export async function generateData(client: pg.Client, options: GenerateOptions): Promise<GeneratedCounts> {
  const seed = options.seed ?? 1;
  const readings = Math.max(0, Math.floor(options.readings));
  const orgs = Math.max(1, Math.ceil(readings / READINGS_PER_ORG));
  const now = Math.floor((options.now ?? Date.now()) / (CADENCE_MINUTES * 60_000)) * CADENCE_MINUTES * 60_000;
  const nowIso = new Date(now).toISOString();
  const sensors = orgs * SITES_PER_ORG * AREAS_PER_SITE * UNITS_PER_AREA * SENSORS_PER_UNIT;
  const users = orgs * USERS_PER_ORG;
  const alerts = sensors * 3;
  const hasAuth = (await client.query(`SELECT to_regclass('auth.users') IS NOT NULL AS yes`)).rows[0].yes as boolean;
  // Deterministic uuid for (kind, n).
  const id = (kind: string, n: string) => `md5('${seed}:${kind}:' || ${n})::uuid`;
  // Deterministic fraction in [0, 1) for an expression.
  const frac = (expr: string) => `((hashint8((${expr})::bigint * 7919 + ${seed}) & 1048575) / 1048576.0)`;

  await client.query('BEGIN');
  try {
    // Rows arrive complete and consistent: skip the per-row foreign key triggers while generating.
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query(`SET LOCAL TimeZone = 'UTC'`);
    await client.query(
      `INSERT INTO public.organizations (id, name, slug, timezone, settings, created_at)
       SELECT ${id('org', 'o')}, 'Org ' || o || ' Foods', 'org-' || o,
              (ARRAY['America/New_York','America/Chicago','America/Los_Angeles','Europe/London'])[1 + o % 4],
              jsonb_build_object('units', CASE WHEN o % 3 = 0 THEN 'celsius' ELSE 'fahrenheit' END,
                                 'alert_delay_minutes', 5 + o % 3 * 5, 'tags', jsonb_build_array('food-safety', 'haccp')),
              $1::timestamptz - interval '400 days' + o * interval '1 day'
         FROM generate_series(1, $2::int) o`,
      [nowIso, orgs],
    );
    await client.query(
      `INSERT INTO public.sites (id, organization_id, name, address, latitude, longitude, created_at)
       SELECT ${id('site', 's')}, ${id('org', '1 + (s - 1) / ' + SITES_PER_ORG)},
              (ARRAY['Downtown Kitchen','Warehouse','Airport Store','Commissary'])[1 + s % 4] || ' #' || s,
              s || ' Market Street' || CASE WHEN s % 5 = 0 THEN E'\\nSuite 200' ELSE '' END,
              40 + ${frac('s')} * 5, -74 - ${frac('s + 1000')} * 5,
              $1::timestamptz - interval '390 days' + s * interval '1 hour'
         FROM generate_series(1, $2::int) s`,
      [nowIso, orgs * SITES_PER_ORG],
    );
    await client.query(
      `INSERT INTO public.areas (id, site_id, name, description, created_at)
       SELECT ${id('area', 'a')}, ${id('site', '1 + (a - 1) / ' + AREAS_PER_SITE)},
              (ARRAY['Kitchen','Storage','Bar','Receiving'])[1 + a % 4],
              CASE a % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'Back of house, "cold" side' END,
              $1::timestamptz - interval '380 days' + a * interval '1 minute'
         FROM generate_series(1, $2::int) a`,
      [nowIso, orgs * SITES_PER_ORG * AREAS_PER_SITE],
    );
    await client.query(
      `INSERT INTO public.units (id, area_id, name, unit_type, temp_min, temp_max, created_at)
       SELECT ${id('unit', 'u')}, ${id('area', '1 + (u - 1) / ' + UNITS_PER_AREA)},
              (ARRAY['Walk-in Cooler','Reach-in Freezer','Prep Fridge'])[1 + u % 3] || ' ' || u,
              (ARRAY['walk_in_cooler','freezer','prep_fridge'])[1 + u % 3],
              (ARRAY[0.00, -25.00, 0.00])[1 + u % 3], (ARRAY[4.00, -15.00, 5.00])[1 + u % 3],
              $1::timestamptz - interval '370 days' + u * interval '1 minute'
         FROM generate_series(1, $2::int) u`,
      [nowIso, orgs * SITES_PER_ORG * AREAS_PER_SITE * UNITS_PER_AREA],
    );
    await client.query(
      `INSERT INTO public.sensors (id, unit_id, dev_eui, name, model, firmware_version, is_active, last_seen_at, created_at)
       SELECT ${id('sensor', 'n')}, ${id('unit', '1 + (n - 1) / ' + SENSORS_PER_UNIT)},
              upper(lpad(to_hex(${seed}::bigint * 1000003 + n), 16, '0')),
              'Sensor ' || n, (ARRAY['EM300-TH','LHT65N','ERS-CO2'])[1 + n % 3],
              CASE WHEN n % 7 = 0 THEN NULL ELSE 'v' || (1 + n % 3) || '.' || (n % 10) END,
              n % 50 <> 0, $1::timestamptz, $1::timestamptz - interval '360 days'
         FROM generate_series(1, $2::int) n`,
      [nowIso, sensors],
    );
    // ceil(readings / sensors) time steps; the oldest step only for the first `readings mod sensors` sensors.
    const steps = Math.ceil(readings / sensors);
    const full = readings - (steps - 1) * sensors;
    if (readings > 0) {
      await client.query(
        `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature, humidity, battery_level, signal_strength, received_at)
         SELECT ${id('sensor', 'n')},
                $1::timestamptz - (g * ${CADENCE_MINUTES} * interval '1 minute') + (n % 60) * interval '1 second',
                round((CASE n / ${SENSORS_PER_UNIT} % 3 WHEN 1 THEN -18 ELSE 3 END
                       + 1.5 * sin((g + n) / 24.0) + ${frac('n * 100003 + g')} * 2 - 1)::numeric, 2),
                CASE WHEN g % 97 = 0 THEN NULL ELSE round((40 + ${frac('n * 7 + g')} * 30)::numeric, 2) END,
                (100 - (g / 300) % 100)::smallint,
                -60 - (${frac('g * 13 + n')} * 60)::int,
                $1::timestamptz - (g * ${CADENCE_MINUTES} * interval '1 minute') + (n % 60 + 2) * interval '1 second'
           FROM generate_series($2::int - 1, 0, -1) g,
                LATERAL generate_series(1, CASE WHEN g < $2::int - 1 THEN $3::int ELSE $4::int END) n`,
        [nowIso, steps, sensors, full],
      );
    }
    if (hasAuth) {
      await client.query(
        `INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                 last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at)
         SELECT '00000000-0000-0000-0000-000000000000', ${id('user', 'u')}, 'authenticated', 'authenticated',
                'user' || u || '@org' || (1 + (u - 1) / ${USERS_PER_ORG}) || '.example.com',
                '$2a$10$' || md5('pw' || u), $1::timestamptz - interval '300 days',
                $1::timestamptz - (u % 30) * interval '1 day',
                '{"provider": "email", "providers": ["email"]}', jsonb_build_object('full_name', 'User ' || u),
                false, $1::timestamptz - interval '300 days', $1::timestamptz - interval '1 day'
           FROM generate_series(1, $2::int) u`,
        [nowIso, users],
      );
    }
    await client.query(
      `INSERT INTO public.profiles (id, organization_id, email, full_name, phone, avatar_url, notification_preferences, created_at, updated_at)
       SELECT ${id('user', 'u')}, ${id('org', '1 + (u - 1) / ' + USERS_PER_ORG)},
              'user' || u || '@org' || (1 + (u - 1) / ${USERS_PER_ORG}) || '.example.com',
              CASE u % 4 WHEN 0 THEN 'Zoë O''Brien-Ñúñez ' || u WHEN 1 THEN E'Tab\\tName ' || u ELSE 'User ' || u END,
              CASE WHEN u % 3 = 0 THEN NULL ELSE '+1555' || lpad(u::text, 7, '0') END,
              CASE u % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'https://cdn.example.com/a/' || u || '.png' END,
              jsonb_build_object('email', true, 'sms', u % 2 = 0, 'quiet_hours', jsonb_build_array(22, 6)),
              $1::timestamptz - interval '300 days', $1::timestamptz - (u % 30) * interval '1 day'
         FROM generate_series(1, $2::int) u`,
      [nowIso, users],
    );
    await client.query(
      `INSERT INTO public.user_roles (user_id, organization_id, role, granted_at)
       SELECT ${id('user', 'u')}, ${id('org', '1 + (u - 1) / ' + USERS_PER_ORG)},
              (CASE WHEN (u - 1) % ${USERS_PER_ORG} = 0 THEN 'owner' WHEN u % 6 = 0 THEN 'admin'
                    WHEN u % 3 = 0 THEN 'manager' WHEN u % 2 = 0 THEN 'staff' ELSE 'viewer' END)::public.app_role,
              $1::timestamptz - interval '300 days'
         FROM generate_series(1, $2::int) u
       UNION ALL
       -- A few consultants belong to the next organization as well.
       SELECT ${id('user', 'u')}, ${id('org', '1 + ((u - 1) / ' + USERS_PER_ORG + ' + 1) % ' + orgs)}, 'viewer', $1::timestamptz - interval '100 days'
         FROM generate_series(1, $2::int) u
        WHERE $3::int > 1 AND (u - 1) % ${USERS_PER_ORG} = 1`,
      [nowIso, users, orgs],
    );
    await client.query(
      `INSERT INTO public.alert_instances (id, unit_id, sensor_id, status, alert_type, temperature, threshold, message,
                                           triggered_at, acknowledged_at, acknowledged_by, resolved_at, created_at)
       SELECT ${id('alert', 'a')}, ${id('unit', '1 + (s - 1) / ' + SENSORS_PER_UNIT)}, ${id('sensor', 's')},
              (ARRAY['resolved','resolved','acknowledged','active','escalated']::public.alert_status[])[1 + a % 5],
              (ARRAY['temp_high','temp_low','offline','battery_low'])[1 + a % 4],
              round((8 + ${frac('a')} * 4)::numeric, 2), 4.00,
              'Temperature out of range: "' || a || E'"\\tcheck door seal\\\\gasket',
              $1::timestamptz - (a % 2000) * interval '7 minutes',
              CASE WHEN a % 5 IN (0, 1, 2) THEN $1::timestamptz - (a % 2000) * interval '7 minutes' + interval '9 minutes' END,
              CASE WHEN a % 5 IN (0, 1, 2) THEN ${id('user', '1 + (a % $3::int)')} END,
              CASE WHEN a % 5 IN (0, 1) THEN $1::timestamptz - (a % 2000) * interval '7 minutes' + interval '40 minutes' END,
              $1::timestamptz - (a % 2000) * interval '7 minutes'
         FROM generate_series(1, $2::int) a, LATERAL (SELECT 1 + (a - 1) % ${sensors} AS s) x`,
      [nowIso, alerts, users],
    );
    await client.query(
      `INSERT INTO public.ttn_connections (id, organization_id, application_id, cluster, settings, api_key_encrypted, is_enabled, created_at, updated_at)
       SELECT ${id('ttn', 'o')}, ${id('org', 'o')}, 'freshtrack-org-' || o, (ARRAY['nam1','eu1','au1'])[1 + o % 3],
              jsonb_build_object('webhook_id', 'ft-' || o, 'formatter', 'cayenne', 'uplink', jsonb_build_object('port', 2, 'fields', jsonb_build_array('temperature', 'humidity')), 'note', E'line1\\nline2'),
              decode(md5('${seed}:ttn:' || o) || md5('key' || o), 'hex'), o % 4 <> 0,
              $1::timestamptz - interval '200 days', $1::timestamptz - interval '2 days'
         FROM generate_series(1, $2::int) o`,
      [nowIso, orgs],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  await client.query('ANALYZE');
  return {
    organizations: orgs,
    sites: orgs * SITES_PER_ORG,
    areas: orgs * SITES_PER_ORG * AREAS_PER_SITE,
    units: orgs * SITES_PER_ORG * AREAS_PER_SITE * UNITS_PER_AREA,
    sensors,
    readings,
    alerts,
    users,
    historyHours: (Math.ceil(readings / sensors) * CADENCE_MINUTES) / 60,
  };
}
