import type pg from 'pg';
import { poolerAddress, splitTableName } from '../../adapters/postgres.js';
import { replicationNames } from './names.js';

/**
 * Can the source do logical replication for this plan? Each problem is one sentence naming the fix.
 * Used by `cutover check` / prep.preflight (through reach-systems) and again by prep.replicate.
 */

export interface Readiness {
  problems: string[];
  /** Facts for the check's message when everything is fine. */
  facts: string[];
}

/**
 * A pooler in front of the source cannot carry a replication connection (Supavisor and PgBouncer
 * do not speak the replication protocol), and a transaction pooler cannot hold an exported snapshot.
 */
export function poolerProblem(url: string, envName: string): string | null {
  const pooler = poolerAddress(url);
  if (!pooler) return null;
  return (
    `${envName} points at a connection pooler (${pooler}): logical replication needs the ` +
    `direct connection. On Supabase use db.<project>.supabase.co port 5432 (Project settings → Database → Direct connection).`
  );
}

export async function replicationReadiness(
  source: pg.Client,
  label: string,
  tableIds: readonly string[],
  tables: readonly { name: string; key: readonly string[] }[],
  runId?: string,
): Promise<Readiness> {
  const problems: string[] = [];
  const facts: string[] = [];
  const settings = await source.query<{ wal_level: string; max_slots: string; used_slots: string; version: string; superuser: boolean; replication: boolean; ours: boolean }>(
    `SELECT current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots') AS max_slots,
            (SELECT count(*) FROM pg_replication_slots)::text AS used_slots,
            current_setting('server_version_num') AS version,
            r.rolsuper AS superuser, r.rolreplication AS replication,
            EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS ours
       FROM pg_roles r WHERE r.rolname = current_user`,
    [runId ? replicationNames(runId).slot : ''],
  );
  const s = settings.rows[0]!;
  if (s.wal_level !== 'logical') {
    problems.push(
      `The ${label} has wal_level = ${s.wal_level}; logical replication needs wal_level = logical ` +
        `(ALTER SYSTEM SET wal_level = logical, then restart the server; Supabase projects already have it).`,
    );
  } else facts.push('wal_level = logical');
  const free = Number(s.max_slots) - Number(s.used_slots);
  if (free < 1 && !s.ours) {
    problems.push(
      `The ${label} has no free replication slot (${s.used_slots} of max_replication_slots = ${s.max_slots} in use): ` +
        `drop an unused one (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active) or raise max_replication_slots.`,
    );
  } else facts.push(`${free} of ${s.max_slots} replication slots free`);
  if (!s.superuser && !s.replication) {
    problems.push(
      `The ${label}'s role can neither create a replication slot nor a publication for these tables: connect as a ` +
        `superuser or a role with REPLICATION that owns the tables (on Supabase before PostgreSQL 17: the postgres role).`,
    );
  }
  const identities = await source.query<{ id: string; ident: string; has_pk: boolean }>(
    `SELECT n.nspname || '.' || c.relname AS id, c.relreplident AS ident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname || '.' || c.relname = ANY ($1::text[])`,
    [tableIds],
  );
  for (const row of identities.rows) {
    const usable = row.ident === 'f' || row.ident === 'i' || (row.ident === 'd' && row.has_pk);
    if (usable) continue;
    const plan = tables.find((t) => `${splitTableName(t.name).schema}.${splitTableName(t.name).table}` === row.id);
    const key = plan?.key.join(', ') ?? 'its key columns';
    problems.push(
      `${row.id} has no primary key or declared replica identity, so its UPDATEs and DELETEs cannot be replicated ` +
        `(the source would refuse them once published): add one (ALTER TABLE ${row.id} ADD PRIMARY KEY (${key})), ` +
        `declare a unique index as its key (ALTER TABLE ${row.id} REPLICA IDENTITY USING INDEX <index on ${key}>), ` +
        `or ALTER TABLE ${row.id} REPLICA IDENTITY FULL.`,
    );
  }
  if (!problems.some((p) => p.includes('no primary key'))) facts.push(`${identities.rowCount} tables with a replica identity`);
  return { problems, facts };
}
