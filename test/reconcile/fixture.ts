import pg from 'pg';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type Plan, type PlanInput } from '../../src/config/schema.js';
import type { EmbeddedServer } from '../../src/rehearsal/embedded.js';

/**
 * A small FreshTrack-like pair of databases: the same rows on source and target (as after a clean
 * migration), then each test changes the target the way production would (new ingestion after the
 * switch) or the way a bug would (a lost or altered row).
 *
 * Timeline: readings every 5 minutes for the 24 h before the freeze; sensors 1-5 report until the
 * freeze, sensor 6 went quiet 3 h before it. The switch is 90 min after the freeze; "now" is 3 h
 * after the switch.
 */

export const FREEZE = '2026-12-05T22:17:30.000Z';
export const SWITCH = '2026-12-05T23:47:30.000Z';
export const NOW = new Date('2026-12-06T02:47:30.000Z');
export const MINUTE = 60_000;

export const sensor = (n: number) => `00000000-0000-0000-0000-00000000000${n}`;

export const SCHEMA_SQL = `
  create table public.readings (
    id bigint primary key,
    sensor_id uuid not null,
    recorded_at timestamptz not null,
    temperature numeric(5,2)
  );
  create table public.alerts (
    id bigint primary key,
    status text not null,
    triggered_at timestamptz not null,
    note text
  );
  create table public.user_roles (
    user_id uuid not null,
    organization_id uuid not null,
    role text not null,
    primary key (user_id, organization_id)
  );`;

/** Reading ids are sensor * 100000 + i, i counting 5-minute steps from 24 h before the freeze. */
export const SEED_SQL = `
  insert into public.readings (id, sensor_id, recorded_at, temperature)
  select s * 100000 + i,
         ('00000000-0000-0000-0000-00000000000' || s)::uuid,
         timestamptz '${FREEZE}' - interval '24 hours' + i * interval '5 minutes',
         round((3 + s + (i % 7) * 0.25)::numeric, 2)
    from generate_series(1, 6) s, generate_series(0, 287) i
   where s < 6 or i < 252;
  insert into public.alerts (id, status, triggered_at, note)
  select i, (array['open', 'acknowledged', 'resolved'])[1 + i % 3],
         timestamptz '2026-12-05 10:00:00+00' + i * interval '17 minutes', 'alert ' || i
    from generate_series(1, 20) i;
  insert into public.user_roles (user_id, organization_id, role)
  select ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid,
         '00000000-0000-0000-0002-000000000001',
         (array['admin', 'staff', 'viewer'])[1 + i % 3]
    from generate_series(1, 12) i;`;

export const fixtureTables: PlanInput['tables'] = [
  {
    name: 'public.readings',
    key: ['id'],
    timestampColumn: 'recorded_at',
    appendOnly: true,
    reconcile: { groupBy: ['sensor_id'], bucket: 'hour' },
  },
  { name: 'public.alerts', key: ['id'], timestampColumn: 'triggered_at', reconcile: { groupBy: ['status'] } },
  { name: 'public.user_roles', key: ['user_id', 'organization_id'], reconcile: { groupBy: ['role'] } },
];

export function fixturePlan(tables: PlanInput['tables'] = fixtureTables): Plan {
  return planSchema.parse({ ...examplePlan, tables });
}

export interface Pair {
  sourceUrl: string;
  targetUrl: string;
  source: pg.Client;
  target: pg.Client;
  close(): Promise<void>;
}

let pairs = 0;

/** Two fresh databases on the suite's server holding the same seeded rows. */
export async function createPair(server: EmbeddedServer, extraSql = ''): Promise<Pair> {
  pairs += 1;
  const sourceUrl = await server.createDatabase(`source_${pairs}`);
  const targetUrl = await server.createDatabase(`target_${pairs}`);
  const source = new pg.Client({ connectionString: sourceUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await Promise.all([source.connect(), target.connect()]);
  for (const client of [source, target]) await client.query(SCHEMA_SQL + SEED_SQL + extraSql);
  return {
    sourceUrl,
    targetUrl,
    source,
    target,
    close: async () => {
      await Promise.allSettled([source.end(), target.end()]);
    },
  };
}

/**
 * New readings on the target after the switch: every 5 minutes from 2 min after the switch until
 * `now`, for the given sensors, leaving out the minutes (after the switch) that `skip` says.
 */
export async function ingestAfterSwitch(
  target: pg.Client,
  sensors: number[],
  skip: (sensor: number, minutesAfterSwitch: number) => boolean = () => false,
): Promise<number> {
  const switchMs = Date.parse(SWITCH);
  const rows: [number, string, string, number][] = [];
  for (const s of sensors) {
    for (let minutes = 2; switchMs + minutes * MINUTE <= NOW.getTime(); minutes += 5) {
      if (skip(s, minutes)) continue;
      rows.push([900_000 + s * 1000 + minutes, sensor(s), new Date(switchMs + minutes * MINUTE).toISOString(), 4.5]);
    }
  }
  await target.query(
    `insert into public.readings (id, sensor_id, recorded_at, temperature)
     select * from unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::numeric[])`,
    [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
  );
  return rows.length;
}

export const at = (ms: number) => new Date(ms).toISOString();
export const afterSwitch = (minutes: number) => at(Date.parse(SWITCH) + minutes * MINUTE);
