import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../../adapters/postgres.js';
import { EXCLUDED_SCHEMAS } from './catalog.js';

/**
 * The freeze's write barrier (DESIGN §3). Revoking grants from the app roles is not enough on
 * Supabase: most writes there run as function owners (SECURITY DEFINER RPCs), through views, rules,
 * triggers, foreign-key cascades and the auth service. So while frozen, every table of the migrated
 * schemas carries a statement-level BEFORE trigger that raises SQLSTATE 25006 naming the window, for
 * INSERT, UPDATE, DELETE and TRUNCATE, whoever runs the statement and through whatever path: PostgreSQL
 * fires a table's statement triggers for every statement that writes it, including the ones a view, a
 * rule, a trigger or a cascade issues. The triggers are enabled ALWAYS where we may (so a superuser's
 * `session_replication_role = replica` does not silence them either).
 *
 * Everything lives under one function in its own schema; unfreeze removes every trigger that calls
 * that function (found in pg_trigger, so a freeze killed half-way is undone as exactly as a finished
 * one), then the function and the schema: the catalog is as before.
 */

/** Leading underscore: Supabase's exclusions (and ours) never treat it as an application schema. */
export const BARRIER_SCHEMA = '_cutover_freeze';
export const BARRIER_FUNCTION = `${quoteIdent(BARRIER_SCHEMA)}.refuse_write()`;
export const GUARD_TRIGGER = 'cutover_freeze_guard';
/** read_only_sql_transaction: what a client library shows as "cannot execute ... in a read-only transaction". */
export const FROZEN_SQLSTATE = '25006';
/** The auth tables the application's data depends on (foreign keys, sign-up triggers). */
export const AUTH_TABLES = ['auth.users', 'auth.identities'] as const;

export interface GuardedTable {
  id: string;
  oid: number;
  owner: string;
  /** False when the migration login does not own the table: the trigger is then enabled ORIGIN only. */
  always: boolean;
}

/**
 * Every table the barrier guards: all ordinary and partitioned tables (partitions included: a direct
 * INSERT into a partition fires only the partition's statement triggers) of the plan tables' schemas,
 * and auth.users / auth.identities when present.
 */
export async function readGuardedTables(client: pg.Client, planSchemas: readonly string[]): Promise<GuardedTable[]> {
  const schemas = [...new Set(planSchemas)].filter((s) => !EXCLUDED_SCHEMAS.includes(s) && !s.startsWith('_') && !s.startsWith('pg_'));
  const result = await client.query<{ id: string; oid: number; owner: string; always: boolean }>(
    `SELECT n.nspname || '.' || c.relname AS id, c.oid::int AS oid, pg_get_userbyid(c.relowner)::text AS owner,
            pg_has_role(c.relowner, 'USAGE') AS always
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND (n.nspname = ANY($1::text[]) OR c.oid IN (SELECT to_regclass(t) FROM unnest($2::text[]) t WHERE to_regclass(t) IS NOT NULL))
      ORDER BY 1`,
    [schemas, AUTH_TABLES],
  );
  return result.rows;
}

/** The error every guarded write gets; `window` says which maintenance window, for the person who hits it. */
export function frozenMessage(window: string): string {
  return `writes are refused during ${window}`;
}

/**
 * Install (or reinstall: every statement is idempotent) the barrier on `tables`, inside the caller's
 * transaction. Creating a trigger needs the TRIGGER privilege; enabling it ALWAYS needs ownership,
 * which `always` says we have.
 */
export async function installBarrier(client: pg.Client, tables: readonly GuardedTable[], window: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(BARRIER_SCHEMA)}`);
  await client.query(
    `CREATE OR REPLACE FUNCTION ${BARRIER_FUNCTION} RETURNS trigger LANGUAGE plpgsql AS $guard$
     BEGIN
       RAISE EXCEPTION USING
         ERRCODE = '${FROZEN_SQLSTATE}',
         MESSAGE = format('%s on %I.%I refused: the source is frozen, %s', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME,
                          ${quoteLiteral(frozenMessage(window))}),
         HINT = 'The database is being migrated; try again after the maintenance window.';
     END
     $guard$`,
  );
  for (const table of tables) {
    const quoted = quoteRelation(table.id);
    await client.query(
      `CREATE OR REPLACE TRIGGER ${quoteIdent(GUARD_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${quoted}
         FOR EACH STATEMENT EXECUTE FUNCTION ${BARRIER_FUNCTION}`,
    );
    if (table.always) await client.query(`ALTER TABLE ${quoted} ENABLE ALWAYS TRIGGER ${quoteIdent(GUARD_TRIGGER)}`);
  }
}

/** The tables that carry the guard trigger now, from the catalog. */
export async function readInstalledGuards(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ id: string }>(
    `SELECT n.nspname || '.' || c.relname AS id
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
      WHERE p.proname = 'refuse_write' AND pn.nspname = $1
      ORDER BY 1`,
    [BARRIER_SCHEMA],
  );
  return result.rows.map((r) => r.id);
}

/** Remove every guard trigger, the function and the schema (inside the caller's transaction). */
export async function removeBarrier(client: pg.Client): Promise<string[]> {
  const guarded = await readInstalledGuards(client);
  for (const id of guarded) await client.query(`DROP TRIGGER IF EXISTS ${quoteIdent(GUARD_TRIGGER)} ON ${quoteRelation(id)}`);
  await client.query(`DROP FUNCTION IF EXISTS ${BARRIER_FUNCTION}`);
  await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(BARRIER_SCHEMA)}`);
  return guarded;
}

/** Sequences the plan tables use: owned by one of their columns (serial, identity) or named in a column default. */
export async function readPlanSequences(client: pg.Client, tableOids: readonly number[]): Promise<{ id: string; oid: number; owner: string }[]> {
  const result = await client.query<{ id: string; oid: number; owner: string }>(
    `SELECT DISTINCT n.nspname || '.' || s.relname AS id, s.oid::int AS oid, pg_get_userbyid(s.relowner)::text AS owner
       FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' AND d.classid = 'pg_class'::regclass
       JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i')
     UNION
     SELECT n.nspname || '.' || s.relname, s.oid::int, pg_get_userbyid(s.relowner)::text
       FROM pg_attrdef ad
       JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
       JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE ad.adrelid = ANY($1::oid[])
      ORDER BY 1`,
    [tableOids],
  );
  return result.rows;
}

export function quoteRelation(id: string): string {
  const dot = id.indexOf('.');
  return `${quoteIdent(id.slice(0, dot))}.${quoteIdent(id.slice(dot + 1))}`;
}
