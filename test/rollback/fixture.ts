/**
 * A cutover that reached the switch, for the rollback tests: a source and a target database with a
 * non-append-only table (devices), an append-only table with identity ids (readings) and one with
 * uuid keys (events), the source frozen and the target loaded by the real data-path steps, then the
 * new system's writes on the target. Everything is deterministic (fixed timestamps, explicit uuids),
 * so two fixtures given the same operations end in byte-identical states.
 *
 * Used by the tests and by branch-child.ts (which must not import vitest).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Plan, PlanInput } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { dataSteps } from '../../src/steps/data/index.js';
import { rollbackSteps } from '../../src/steps/rollback/index.js';
import type { Progress, StepContext, StepResult } from '../../src/steps/types.js';
import { localPlan } from '../support/plan.js';

export const RUN_ID = 'rollback-run';
/** The application's role (NOLOGIN; tests write as it with SET ROLE, as PostgREST does). */
export const APP_ROLE = 'rb_app';
export const SOURCE_READINGS = 2_000;
export const SOURCE_EVENTS = 200;
/** Readings the new system writes after the switch (plus one late arrival, see writeAfterSwitch). */
export const NEW_READINGS = 60;
export const NEW_EVENTS = 5;
/** Migrated readings deleted on the target (drift, as `--inject-drift`). */
export const DRIFT_IDS = [17, 42, 1001];
/** Readings the old application writes to the source once it is unfrozen, before the re-import. */
export const SOURCE_WRITES_AFTER_UNFREEZE = 3;

export const TABLES = [
  { name: 'public.devices', key: ['id'], timestampColumn: 'updated_at' },
  { name: 'public.readings', key: ['id'], timestampColumn: 'recorded_at', appendOnly: true },
  { name: 'public.events', key: ['id'], timestampColumn: 'at', appendOnly: true },
];

const SCHEMA_SQL = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN CREATE ROLE ${APP_ROLE} NOLOGIN; END IF;
END $$;
CREATE TABLE public.devices (
  id text PRIMARY KEY,
  name text NOT NULL,
  threshold numeric(5,2) NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE public.readings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL REFERENCES public.devices (id),
  recorded_at timestamptz NOT NULL,
  value numeric(6,2) NOT NULL
);
CREATE INDEX readings_device_recorded_idx ON public.readings (device_id, recorded_at);
CREATE TABLE public.events (
  id uuid PRIMARY KEY,
  device_id text REFERENCES public.devices (id),
  at timestamptz NOT NULL,
  kind text NOT NULL,
  payload jsonb
);
GRANT USAGE ON SCHEMA public TO ${APP_ROLE};
`;

export interface Fixture {
  sourceUrl: string;
  targetUrl: string;
  planDir: string;
  plan: Plan;
  env: Record<string, string | undefined>;
  /** Outputs of finished steps, by step id (what the engine keeps). */
  outputs: Record<string, unknown>;
  notes: string[];
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(side: 'source' | 'target', text: string, values?: unknown[]): Promise<T[]>;
}

export function fixtureFor(
  sourceUrl: string,
  targetUrl: string,
  planDir: string,
  outputs: Record<string, unknown> = {},
  overrides: Partial<PlanInput> = { tables: TABLES, appRoles: [APP_ROLE] },
): Fixture {
  const plan = localPlan(planDir, {
    source: { urlEnv: 'SOURCE_DATABASE_URL' },
    target: { urlEnv: 'TARGET_DATABASE_URL' },
    ...overrides,
  });
  return {
    sourceUrl,
    targetUrl,
    planDir,
    plan,
    env: { SOURCE_DATABASE_URL: sourceUrl, TARGET_DATABASE_URL: targetUrl },
    outputs,
    notes: [],
    async sql(side, text, values) {
      const client = new pg.Client(side === 'source' ? sourceUrl : targetUrl);
      await client.connect();
      try {
        await client.query(`SET TimeZone = 'UTC'`);
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

export function context(f: Fixture, stepId: string, progress: (report: Progress) => void = () => {}): StepContext {
  return {
    plan: f.plan,
    planDir: f.planDir,
    runId: RUN_ID,
    stepId,
    attempt: 1,
    clock: new ManualClock(Date.parse('2026-12-05T22:00:00Z')),
    stateDir: join(f.planDir, '.cutover'),
    outputs: f.outputs,
    adapters: {
      dns: () => {
        throw new Error('no DNS in rollback data steps');
      },
      mail: () => {
        throw new Error('no mail in rollback data steps');
      },
    },
    progress,
    note: (message) => f.notes.push(message),
    signal: new AbortController().signal,
    env: f.env,
  };
}

/** The old application writing to the source again (after rollback.unfreeze-source), as its role. */
export const APP_SOURCE_WRITES = 'app.source-writes';

/** Run a step as the engine would and keep its output for later steps. */
export async function runStep(f: Fixture, stepId: string, progress?: (report: Progress) => void): Promise<StepResult> {
  if (stepId === APP_SOURCE_WRITES) {
    await writeSourceAfterUnfreeze(f);
    f.outputs[stepId] = { written: SOURCE_WRITES_AFTER_UNFREEZE };
    return { summary: 'source writes', output: f.outputs[stepId] };
  }
  const action = rollbackSteps[stepId] ?? dataSteps[stepId];
  if (!action) throw new Error(`no step ${stepId}`);
  const result = await action.run(context(f, stepId, progress));
  f.outputs[stepId] = result.output;
  return result;
}

/** The rollback branch's database steps in runbook order (dns-revert and notice touch no database). */
export const BRANCH = ['rollback.freeze-target', 'rollback.export-delta', 'rollback.unfreeze-source', APP_SOURCE_WRITES, 'rollback.reimport'];

/** Schema on both sides, grants as on Supabase (source) and the self-hosted API (target), source data. */
export async function prepare(f: Fixture): Promise<void> {
  await mkdir(f.planDir, { recursive: true });
  await f.sql('source', SCHEMA_SQL);
  await f.sql('target', SCHEMA_SQL);
  await f.sql('source', `GRANT ALL ON ALL TABLES IN SCHEMA public TO ${APP_ROLE}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE}`);
  await f.sql(
    'target',
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP_ROLE}; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE}`,
  );
  await f.sql(
    'source',
    `INSERT INTO devices SELECT 'dev-' || lpad(i::text, 3, '0'), 'Freezer ' || i, 5.00, timestamptz '2026-01-01 00:00Z'
       FROM generate_series(1, 50) i;
     -- dev-050 has no readings or events: the new system may delete it.
     INSERT INTO readings (device_id, recorded_at, value)
     SELECT 'dev-' || lpad((i % 49 + 1)::text, 3, '0'), timestamptz '2026-01-01 00:00Z' + i * interval '5 minutes', (i % 100) / 10.0
       FROM generate_series(1, ${SOURCE_READINGS}) i;
     INSERT INTO events
     SELECT md5('event-' || i)::uuid, 'dev-' || lpad((i % 49 + 1)::text, 3, '0'), timestamptz '2026-01-01 00:00Z' + i * interval '30 minutes',
            'door-open', jsonb_build_object('seconds', i % 60)
       FROM generate_series(1, ${SOURCE_EVENTS}) i;`,
  );
}

/** The window: freeze the source, cutover point, export, load (the real data-path steps). */
export async function migrate(f: Fixture, options: { load?: boolean } = {}): Promise<void> {
  for (const step of ['freeze.enable', 'freeze.snapshot', 'export.tables', ...(options.load === false ? [] : ['migrate.load'])]) {
    await runStep(f, step);
  }
}

/**
 * The new system after the switch, as the application's role: readings with target identity ids,
 * one late arrival stamped before the cutover point (a gateway's buffered reading), events with
 * uuid keys, one device changed, one deleted, one added. Then drift: migrated readings deleted.
 */
export async function writeAfterSwitch(f: Fixture): Promise<void> {
  await f.sql(
    'target',
    `BEGIN;
     SET LOCAL ROLE ${APP_ROLE};
     INSERT INTO readings (device_id, recorded_at, value)
     SELECT 'dev-' || lpad((i % 49 + 1)::text, 3, '0'), timestamptz '2027-01-01 00:00Z' + i * interval '5 minutes', 3.25
       FROM generate_series(1, ${NEW_READINGS}) i;
     INSERT INTO readings (device_id, recorded_at, value) VALUES ('dev-003', timestamptz '2025-12-31 23:55Z', 4.75);
     INSERT INTO events SELECT md5('post-' || i)::uuid, 'dev-001', timestamptz '2027-01-01 00:00Z' + i * interval '1 hour', 'door-open', '{"seconds": 12}'
       FROM generate_series(1, ${NEW_EVENTS}) i;
     UPDATE devices SET threshold = 7.50, updated_at = timestamptz '2027-01-01 08:00Z' WHERE id = 'dev-007';
     DELETE FROM devices WHERE id = 'dev-050';
     INSERT INTO devices VALUES ('dev-051', 'Walk-in cooler', 4.00, timestamptz '2027-01-01 09:00Z');
     COMMIT;`,
  );
  await f.sql('target', `DELETE FROM readings WHERE id = ANY($1::bigint[])`, [DRIFT_IDS]);
}

/** The old application, writing readings again as soon as it may (ids from the source's own sequence). */
export async function writeSourceAfterUnfreeze(f: Fixture): Promise<void> {
  await f.sql(
    'source',
    `BEGIN;
     SET LOCAL ROLE ${APP_ROLE};
     INSERT INTO readings (device_id, recorded_at, value)
     SELECT 'dev-001', timestamptz '2027-01-02 00:00Z' + i * interval '1 minute', 6.5 FROM generate_series(1, ${SOURCE_WRITES_AFTER_UNFREEZE}) i;
     COMMIT;`,
  );
}

/** Try a write as the app role; the error code, or 'accepted'. */
export async function tryWrite(f: Fixture, side: 'source' | 'target', statement: string): Promise<string> {
  try {
    await f.sql(side, `BEGIN; SET LOCAL ROLE ${APP_ROLE}; ${statement}; ROLLBACK;`);
    return 'accepted';
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}
