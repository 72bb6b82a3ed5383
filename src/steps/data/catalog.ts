import type pg from 'pg';
import { quoteIdent, splitTableName } from '../../adapters/postgres.js';
import { canonicalTableId, tableId } from '../../config/identifiers.js';

/**
 * What the data path needs to know about tables, read from pg_catalog. Everything that decides
 * *how* data moves (column lists, load order, sequences, indexes) comes from here, never from the plan.
 */

export interface ColumnInfo {
  name: string;
  /** `format_type` text, e.g. `numeric(6,2)`, `timestamp with time zone`. */
  type: string;
  /** Stored generated column: recomputed by the target, so never exported or loaded. */
  generated: boolean;
  /** `a` (GENERATED ALWAYS) or `d` (BY DEFAULT) for identity columns. */
  identity: 'a' | 'd' | null;
  notNull: boolean;
  /** Sequence owned by this column (serial or identity), schema-qualified and quoted. */
  sequence: string | null;
}

export interface ForeignKeyInfo {
  name: string;
  /** `schema.table` of the referencing (child) table. */
  table: string;
  columns: string[];
  /** `schema.table` of the referenced (parent) table. */
  refTable: string;
  refColumns: string[];
  deferrable: boolean;
}

export interface IndexInfo {
  /** Quoted, schema-qualified name, ready for DROP INDEX. */
  name: string;
  /** `pg_get_indexdef` text, ready to recreate it. */
  definition: string;
  comment: string | null;
  /** `ALTER INDEX … ALTER COLUMN n SET STATISTICS m` targets, which the definition does not carry. */
  statistics: IndexStatistics[];
}

export interface IndexStatistics {
  column: number;
  target: number;
}

export interface ConstraintInfo {
  /** Quoted constraint name. */
  name: string;
  /** `pg_get_constraintdef` text, e.g. `PRIMARY KEY (id)`. */
  definition: string;
  /** COMMENT ON CONSTRAINT, lost with a DROP CONSTRAINT. */
  comment: string | null;
  /** Its index (quoted, schema-qualified), with the comment and statistics targets it carries. */
  index: string;
  indexComment: string | null;
  indexStatistics: IndexStatistics[];
}

export interface TableInfo {
  /** Canonical id (`public.readings`, `public."User"`), as the plan and the manifest name it. */
  id: string;
  schema: string;
  name: string;
  /** `"schema"."table"`. */
  quoted: string;
  /**
   * What to read rows from: `ONLY "schema"."table"` for a plain table (COPY table TO copies no
   * inheritance children, so counts and hashes must not either), the table itself when partitioned.
   */
  scan: string;
  oid: number;
  /** `r` ordinary or `p` partitioned. */
  kind: 'r' | 'p';
  columns: ColumnInfo[];
  /** Columns that carry data: every column except generated ones, in table order. */
  copyColumns: string[];
  /** Foreign keys of this table (it is the child). */
  foreignKeys: ForeignKeyInfo[];
  /** True when another table has a foreign key to this one (TRUNCATE would be refused). */
  referencedByOthers: boolean;
  /**
   * Indexes that back no constraint (not primary key, unique or exclusion constraints) and are safe
   * to drop and recreate from their definition: not clustered and not the replica identity.
   */
  secondaryIndexes: IndexInfo[];
  /**
   * Primary key, unique and exclusion constraints, when no foreign key (not even a self-reference)
   * depends on them: their indexes can be dropped and rebuilt like secondary ones.
   */
  rebuildableConstraints: ConstraintInfo[];
  estimatedRows: number;
  totalBytes: number;
  rowSecurity: boolean;
}

/**
 * Supabase's internal schemas: never exported, loaded or compared. Auth users leave through the
 * admin API instead of `auth.users` (unless the plan lists it, see AUTH_PLAN_TABLES).
 */
export const EXCLUDED_SCHEMAS: readonly string[] = [
  'auth',
  'storage',
  'realtime',
  'extensions',
  'graphql',
  'graphql_public',
  'vault',
  'supabase_functions',
  'supabase_migrations',
  'cron',
  'net',
  'pgmq',
  'pgsodium',
  'pgsodium_masks',
  'pgbouncer',
  'information_schema',
];

/**
 * Supabase's auth tables a plan may list explicitly, when the target is a self-hosted Supabase with
 * the same auth schema: the application's foreign keys to auth.users then keep their rows.
 */
export const AUTH_PLAN_TABLES: readonly string[] = ['auth.users', 'auth.identities'];

export function isExcludedSchema(schema: string): boolean {
  return EXCLUDED_SCHEMAS.includes(schema) || schema.startsWith('_') || schema.startsWith('pg_');
}

/** Roles Supabase reserves for its own services: never app roles, never touched by a freeze. */
export const RESERVED_ROLES: readonly string[] = [
  'supabase_admin',
  'supabase_auth_admin',
  'supabase_storage_admin',
  'supabase_realtime_admin',
  'supabase_replication_admin',
  'supabase_read_only_user',
  'supabase_functions_admin',
  'supabase_etl_admin',
  'dashboard_user',
  'pgbouncer',
  'pgsodium_keyholder',
  'pgsodium_keyiduser',
  'pgsodium_keymaker',
  'authenticator',
];

export function isReservedRole(role: string): boolean {
  return RESERVED_ROLES.includes(role) || role.startsWith('pg_');
}

/** The canonical id (`public.readings`, `public."User"`) of a table name, `public.` added when left out. */
export function normalizeTableName(name: string): string {
  return canonicalTableId(name);
}

/** An index's per-column statistics targets, as JSON `[{column, target}]` (attstattarget is NULL or -1 when unset). */
const INDEX_STATISTICS = `coalesce((SELECT json_agg(json_build_object('column', ia.attnum, 'target', ia.attstattarget::int) ORDER BY ia.attnum)
                 FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid AND coalesce(ia.attstattarget::int, -1) >= 0), '[]'::json)`;

/**
 * Read the named tables, ordered parents first by their foreign keys. Throws when a table is missing
 * or lives in a Supabase internal schema.
 */
export async function readTables(client: pg.Client, names: readonly string[], databaseLabel: string): Promise<TableInfo[]> {
  const wanted = names.map(normalizeTableName);
  for (const id of wanted) {
    const { schema } = splitTableName(id);
    if (isExcludedSchema(schema) && !AUTH_PLAN_TABLES.includes(id)) {
      throw new Error(
        `The plan lists ${id}, but schema "${schema}" is internal to Supabase and is not migrated ` +
          `(auth users are exported through the admin API; only ${AUTH_PLAN_TABLES.join(' and ')} may be plan tables, ` +
          `for a target that is a self-hosted Supabase). Remove it from plan.tables.`,
      );
    }
  }
  const found = await client.query<{
    oid: number;
    schema: string;
    name: string;
    kind: 'r' | 'p';
    estimated_rows: string;
    total_bytes: string;
    row_security: boolean;
    referenced_by_others: boolean;
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
            greatest(c.reltuples, 0)::bigint AS estimated_rows,
            pg_total_relation_size(c.oid) AS total_bytes,
            c.relrowsecurity AS row_security,
            EXISTS (SELECT 1 FROM pg_constraint f
                     WHERE f.contype = 'f' AND f.confrelid = c.oid AND f.conrelid <> c.oid) AS referenced_by_others
       FROM unnest($1::text[], $2::text[]) AS w(schema, name)
       JOIN pg_namespace n ON n.nspname = w.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
      WHERE c.relkind IN ('r', 'p')`,
    [wanted.map((id) => splitTableName(id).schema), wanted.map((id) => splitTableName(id).table)],
  );
  const byId = new Map(found.rows.map((row) => [tableId(row.schema, row.name), row]));
  const missing = wanted.filter((id) => !byId.has(id));
  if (missing.length > 0) {
    throw new Error(
      `Table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in the ${databaseLabel}. ` +
        `Check plan.tables, or create the schema there first.`,
    );
  }
  const oids = found.rows.map((row) => row.oid);
  const columns = await client.query<{
    oid: number;
    name: string;
    type: string;
    generated: boolean;
    identity: string;
    not_null: boolean;
    sequence: string | null;
  }>(
    `SELECT a.attrelid::int AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity AS identity, a.attnotnull AS not_null,
            pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS sequence
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const foreignKeys = await client.query<{
    oid: number;
    name: string;
    columns: string[];
    ref_schema: string;
    ref_name: string;
    ref_columns: string[];
    deferrable: boolean;
  }>(
    `SELECT f.conrelid::int AS oid, f.conname AS name,
            ARRAY(SELECT a.attname FROM unnest(f.conkey) WITH ORDINALITY k(num, ord)
                    JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.num ORDER BY k.ord)::text[] AS columns,
            pn.nspname AS ref_schema, pc.relname AS ref_name,
            ARRAY(SELECT a.attname FROM unnest(f.confkey) WITH ORDINALITY k(num, ord)
                    JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.num ORDER BY k.ord)::text[] AS ref_columns,
            f.condeferrable AS deferrable
       FROM pg_constraint f
       JOIN pg_class pc ON pc.oid = f.confrelid
       JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE f.contype = 'f' AND f.conrelid = ANY($1::oid[])
      ORDER BY f.conname`,
    [oids],
  );
  // Partitioned indexes and the partition indexes attached to them are never dropped: built again
  // they would be ON ONLY the parent (invalid), and the partitions' indexes would be gone.
  const indexes = await client.query<{ oid: number; name: string; definition: string; comment: string | null; statistics: IndexStatistics[] }>(
    `SELECT i.indrelid::int AS oid, format('%I.%I', n.nspname, ic.relname) AS name,
            pg_get_indexdef(i.indexrelid) AS definition, obj_description(i.indexrelid, 'pg_class') AS comment,
            ${INDEX_STATISTICS} AS statistics
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE i.indrelid = ANY($1::oid[]) AND ic.relkind = 'i' AND NOT ic.relispartition
        AND NOT i.indisclustered AND NOT i.indisreplident
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = i.indexrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n')
      ORDER BY ic.relname`,
    [oids],
  );
  const constraints = await client.query<{
    oid: number;
    name: string;
    definition: string;
    comment: string | null;
    index: string;
    index_comment: string | null;
    statistics: IndexStatistics[];
  }>(
    `SELECT k.conrelid::int AS oid, quote_ident(k.conname) AS name, pg_get_constraintdef(k.oid) AS definition,
            obj_description(k.oid, 'pg_constraint') AS comment, format('%I.%I', n.nspname, ic.relname) AS index,
            obj_description(i.indexrelid, 'pg_class') AS index_comment, ${INDEX_STATISTICS} AS statistics
       FROM pg_constraint k
       JOIN pg_index i ON i.indexrelid = k.conindid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE k.conrelid = ANY($1::oid[]) AND k.contype IN ('p', 'u', 'x')
        AND ic.relkind = 'i' AND NOT ic.relispartition AND k.conparentid = 0
        AND NOT i.indisclustered AND NOT i.indisreplident
        AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = k.conrelid)
      ORDER BY k.contype, k.conname`,
    [oids],
  );

  const tables = wanted.map((id): TableInfo => {
    const row = byId.get(id)!;
    const cols = columns.rows
      .filter((c) => c.oid === row.oid)
      .map(
        (c): ColumnInfo => ({
          name: c.name,
          type: c.type,
          generated: c.generated,
          identity: c.identity === 'a' || c.identity === 'd' ? c.identity : null,
          notNull: c.not_null,
          sequence: c.sequence,
        }),
      );
    return {
      id,
      schema: row.schema,
      name: row.name,
      quoted: `${quoteIdent(row.schema)}.${quoteIdent(row.name)}`,
      scan: `${row.kind === 'p' ? '' : 'ONLY '}${quoteIdent(row.schema)}.${quoteIdent(row.name)}`,
      oid: row.oid,
      kind: row.kind,
      columns: cols,
      copyColumns: cols.filter((c) => !c.generated).map((c) => c.name),
      foreignKeys: foreignKeys.rows
        .filter((f) => f.oid === row.oid)
        .map((f) => ({
          name: f.name,
          table: id,
          columns: f.columns,
          refTable: tableId(f.ref_schema, f.ref_name),
          refColumns: f.ref_columns,
          deferrable: f.deferrable,
        })),
      referencedByOthers: row.referenced_by_others,
      secondaryIndexes: indexes.rows
        .filter((i) => i.oid === row.oid)
        .map((i) => ({ name: i.name, definition: i.definition, comment: i.comment, statistics: i.statistics })),
      rebuildableConstraints: constraints.rows
        .filter((k) => k.oid === row.oid)
        .map((k) => ({
          name: k.name,
          definition: k.definition,
          comment: k.comment,
          index: k.index,
          indexComment: k.index_comment,
          indexStatistics: k.statistics,
        })),
      estimatedRows: Number(row.estimated_rows),
      totalBytes: Number(row.total_bytes),
      rowSecurity: row.row_security,
    };
  });
  return orderParentsFirst(tables);
}

/**
 * Topological order over the foreign keys between the given tables, parents first; ties keep the
 * given order. Self-references are ignored, and a cycle (e.g. two tables with deferrable foreign keys
 * to each other) is broken at its first table in the given order: loading runs with
 * session_replication_role = replica, so foreign keys are not checked during the load anyway and the
 * order only matters for readability and for the orphan check afterwards.
 */
export function orderParentsFirst<T extends { id: string; foreignKeys: { refTable: string }[] }>(tables: T[]): T[] {
  const ids = new Set(tables.map((t) => t.id));
  const parents = new Map(
    tables.map((t) => [t.id, new Set(t.foreignKeys.map((f) => f.refTable).filter((p) => p !== t.id && ids.has(p)))]),
  );
  const ordered: T[] = [];
  const placed = new Set<string>();
  const remaining = [...tables];
  while (remaining.length > 0) {
    let index = remaining.findIndex((t) => [...parents.get(t.id)!].every((p) => placed.has(p)));
    if (index < 0) index = 0;
    const [next] = remaining.splice(index, 1);
    ordered.push(next!);
    placed.add(next!.id);
  }
  return ordered;
}

/** User tables outside Supabase's internal schemas (partitions and extension tables not counted), as canonical ids. */
export async function listUserTables(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        -- Tables an extension creates (PostGIS's spatial_ref_sys) come with CREATE EXTENSION.
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
  );
  return result.rows.filter((r) => !isExcludedSchema(r.schema) && r.schema !== 'cutover_meta').map((r) => tableId(r.schema, r.name));
}

/** Quoted column list for SQL: `"a", "b"`. */
export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/** Which of the given table ids exist (as a table, view or anything `to_regclass` finds) in this database. */
export async function existingTables(client: pg.Client, ids: readonly string[]): Promise<string[]> {
  const present = await client.query<{ ok: boolean }>(
    `SELECT to_regclass(format('%I.%I', w.schema, w.name)) IS NOT NULL AS ok
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema, name, ord) ORDER BY w.ord`,
    [ids.map((id) => splitTableName(id).schema), ids.map((id) => splitTableName(id).table)],
  );
  return ids.filter((_, i) => present.rows[i]!.ok);
}
