import type pg from 'pg';
import type { TablePlan } from '../../config/schema.js';
import { quoteQualified, splitTableName } from '../../adapters/postgres.js';
import { tableId } from '../../config/identifiers.js';
import { hashColumns, type HashColumn } from '../compare/compare.js';

/**
 * What reconciliation needs to know about one plan table on both sides: its columns, which of them
 * can be hashed natively, and how rows are grouped into buckets. Built from the catalogs of both
 * databases, so a column added or retyped on one side is named instead of showing up as drift in
 * every bucket.
 */

export interface ColumnInfo {
  name: string;
  /** `format_type()`, e.g. `timestamp with time zone`. */
  type: string;
  /** The type has a default hash operator class, so `hash_record_extended` can hash it directly. */
  hashable: boolean;
}

export interface TableShape {
  /** `schema.table` as reports name it. */
  table: string;
  /** Quoted, qualified relation for SQL. */
  relation: string;
  key: string[];
  groupBy: string[];
  /** The plan's timestamp column; absent for tables reconciled as one undated whole. */
  timestamp?: { name: string; type: 'timestamp with time zone' | 'timestamp without time zone' };
  /** Bucket width of the timestamp before the cutover point, in seconds (3600 or 86400). */
  bucketSeconds?: number;
  /**
   * An ingestion stream (append-only, timestamped): post-cutover rows are binned at this width
   * (seconds, ≤ the readings gap) so gaps longer than the threshold can be found from bin edges.
   */
  gapBinSeconds?: number;
  /** The plan's readings gap in seconds, for ingestion streams: a longer silence is a gap. */
  gapThresholdSeconds?: number;
  /** Every column the row hash covers, in source order. */
  hashed: HashColumn[];
  /** Column types by name (the source's), for the columns used in keys, groups and timestamps. */
  hashableByName: Record<string, boolean>;
  /** Differences between the sides that do not stop the comparison. */
  warnings: string[];
}

/** A table that cannot be compared at all: named, with what to do. */
export class ShapeProblem extends Error {
  override name = 'ShapeProblem';
}

const COLUMNS_SQL = `
  select a.attname as name,
         format_type(a.atttypid, a.atttypmod) as type,
         exists (
           select 1
             from pg_opclass oc
             join pg_am am on am.oid = oc.opcmethod and am.amname = 'hash'
            where oc.opcdefault
              and oc.opcintype = coalesce(nullif(t.typbasetype, 0), t.oid)
         ) as hashable
    from pg_attribute a
    join pg_type t on t.oid = a.atttypid
   where a.attrelid = to_regclass($1)
     and a.attnum > 0
     and not a.attisdropped
   order by a.attnum`;

/** Columns of a table, or undefined when it does not exist. */
export async function readColumns(client: pg.Client, table: string): Promise<ColumnInfo[] | undefined> {
  const exists = await client.query<{ ok: boolean }>('select to_regclass($1) is not null as ok', [quoteQualified(table)]);
  if (!exists.rows[0]?.ok) return undefined;
  const result = await client.query<ColumnInfo>(COLUMNS_SQL, [quoteQualified(table)]);
  return result.rows;
}

const BUCKET_SECONDS = { hour: 3600, day: 86_400 } as const;

/**
 * Decide how to compare one table from its plan entry and both sides' columns. Pure.
 * Throws ShapeProblem when keys, groups or the timestamp column are missing or typed differently.
 */
export function describeTableShape(
  plan: TablePlan,
  sourceColumns: ColumnInfo[] | undefined,
  targetColumns: ColumnInfo[] | undefined,
  readingsGapSeconds: number,
): TableShape {
  const { schema, table } = splitTableName(plan.name);
  const name = tableId(schema, table);
  if (!sourceColumns) throw new ShapeProblem(`${name} does not exist in the source database; check the plan's table list.`);
  if (!targetColumns) throw new ShapeProblem(`${name} does not exist in the target database: was it loaded (migrate.load)?`);
  const source = new Map(sourceColumns.map((c) => [c.name, c]));
  const target = new Map(targetColumns.map((c) => [c.name, c]));

  const groupBy = plan.reconcile?.groupBy ?? [];
  const structural = [...plan.key, ...groupBy, ...(plan.timestampColumn ? [plan.timestampColumn] : [])];
  for (const column of structural) {
    const s = source.get(column);
    const t = target.get(column);
    if (!s) throw new ShapeProblem(`${name}.${column} (named in the plan) does not exist in the source database.`);
    if (!t) throw new ShapeProblem(`${name}.${column} (named in the plan) does not exist in the target database.`);
    if (s.type !== t.type) {
      throw new ShapeProblem(
        `${name}.${column} is ${s.type} in the source but ${t.type} in the target: buckets and keys cannot be matched. ` +
          'Make the target column the same type.',
      );
    }
  }

  let timestamp: TableShape['timestamp'];
  if (plan.timestampColumn) {
    const type = source.get(plan.timestampColumn)!.type;
    if (type !== 'timestamp with time zone' && type !== 'timestamp without time zone') {
      throw new ShapeProblem(`${name}.${plan.timestampColumn} is ${type}; reconciliation buckets need a timestamp column.`);
    }
    timestamp = { name: plan.timestampColumn, type };
  }

  const warnings: string[] = [];
  const hashed: HashColumn[] = [];
  for (const s of sourceColumns) {
    const t = target.get(s.name);
    if (!t) {
      warnings.push(`column ${s.name} is missing in the target; it is left out of the content hash`);
      continue;
    }
    const sameType = s.type === t.type;
    if (!sameType) warnings.push(`column ${s.name} is ${s.type} in the source but ${t.type} in the target; compared as text`);
    hashed.push(...hashColumns([s.name], sourceColumns, targetColumns));
  }
  for (const t of targetColumns) {
    if (!source.has(t.name)) warnings.push(`column ${t.name} exists only in the target; it is left out of the content hash`);
  }

  const bucketSeconds = plan.reconcile?.bucket && timestamp ? BUCKET_SECONDS[plan.reconcile.bucket] : undefined;
  // Bins no wider than the gap threshold: a silence longer than the threshold then always spans a
  // bin edge, so the edges (each bin's first and last row) are enough to find it exactly.
  const gapBinSeconds =
    plan.appendOnly && timestamp ? Math.max(1, Math.min(readingsGapSeconds, bucketSeconds ?? readingsGapSeconds)) : undefined;

  return {
    table: name,
    relation: quoteQualified(name),
    key: plan.key,
    groupBy,
    ...(timestamp ? { timestamp } : {}),
    ...(bucketSeconds ? { bucketSeconds } : {}),
    ...(gapBinSeconds ? { gapBinSeconds, gapThresholdSeconds: readingsGapSeconds } : {}),
    hashed,
    hashableByName: Object.fromEntries(sourceColumns.map((c) => [c.name, c.hashable && (target.get(c.name)?.hashable ?? false)])),
    warnings,
  };
}
