import type pg from 'pg';
import { planDatabase, quoteIdent, quoteLiteral, withConnection } from '../../adapters/postgres.js';
import { sqlTableId } from '../../config/identifiers.js';
import type { Plan } from '../../config/schema.js';
import { EXCLUDED_SCHEMAS, normalizeTableName, readTables } from './catalog.js';

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
  /** `"schema"."table"`, quoted by PostgreSQL (any name it allows). */
  quoted: string;
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
  const result = await client.query<GuardedTable>(
    `SELECT ${sqlTableId('n.nspname', 'c.relname')} AS id, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted, c.oid::int AS oid, pg_get_userbyid(c.relowner)::text AS owner,
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
  for (const { quoted, always } of tables) {
    await client.query(
      `CREATE OR REPLACE TRIGGER ${quoteIdent(GUARD_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${quoted}
         FOR EACH STATEMENT EXECUTE FUNCTION ${BARRIER_FUNCTION}`,
    );
    if (always) await client.query(`ALTER TABLE ${quoted} ENABLE ALWAYS TRIGGER ${quoteIdent(GUARD_TRIGGER)}`);
  }
}

/** The tables that carry the guard trigger now, from the catalog. */
export async function readInstalledGuards(client: pg.Client): Promise<string[]> {
  return (await readInstalledGuardRelations(client)).map((r) => r.id);
}

async function readInstalledGuardRelations(client: pg.Client): Promise<{ id: string; quoted: string }[]> {
  const result = await client.query<{ id: string; quoted: string }>(
    `SELECT ${sqlTableId('n.nspname', 'c.relname')} AS id, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
      WHERE p.proname = 'refuse_write' AND pn.nspname = $1
      ORDER BY 1`,
    [BARRIER_SCHEMA],
  );
  return result.rows;
}

/** Remove every guard trigger, the function and the schema (inside the caller's transaction). */
export async function removeBarrier(client: pg.Client): Promise<string[]> {
  const guarded = await readInstalledGuardRelations(client);
  for (const { quoted } of guarded) await client.query(`DROP TRIGGER IF EXISTS ${quoteIdent(GUARD_TRIGGER)} ON ${quoted}`);
  await client.query(`DROP FUNCTION IF EXISTS ${BARRIER_FUNCTION}`);
  await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(BARRIER_SCHEMA)}`);
  return guarded.map((r) => r.id);
}

/** Sequences the plan tables use: owned by one of their columns (serial, identity) or named in a column default. */
export async function readPlanSequences(client: pg.Client, tableOids: readonly number[]): Promise<{ id: string; oid: number; owner: string }[]> {
  const result = await client.query<{ id: string; oid: number; owner: string }>(
    `SELECT DISTINCT ${sqlTableId('n.nspname', 's.relname')} AS id, s.oid::int AS oid, pg_get_userbyid(s.relowner)::text AS owner
       FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' AND d.classid = 'pg_class'::regclass
       JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i')
     UNION
     SELECT ${sqlTableId('n.nspname', 's.relname')}, s.oid::int, pg_get_userbyid(s.relowner)::text
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


export interface BarrierCheck {
  /** What makes the barrier unable to hold, each naming the role and the fix. Empty when it holds. */
  problems: string[];
  /** Worth knowing, not blocking. */
  notes: string[];
}

/**
 * Can the barrier hold for this plan? Asked by `check` and prep.preflight, and again by freeze.enable
 * before it changes anything. The barrier stops every role but these: a superuser (it can drop or
 * silence triggers), a table's owner (it can drop the trigger and grant itself writes back), a role
 * with REPLICATION (it can stream changes in through a replication connection); nor can it stop an app
 * role that can SET ROLE into one of those. BYPASSRLS does not get past a trigger, so it is only noted.
 * And the migration login must be able to install the barrier and remove it again.
 */
export async function checkBarrier(client: pg.Client, tableOids: readonly number[], planSchemas: readonly string[], appRoles: readonly string[]): Promise<BarrierCheck> {
  const problems: string[] = [];
  const notes: string[] = [];
  const guarded = await readGuardedTables(client, planSchemas);
  const sequences = await readPlanSequences(client, tableOids);
  type Owned = { id: string; quoted: string; sequence: boolean };
  const reach = await client.query<{ app: string; role: string; super: boolean; replication: boolean; bypassrls: boolean; owns: Owned[] | null }>(
    `SELECT a.rolname::text AS app, r.rolname::text AS role, r.rolsuper AS super, r.rolreplication AS replication,
            r.rolbypassrls AS bypassrls,
            (SELECT json_agg(json_build_object('id', ${sqlTableId('n.nspname', 'c.relname')},
                                               'quoted', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                                               'sequence', c.relkind = 'S') ORDER BY n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relowner = r.oid AND c.oid = ANY($2::oid[])) AS owns
       FROM pg_roles a JOIN pg_roles r ON pg_has_role(a.oid, r.oid, 'MEMBER')
      WHERE a.rolname = ANY($1::text[])
      ORDER BY a.rolname = r.rolname DESC, 1, 2`,
    [appRoles, [...guarded.map((t) => t.oid), ...sequences.map((s) => s.oid)]],
  );
  const { login, version } = (
    await client.query<{ login: string; version: number }>(`SELECT current_user::text AS login, current_setting('server_version_num')::int AS version`)
  ).rows[0]!;
  // CREATE OR REPLACE TRIGGER (idempotent install) exists from PostgreSQL 14; Supabase runs 15 and later.
  if (version < 140000) problems.push(`The source runs PostgreSQL ${Math.floor(version / 10000)}; the freeze's barrier needs 14 or later. Fix: upgrade the source first.`);
  for (const r of reach.rows) {
    const who = r.app === r.role ? `app role ${r.app} is` : `app role ${r.app} can SET ROLE to ${r.role}, which is`;
    const fix = (sql: string) => `${sql}, or remove ${r.app} from plan.appRoles and stop the application connecting as it`;
    if (r.super) problems.push(`${who} a superuser: no freeze can stop it. Fix: ${fix(`ALTER ROLE ${quoteIdent(r.role)} NOSUPERUSER`)}.`);
    if (r.replication) {
      problems.push(`${who} allowed REPLICATION: it can write past the freeze through a replication connection. Fix: ${fix(`ALTER ROLE ${quoteIdent(r.role)} NOREPLICATION`)}.`);
    }
    if (r.owns?.length) {
      problems.push(
        `${who} the owner of ${r.owns.map((t) => t.id).join(', ')}: an owner can drop the freeze's guard trigger and grant itself writes back. ` +
          `Fix: ${r.owns.map((t) => `ALTER ${t.sequence ? 'SEQUENCE' : 'TABLE'} ${t.quoted} OWNER TO ${quoteIdent(login)}`).join('; ')}.`,
      );
    }
    if (r.bypassrls && !r.super) {
      const holder = r.app === r.role ? `app role ${r.app}` : `${r.role} (app role ${r.app} can SET ROLE to it)`;
      notes.push(`${holder} has BYPASSRLS: the freeze's guard trigger holds for it all the same`);
    }
  }
  // The migration login installs a trigger (TRIGGER privilege), enables it ALWAYS and later drops it
  // (both need the owner's privileges), and creates the barrier's schema (CREATE on the database).
  const rights = await client.query<{ id: string; owner: string; can_trigger: boolean; is_owner: boolean }>(
    `SELECT ${sqlTableId('n.nspname', 'c.relname')} AS id, pg_get_userbyid(c.relowner)::text AS owner,
            has_table_privilege(c.oid, 'TRIGGER') AS can_trigger, pg_has_role(c.relowner, 'USAGE') AS is_owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) ORDER BY 1`,
    [guarded.map((t) => t.oid)],
  );
  const byOwner = new Map<string, string[]>();
  for (const t of rights.rows.filter((t) => !t.can_trigger || !t.is_owner)) byOwner.set(t.owner, [...(byOwner.get(t.owner) ?? []), t.id]);
  for (const [owner, tables] of byOwner) {
    const auth = owner === 'supabase_auth_admin';
    problems.push(
      `The migration login ${login} cannot install and later remove the freeze's guard trigger on ${tables.join(', ')} (owned by ${owner}): ` +
        `it must be ${owner} or a member of it with the TRIGGER privilege. Fix: as a role that may, GRANT ${quoteIdent(owner)} TO ${quoteIdent(login)}` +
        (auth
          ? ` (on Supabase the auth tables belong to supabase_auth_admin; run the cutover as the project's postgres role after granting it supabase_auth_admin)`
          : ` (on Supabase, connect as the project's postgres role, which owns the tables it created)`) +
        `.`,
    );
  }
  const canCreate = (
    await client.query<{ ok: boolean }>(
      `SELECT has_database_privilege(current_database(), 'CREATE')
              OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1 AND pg_has_role(nspowner, 'USAGE')) AS ok`,
      [BARRIER_SCHEMA],
    )
  ).rows[0]!.ok;
  if (!canCreate) {
    problems.push(
      `The migration login ${login} may not create the schema ${BARRIER_SCHEMA} that holds the freeze's guard function. ` +
        `Fix: GRANT CREATE ON DATABASE <database> TO ${quoteIdent(login)} (on Supabase the postgres role has it).`,
    );
  }
  return { problems, notes };
}

/** `check` and prep.preflight: the barrier question for a plan, as one line for the person who runs it. */
export async function checkPlanBarrier(plan: Plan, env: Record<string, string | undefined>, planDir = '.'): Promise<{ ok: boolean; message: string }> {
  const source = planDatabase(plan, env, 'source', planDir);
  return withConnection(source, async (client) => {
    const tables = await readTables(client, plan.tables.map((t) => normalizeTableName(t.name)), source.label);
    const result = await checkBarrier(client, tables.map((t) => t.oid), tables.map((t) => t.schema), plan.appRoles);
    if (result.problems.length > 0) return { ok: false, message: `the freeze cannot hold: ${result.problems.join(' ')}` };
    return {
      ok: true,
      message: `the freeze can hold on the source for ${plan.appRoles.join(', ')}${result.notes.length ? ` (${result.notes.join('; ')})` : ''}`,
    };
  });
}
