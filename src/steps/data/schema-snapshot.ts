import type pg from 'pg';
import { splitTableName } from '../../adapters/postgres.js';

/** Where migrate.load keeps each table's lines from before its load (cutover_meta, see load.ts). */
export const SCHEMA_BEFORE_TABLE = 'cutover_meta.schema_before';

/**
 * The parts of a table's schema a load could change, read from the catalog as sorted lines: its
 * indexes (definition, valid, attached to which partitioned index, comment, statistics targets),
 * constraints (definition, validated, comment), triggers (definition, enable state, comment), the
 * comments and statistics targets of the table and its columns, extended statistics, row security
 * and replica identity, for the given tables and every
 * partition below them. migrate.load records the target's lines before it touches anything and
 * migrate.verify compares them with the lines after: "the schema as it was, plus data".
 *
 * Lines name objects, never oids, so an index dropped and built again compares equal only when it
 * came back exactly as it was.
 */
export async function readSchemaSnapshot(client: pg.Client, ids: readonly string[]): Promise<string[]> {
  const result = await client.query<{ line: string }>(
    `WITH RECURSIVE rels AS (
       SELECT c.oid FROM unnest($1::text[], $2::text[]) AS w(schema, name)
         JOIN pg_namespace n ON n.nspname = w.schema
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p')
       UNION
       SELECT i.inhrelid FROM pg_inherits i JOIN rels r ON r.oid = i.inhparent
         JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition
     ),
     named AS (
       SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind
         FROM rels r JOIN pg_class c ON c.oid = r.oid JOIN pg_namespace n ON n.oid = c.relnamespace
     )
     SELECT format('table %s kind=%s row-security=%s/%s replica-identity=%s comment=%L', t.name, t.relkind, c.relrowsecurity,
                   c.relforcerowsecurity, c.relreplident, obj_description(t.oid, 'pg_class')) AS line
       FROM named t JOIN pg_class c ON c.oid = t.oid
     UNION ALL
     SELECT format('statistics %I.%I on %s: %s target=%s comment=%L', sn.nspname, x.stxname, t.name, pg_get_statisticsobjdef(x.oid),
                   coalesce(x.stxstattarget::int, -1), obj_description(x.oid, 'pg_statistic_ext'))
       FROM named t JOIN pg_statistic_ext x ON x.stxrelid = t.oid JOIN pg_namespace sn ON sn.oid = x.stxnamespace
     UNION ALL
     SELECT format('column %s.%I statistics=%s comment=%L', t.name, a.attname,
                   coalesce(nullif(a.attstattarget::int, -1), -1), col_description(t.oid, a.attnum))
       FROM named t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE coalesce(nullif(a.attstattarget::int, -1), -1) <> -1 OR col_description(t.oid, a.attnum) IS NOT NULL
     UNION ALL
     SELECT format('index %s on %s: %s valid=%s attached-to=%s comment=%L statistics=%s',
                   format('%I.%I', n.nspname, ic.relname), t.name, pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisready,
                   coalesce((SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits h
                               JOIN pg_class pc ON pc.oid = h.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                              WHERE h.inhrelid = i.indexrelid), '-'),
                   obj_description(i.indexrelid, 'pg_class'),
                   coalesce((SELECT string_agg(ia.attnum || ':' || ia.attstattarget::int, ',' ORDER BY ia.attnum)
                               FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid AND coalesce(nullif(ia.attstattarget::int, -1), -1) <> -1), '-'))
       FROM named t JOIN pg_index i ON i.indrelid = t.oid
       JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
     UNION ALL
     SELECT format('constraint %I on %s: %s validated=%s comment=%L', k.conname, t.name, pg_get_constraintdef(k.oid), k.convalidated,
                   obj_description(k.oid, 'pg_constraint'))
       FROM named t JOIN pg_constraint k ON k.conrelid = t.oid
     UNION ALL
     SELECT format('trigger %I on %s: %s enabled=%s comment=%L', g.tgname, t.name, pg_get_triggerdef(g.oid), g.tgenabled,
                   obj_description(g.oid, 'pg_trigger'))
       FROM named t JOIN pg_trigger g ON g.tgrelid = t.oid AND NOT g.tgisinternal
     ORDER BY 1`,
    [ids.map((id) => splitTableName(id).schema), ids.map((id) => splitTableName(id).table)],
  );
  return result.rows.map((r) => r.line);
}

/** What changed between two snapshots, one sentence per line that differs. */
export function compareSchemaSnapshots(before: readonly string[], after: readonly string[]): string[] {
  const was = new Set(before);
  const is = new Set(after);
  return [
    ...before.filter((line) => !is.has(line)).map((line) => `before the load: ${line}`),
    ...after.filter((line) => !was.has(line)).map((line) => `after the load:  ${line}`),
  ];
}

/** The schema recorded before the load of each given table (absent when not loaded by this run). */
export async function readSchemaBefore(client: pg.Client, runId: string, ids: readonly string[]): Promise<Map<string, string[]>> {
  const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass('${SCHEMA_BEFORE_TABLE}') IS NOT NULL AS ok`);
  if (!exists.rows[0]!.ok) return new Map();
  const result = await client.query<{ table_name: string; lines: string[] }>(
    `SELECT table_name, lines FROM ${SCHEMA_BEFORE_TABLE} WHERE run_id = $1 AND table_name = ANY($2::text[])`,
    [runId, ids],
  );
  return new Map(result.rows.map((r) => [r.table_name, r.lines]));
}
