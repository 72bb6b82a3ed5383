import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { inTransaction, quoteIdent, quoteQualified, withConnection, type Database } from '../../adapters/postgres.js';
import { sqlTableId } from '../../config/identifiers.js';
import type { Clock } from '../../engine/clock.js';
import { isReservedRole, readTables, RESERVED_ROLES, type TableInfo } from './catalog.js';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import type { CutoverPoint } from './manifest.js';
import { describeWrites, readWriteCounters, writesBetween } from './proof.js';
import { checkBarrier, FROZEN_SQLSTATE, installBarrier, readGuardedTables, readInstalledGuards, readPlanSequences, removeBarrier } from './barrier.js';

/**
 * Freeze and unfreeze of the source.
 *
 * Freeze revokes the write privileges of the app roles on the plan's tables. What is revoked is read
 * from the catalog (aclexplode over pg_class.relacl and pg_attribute.attacl, so column-level grants
 * are included) and recorded grant by grant, with its grantor and grant option, so that unfreeze
 * re-grants exactly that: the ACLs end up identical. TRUNCATE is revoked along with INSERT, UPDATE and
 * DELETE because it is a write as well and Supabase grants ALL to its API roles. Grants to PUBLIC are
 * revoked too, since every role, the app roles included, would keep writing through them.
 */

export const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const;
/** nextval needs USAGE or UPDATE, setval needs UPDATE: both are revoked on the plan tables' sequences. */
export const SEQUENCE_WRITE_PRIVILEGES = ['USAGE', 'UPDATE'] as const;

export interface RecordedGrant {
  /** `schema.table` (or `schema.sequence` when `object` is `sequence`). */
  table: string;
  /** Set for a grant on one of the plan tables' sequences; absent for a table. */
  object?: 'sequence';
  /** Set for a column-level grant. */
  column: string | null;
  /** Role name, or `PUBLIC`. */
  grantee: string;
  grantor: string;
  privilege: string;
  grantable: boolean;
}

export interface TerminatedSession {
  pid: number;
  role: string;
}

export interface FreezeResult {
  /** Every grant revoked by this run's freeze, including by earlier attempts. */
  revoked: RecordedGrant[];
  /** Tables that carry the barrier's guard trigger (see barrier.ts). */
  guarded: string[];
  terminated: TerminatedSession[];
}

export interface FreezeOptions {
  source: Database;
  tables: readonly string[];
  appRoles: readonly string[];
  /**
   * File that records the grants *before* they are revoked, so that a freeze interrupted after its
   * commit but before its output was saved still knows what to restore when it runs again.
   */
  recordFile: string;
  /**
   * Names the maintenance window in the error every refused write gets. Without it only the grants are
   * revoked and no barrier is installed (rollback.freeze-target: the target is never unfrozen by us).
   */
  window?: string;
}

export async function freezeSource(options: FreezeOptions): Promise<FreezeResult> {
  return withConnection(options.source, async (client) => {
    await checkAppRoles(client, options.appRoles);
    const tables = await readTables(client, options.tables, options.source.label);
    const earlier = await readGrantRecord(options.recordFile);
    if (options.window) {
      const barrier = await checkBarrier(client, tables.map((t) => t.oid), tables.map((t) => t.schema), options.appRoles);
      if (barrier.problems.length > 0) throw new Error(`The freeze cannot hold: ${barrier.problems.join(' ')} Nothing was changed.`);
    }
    const sequences = await readPlanSequences(client, tables.map((t) => t.oid));
    const guardedTables = options.window ? await readGuardedTables(client, tables.map((t) => t.schema)) : [];
    const { revoked, guarded } = await inTransaction(client, async () => {
      const current = [
        ...(await readWriteGrants(client, tables, options.appRoles)),
        ...(await readSequenceGrants(client, sequences.map((s) => s.oid), options.appRoles)),
      ];
      const all = mergeGrants(earlier, current);
      await mkdir(dirname(options.recordFile), { recursive: true });
      await writeFileAtomic(options.recordFile, `${JSON.stringify({ revoked: all }, null, 2)}\n`, { mode: 0o600 });
      for (const grant of revokeOrder(current, options.appRoles)) {
        await client.query(`SET LOCAL ROLE ${quoteIdent(grant.grantor)}`);
        await client.query(
          `REVOKE ${privilegeClause(grant)} ON ${objectClause(grant)} FROM ${granteeClause(grant.grantee)}`,
        );
      }
      await client.query('RESET ROLE');
      // The second line, for every path the revoke cannot see (owners' functions, triggers, cascades, the auth service).
      if (options.window) await installBarrier(client, guardedTables, options.window);
      const remaining = [
        ...(await remainingWritePrivileges(client, tables, options.appRoles)),
        ...(await remainingSequencePrivileges(client, sequences, options.appRoles)),
      ];
      if (remaining.length > 0) {
        throw new Error(
          `The app roles can still write after the revoke: ${remaining.join('; ')}. Add the roles named ` +
            `there to plan.appRoles (or revoke their membership) and run freeze.enable again. Nothing was changed.`,
        );
      }
      return { revoked: all, guarded: await readInstalledGuards(client) };
    });
    const terminated = await terminateAppSessions(client, options.appRoles);
    return { revoked, guarded, terminated };
  });
}

export async function unfreezeSource(options: {
  source: Database;
  grants: readonly RecordedGrant[];
}): Promise<{ restored: number; unguarded: string[] }> {
  return withConnection(options.source, async (client) => {
    const unguarded = await inTransaction(client, async () => {
      const removed = await removeBarrier(client);
      // Reverse of the revoke order: a grant made by an app role needs that role's grant option back first.
      const grantees = new Set(options.grants.map((g) => g.grantee));
      const ordered = [...options.grants].sort((a, b) => Number(grantees.has(a.grantor)) - Number(grantees.has(b.grantor)));
      for (const grant of ordered) {
        await client.query(`SET LOCAL ROLE ${quoteIdent(grant.grantor)}`);
        await client.query(
          `GRANT ${privilegeClause(grant)} ON ${objectClause(grant)} TO ${granteeClause(grant.grantee)}` +
            (grant.grantable ? ' WITH GRANT OPTION' : ''),
        );
      }
      await client.query('RESET ROLE');
      return removed;
    });
    if (options.grants.length === 0) return { restored: 0, unguarded };
    const tableGrants = options.grants.filter((g) => g.object !== 'sequence');
    const sequenceGrants = options.grants.filter((g) => g.object === 'sequence');
    const tables = await readTables(client, [...new Set(tableGrants.map((g) => g.table))], options.source.label);
    const sequenceOids = (
      await client.query<{ oid: number }>('SELECT to_regclass(s)::oid::int AS oid FROM unnest($1::text[]) s', [
        [...new Set(sequenceGrants.map((g) => quoteQualified(g.table)))],
      ])
    ).rows.map((r) => r.oid);
    const grantees = [...new Set(options.grants.map((g) => g.grantee))];
    const present = [
      ...(tables.length ? await readWriteGrants(client, tables, grantees) : []),
      ...(await readSequenceGrants(client, sequenceOids, grantees)),
    ];
    const keys = new Set(present.map(grantKey));
    const missing = options.grants.filter((g) => !keys.has(grantKey(g)));
    if (missing.length > 0) {
      throw new Error(`Grants not restored: ${missing.map(describeGrant).join('; ')}.`);
    }
    return { restored: options.grants.length, unguarded };
  });
}

/** USAGE and UPDATE grants of `roles` and PUBLIC on the sequences `oids`, from the catalog. */
export async function readSequenceGrants(client: pg.Client, oids: readonly number[], roles: readonly string[]): Promise<RecordedGrant[]> {
  const result = await client.query<RecordedGrant>(
    `SELECT ${sqlTableId('n.nspname', 'c.relname')} AS table, 'sequence' AS object, NULL AS column,
            CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee,
            pg_get_userbyid(acl.grantor)::text AS grantor, acl.privilege_type AS privilege, acl.is_grantable AS grantable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) acl
      WHERE c.oid = ANY($1::oid[]) AND c.relacl IS NOT NULL
        AND acl.privilege_type = ANY($2::text[])
        AND (acl.grantee = 0 OR pg_get_userbyid(acl.grantee) = ANY($3::text[]))
      ORDER BY 1, 4, 6, 5`,
    [oids, SEQUENCE_WRITE_PRIVILEGES, roles],
  );
  return result.rows;
}

async function remainingSequencePrivileges(
  client: pg.Client,
  sequences: readonly { id: string; oid: number }[],
  roles: readonly string[],
): Promise<string[]> {
  const result = await client.query<{ role: string; sequence: string; privilege: string }>(
    `SELECT r.role, s.name AS sequence, p.privilege
       FROM unnest($1::text[]) r(role), unnest($2::oid[], $3::text[]) s(oid, name), unnest($4::text[]) p(privilege)
      WHERE has_sequence_privilege(r.role, s.oid, p.privilege)
      ORDER BY 1, 2, 3`,
    [roles, sequences.map((s) => s.oid), sequences.map((s) => s.id), SEQUENCE_WRITE_PRIVILEGES],
  );
  return result.rows.map((r) => `${r.role} can ${r.privilege} sequence ${r.sequence}`);
}

/** Write grants (INSERT, UPDATE, DELETE, TRUNCATE) of `roles` and PUBLIC on `tables`, from the catalog. */
export async function readWriteGrants(
  client: pg.Client,
  tables: readonly TableInfo[],
  roles: readonly string[],
): Promise<RecordedGrant[]> {
  const result = await client.query<RecordedGrant>(
    `WITH acl AS (
       SELECT c.oid, NULL::name AS column, (aclexplode(c.relacl)).*
         FROM pg_class c WHERE c.oid = ANY($1::oid[]) AND c.relacl IS NOT NULL
       UNION ALL
       SELECT a.attrelid, a.attname, (aclexplode(a.attacl)).*
         FROM pg_attribute a
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL)
     SELECT ${sqlTableId('n.nspname', 'c.relname')} AS table, acl.column::text AS column,
            CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee,
            pg_get_userbyid(acl.grantor)::text AS grantor, acl.privilege_type AS privilege, acl.is_grantable AS grantable
       FROM acl JOIN pg_class c ON c.oid = acl.oid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE acl.privilege_type = ANY($2::text[])
        AND (acl.grantee = 0 OR pg_get_userbyid(acl.grantee) = ANY($3::text[]))
      ORDER BY 1, 2 NULLS FIRST, 3, 5, 4`,
    [tables.map((t) => t.oid), WRITE_PRIVILEGES, roles],
  );
  return result.rows;
}

async function checkAppRoles(client: pg.Client, roles: readonly string[]): Promise<void> {
  const reserved = roles.filter(isReservedRole);
  if (reserved.length > 0) {
    throw new Error(
      `plan.appRoles names ${reserved.join(', ')}, reserved for Supabase's own services; a freeze must not ` +
        `touch them. List the roles the application writes as (anon, authenticated, service_role).`,
    );
  }
  const found = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [roles]);
  const missing = roles.filter((r) => !found.rows.some((f) => f.rolname === r));
  if (missing.length > 0) {
    throw new Error(`plan.appRoles names ${missing.join(', ')}, which do not exist on the source. Fix plan.appRoles.`);
  }
}

/** Privileges still held after the revoke (through another role's grants), explained. */
async function remainingWritePrivileges(client: pg.Client, tables: readonly TableInfo[], roles: readonly string[]): Promise<string[]> {
  const result = await client.query<{ role: string; table: string; privilege: string; via: string | null }>(
    `SELECT r.role, t.name AS table, p.privilege,
            (SELECT string_agg(m.roleid::regrole::text, ', ') FROM pg_auth_members m
              WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = r.role)) AS via
       FROM unnest($1::text[]) r(role), unnest($2::oid[], $3::text[]) t(oid, name), unnest($4::text[]) p(privilege)
      WHERE has_table_privilege(r.role, t.oid, p.privilege)
         OR (p.privilege IN ('INSERT', 'UPDATE') AND has_any_column_privilege(r.role, t.oid, p.privilege))
      ORDER BY 1, 2, 3`,
    [roles, tables.map((t) => t.oid), tables.map((t) => t.id), WRITE_PRIVILEGES],
  );
  return result.rows.map(
    (r) => `${r.role} can ${r.privilege} ${r.table}${r.via ? ` (it is a member of ${r.via})` : ' (granted to PUBLIC or a member role)'}`,
  );
}

/**
 * End the sessions that can write as an app role: sessions logged in as one, and sessions of login
 * roles that are members of one. The second kind covers PostgREST, which logs in as `authenticator`
 * and switches with SET ROLE per request: pg_stat_activity shows only the login role (`usename`),
 * never the role a session has switched to, so membership is the only way to see them. Superusers,
 * Supabase's reserved service roles (other than authenticator) and our own login role are left alone
 * — the operator's own sessions and the platform's are not the application's.
 */
export async function terminateAppSessions(client: pg.Client, roles: readonly string[]): Promise<TerminatedSession[]> {
  const result = await client.query<{ pid: number; role: string; terminated: boolean }>(
    `SELECT a.pid, a.usename::text AS role, pg_terminate_backend(a.pid) AS terminated
       FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
      WHERE a.pid <> pg_backend_pid()
        AND a.datname = current_database()
        AND a.backend_type = 'client backend'
        AND a.usename <> session_user
        AND (a.usename = ANY($1::text[])
             OR (NOT r.rolsuper
                 AND (a.usename = 'authenticator' OR NOT (a.usename = ANY($2::text[])))
                 AND EXISTS (SELECT 1 FROM unnest($1::text[]) app(role) WHERE pg_has_role(a.usename, app.role, 'MEMBER'))))
      ORDER BY a.pid`,
    // Supabase's own service roles keep their sessions (authenticator is named above: it serves the app).
    [roles, RESERVED_ROLES],
  );
  return result.rows.filter((r) => r.terminated).map((r) => ({ pid: r.pid, role: r.role }));
}


export type { WriteCounters } from './proof.js';

export interface WriteAttempt {
  role: string;
  table: string;
  refused: boolean;
  /** What PostgreSQL answered (the error message), or `accepted`. */
  answer: string;
}

export interface NoWritesResult {
  quietWindowMs: number;
  tables: number;
  attempts: WriteAttempt[];
  /** With `barrier`: the tables whose guard trigger refused our own INSERT. */
  guarded: number;
}

export interface VerifyNoWritesOptions {
  source: Database;
  tables: readonly string[];
  appRoles: readonly string[];
  clock: Clock;
  quietWindowMs: number;
  signal?: AbortSignal;
  /** Also prove the barrier is in place: our own INSERT (in a rolled-back transaction) gets SQLSTATE 25006 on every table. */
  barrier?: boolean;
}

/**
 * Table statistics reach pg_stat_user_tables only when a backend flushes them: at the end of a
 * transaction at most once a second, otherwise when it goes idle. Whatever the clock (a compressed or
 * manual clock can end the window at once), at least this much real time separates the two readings,
 * so a write just before the window cannot hide in a backend's unflushed counters.
 */
const STATS_FLUSH_MS = 1_100;

/**
 * Write counters unchanged over the quiet window, then an INSERT as each app role (inside a rolled-back
 * transaction) must be refused for lack of privilege. Throws, naming tables and roles, otherwise.
 * The attempts come after the second reading: an accepted INSERT counts in n_tup_ins even when rolled back.
 */
export async function verifyNoWrites(options: VerifyNoWritesOptions): Promise<NoWritesResult> {
  return withConnection(options.source, async (client) => {
    const tables = await readTables(client, options.tables, options.source.label);
    const realStart = Date.now();
    const before = await readWriteCounters(client, tables);
    await options.clock.sleepUntil(options.clock.now() + options.quietWindowMs, options.signal);
    const realLeft = STATS_FLUSH_MS - (Date.now() - realStart);
    if (realLeft > 0) await delay(realLeft, undefined, { signal: options.signal });
    const after = await readWriteCounters(client, tables);
    const changed: string[] = [];
    for (const table of tables) {
      const b = before.get(table.id)!;
      const a = after.get(table.id)!;
      const delta = { inserts: a.inserts - b.inserts, updates: a.updates - b.updates, deletes: a.deletes - b.deletes };
      if (delta.inserts || delta.updates || delta.deletes) {
        changed.push(`${table.id} (+${delta.inserts} inserted, +${delta.updates} updated, +${delta.deletes} deleted)`);
      }
    }
    if (changed.length > 0) {
      throw new Error(
        `Writes reached the source during the quiet window: ${changed.join('; ')}. Find the writer ` +
          `(pg_stat_activity), stop it, and run freeze.verify-no-writes again.`,
      );
    }
    const attempts: WriteAttempt[] = [];
    for (const role of options.appRoles) {
      for (const table of tables) attempts.push(await attemptInsert(client, role, table));
    }
    const accepted = attempts.filter((a) => !a.refused);
    if (accepted.length > 0) {
      throw new Error(
        `The source still accepts writes from app roles: ${accepted.map((a) => `${a.role} on ${a.table} (${a.answer})`).join('; ')}. ` +
          `Run freeze.enable again.`,
      );
    }
    let guarded = 0;
    if (options.barrier) {
      const open: string[] = [];
      for (const table of tables) {
        const answer = await attemptOwnInsert(client, table);
        if (answer.code === FROZEN_SQLSTATE) guarded++;
        else open.push(`${table.id} (${answer.message})`);
      }
      if (open.length > 0) {
        throw new Error(`The freeze's guard trigger is missing on ${open.join('; ')}. Run freeze.enable again.`);
      }
    }
    return { quietWindowMs: options.quietWindowMs, tables: tables.length, attempts, guarded };
  });
}

/**
 * The same check as a write through Supabase's REST API: PostgREST switches to the request's role
 * with SET ROLE and runs the INSERT. The privilege check comes before any constraint, so DEFAULT
 * VALUES is enough to be refused; the transaction is always rolled back.
 */
async function attemptInsert(client: pg.Client, role: string, table: TableInfo): Promise<WriteAttempt> {
  await client.query('BEGIN');
  try {
    // As PostgREST runs it: row security on (our sessions pin it off, which would turn every attempt
    // on a table with policies into a "would be affected by row-level security" error instead).
    await client.query('SET LOCAL row_security = on');
    await client.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
    await client.query(`INSERT INTO ${table.quoted} DEFAULT VALUES`);
    return { role, table: table.id, refused: false, answer: 'accepted' };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    // 42501 is also row-level security's code ("new row violates row-level security policy"): only a
    // missing privilege counts, since RLS would let other rows through.
    const refused = e.code === '42501' && /^permission denied/.test(e.message ?? '');
    return { role, table: table.id, refused, answer: e.message ?? String(error) };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

/** Our own INSERT, rolled back: the guard trigger answers before any row or constraint is looked at. */
async function attemptOwnInsert(client: pg.Client, table: TableInfo): Promise<{ code?: string; message: string }> {
  await client.query('BEGIN');
  try {
    await client.query(`INSERT INTO ${table.quoted} DEFAULT VALUES`);
    return { message: 'accepted' };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { code: e.code, message: e.message ?? String(error) };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

/**
 * The cutover point: database time, WAL position and exact row counts, all from one snapshot, and the
 * write counters the proof compares later (proof.ts). The counters are read on both sides of the
 * snapshot: if they differ, something wrote while the point was being taken, and no point is recorded.
 */
export async function snapshotCutoverPoint(options: { source: Database; tables: readonly string[] }): Promise<CutoverPoint> {
  return withConnection(options.source, async (client) => {
    const tables = await readTables(client, options.tables, options.source.label);
    const before = await readWriteCounters(client, tables);
    const point = await inTransaction(
      client,
      async () => {
        const head = (
          await client.query<{ at: Date; lsn: string }>('SELECT now() AS at, pg_current_wal_lsn()::text AS lsn')
        ).rows[0]!;
        const counts: Record<string, number> = {};
        for (const table of tables) {
          const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.scan}`);
          counts[table.id] = Number(result.rows[0]!.n);
        }
        return { at: head.at.toISOString(), lsn: head.lsn, counts };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
    const counters = Object.fromEntries(before);
    const during = writesBetween(counters, await readWriteCounters(client, tables));
    if (during.length > 0) {
      throw new Error(
        `Writes reached the source while the cutover point was being recorded: ${describeWrites(during)}. ` +
          `The freeze is not holding for some writer: find it (pg_stat_activity), stop it, and run freeze.snapshot again.`,
      );
    }
    return { ...point, counters };
  });
}

export async function readGrantRecord(file: string): Promise<RecordedGrant[]> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { revoked?: RecordedGrant[] };
    return parsed.revoked ?? [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${file} (the freeze's record of revoked grants) cannot be read: ${(error as Error).message}`);
  }
}

function mergeGrants(a: readonly RecordedGrant[], b: readonly RecordedGrant[]): RecordedGrant[] {
  const byKey = new Map<string, RecordedGrant>();
  for (const grant of [...a, ...b]) byKey.set(grantKey(grant), grant);
  return [...byKey.values()];
}

/** Grants made by an app role (with a grant option it holds) go first, before that option is revoked. */
function revokeOrder(grants: readonly RecordedGrant[], roles: readonly string[]): RecordedGrant[] {
  const grantors = new Set(roles);
  return [...grants].sort((a, b) => Number(grantors.has(b.grantor)) - Number(grantors.has(a.grantor)));
}

function grantKey(g: RecordedGrant): string {
  return [g.object ?? 'table', g.table, g.column ?? '', g.grantee, g.grantor, g.privilege, g.grantable].join('\u0000');
}

export function describeGrant(g: RecordedGrant): string {
  const column = g.column ? ` (${g.column})` : '';
  return `${g.privilege}${column} on ${g.object === 'sequence' ? 'sequence ' : ''}${g.table} to ${g.grantee} by ${g.grantor}${g.grantable ? ' with grant option' : ''}`;
}

function privilegeClause(g: RecordedGrant): string {
  return g.column ? `${g.privilege} (${quoteIdent(g.column)})` : g.privilege;
}

function objectClause(g: RecordedGrant): string {
  return `${g.object === 'sequence' ? 'SEQUENCE' : 'TABLE'} ${quoteQualified(g.table)}`;
}

function granteeClause(grantee: string): string {
  return grantee === 'PUBLIC' ? 'PUBLIC' : quoteIdent(grantee);
}

