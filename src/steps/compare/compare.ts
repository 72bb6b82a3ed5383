import { quoteIdent } from '../../adapters/postgres.js';

/**
 * The one comparison of rows between two databases, used by verify (src/steps/data/verify.ts),
 * reconciliation (src/steps/reconcile) and the rollback delta (src/steps/rollback/export-delta.ts):
 * one row hash, one bucketing by key, one way of telling missing, extra and changed rows apart. A row
 * judged equal by one of them is judged equal by all: verify cannot pass a row reconcile then reports
 * as drift (an `xml` value with a declaration once did exactly that: verify hashed its output text,
 * reconciliation its stored text).
 *
 * What "equal" means: the same text, as COPY moves it. A value is hashed through its type's output
 * function (inside `ROW(…)::text`), with the session settings pinned by the connection factory
 * (src/adapters/postgres.ts), so database- or role-level settings cannot change a verdict. Only types
 * whose own hash is equal exactly when their text is equal are hashed natively, which saves converting
 * them to text (timestamptz and numeric output is slow: on 2M readings, hashing the whole row's text
 * took 2.6 s, natively 0.7 s).
 * Every other type goes through text, because its hash is coarser than its text: numeric ignores the
 * scale (1.0 = 1.00), float8 folds -0 into 0, interval equates '1 day' with '24 hours', citext
 * ignores case, and xml, json and arrays have none or compare differently.
 */

/**
 * format_type() names whose hash equality is text equality (under the pinned settings). numeric with a
 * declared scale (`numeric(6,2)`) belongs here: every value is stored at that scale, so equal values
 * have equal text; a bare `numeric` does not (1.0 and 1.00 hash alike).
 */
function nativelyHashed(type: string): boolean {
  return NATIVELY_HASHED.has(type.replace(/\(\d+\)/, '')) || /^numeric\(\d+,\d+\)$/.test(type);
}

const NATIVELY_HASHED = new Set([
  'smallint',
  'integer',
  'bigint',
  'oid',
  'boolean',
  'uuid',
  'date',
  'time without time zone',
  'timestamp without time zone',
  'timestamp with time zone',
  'bytea',
]);

export interface HashColumn {
  name: string;
  /** Hashed by its type's own hash function; otherwise through its output text. */
  native: boolean;
}

type Typed = { name: string; type: string };

/**
 * How each of `names` is hashed. With the other side's columns, a column is hashed natively only when
 * both sides have the same natively hashed type, so both sides always hash it the same way.
 */
export function hashColumns(names: readonly string[], columns: readonly Typed[], otherSide?: readonly Typed[]): HashColumn[] {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const otherTypes = otherSide ? new Map(otherSide.map((c) => [c.name, c.type])) : undefined;
  return names.map((name) => {
    const type = types.get(name);
    const native = type !== undefined && nativelyHashed(type) && (otherTypes === undefined || otherTypes.get(name) === type);
    return { name, native };
  });
}

function column(name: string, alias: string): string {
  return alias ? `${alias}.${quoteIdent(name)}` : quoteIdent(name);
}

/** One row's 64-bit content hash (int8): the same expression on both sides gives the same value for the same text. */
export function rowHash(columns: readonly HashColumn[], alias = 't'): string {
  const native = columns.filter((c) => c.native).map((c) => column(c.name, alias));
  const text = columns.filter((c) => !c.native).map((c) => column(c.name, alias));
  // ROW(…)::text tells NULL (nothing) from '' ("") and quotes separators, so no two rows share a text.
  const parts = [...native, ...(text.length > 0 ? [`ROW(${text.join(', ')})::text`] : [])];
  return parts.length > 0 ? `hash_record_extended(ROW(${parts.join(', ')}), 0)` : '0::int8';
}

/** A row's key as PostgreSQL row text, e.g. `(42)` or `(uuid,7)`: how keys are named in reports. */
export function keyText(key: readonly string[], alias = 't'): string {
  return `ROW(${key.map((k) => column(k, alias)).join(', ')})::text`;
}

/** Buckets rows are spread over by a hash of their key, to narrow a difference down to keys. */
export const KEY_BUCKETS = 1024;

/** The bucket (0…KEY_BUCKETS-1) of a row, from its key's text: the same on both sides whatever the key's type. */
export function keyBucket(key: readonly string[], alias = 't'): string {
  return `(hashtextextended(${keyText(key, alias)}, 1) & ${KEY_BUCKETS - 1})::int`;
}

/** Count and order-independent content hash (sum of row hashes, numeric: no overflow, a duplicate does not cancel out). */
export function digestSelect(columns: readonly HashColumn[], alias = 't'): string {
  return `count(*)::text AS rows, coalesce(sum(${rowHash(columns, alias)}), 0)::text AS hash`;
}

/**
 * Per key bucket: rows and content hash of the rows of `relation` that pass `where`. Columns: bucket,
 * n, hash. Buckets are `keyBucket(key)` unless another expression of the row (alias `t`) is given.
 */
export function bucketDigestQuery(relation: string, columns: readonly HashColumn[], key: readonly string[], where = 'true', bucket = keyBucket(key)): string {
  return `SELECT ${bucket} AS bucket, count(*)::int AS n, sum(${rowHash(columns)})::text AS hash
            FROM ${relation} t WHERE ${where} GROUP BY 1`;
}

export interface BucketDigest {
  bucket: number;
  n: number;
  hash: string;
}

/** Buckets whose count or hash differ between the sides, in bucket order. */
export function differingBuckets(source: readonly BucketDigest[], target: readonly BucketDigest[]): number[] {
  const s = new Map(source.map((b) => [b.bucket, b]));
  const t = new Map(target.map((b) => [b.bucket, b]));
  const differing: number[] = [];
  for (const bucket of [...new Set([...s.keys(), ...t.keys()])].sort((a, b) => a - b)) {
    if (s.get(bucket)?.n !== t.get(bucket)?.n || s.get(bucket)?.hash !== t.get(bucket)?.hash) differing.push(bucket);
  }
  return differing;
}

/** Keys and row hashes of the rows of the given buckets (parameter $1: int[]). Columns: key, hash. */
export function keyedRowsQuery(relation: string, columns: readonly HashColumn[], key: readonly string[]): string {
  return `SELECT ${keyText(key)} AS key, ${rowHash(columns)}::text AS hash
            FROM ${relation} t WHERE ${keyBucket(key)} = ANY($1::int[])`;
}

export interface KeyedRow {
  key: string;
  hash: string;
}

export interface RowDifferences {
  /** Keys of source rows the target lacks. */
  missing: string[];
  /** Keys of target rows the source lacks (e.g. a duplicate). */
  extra: string[];
  /** Keys present on both sides with different content. */
  changed: string[];
}

/**
 * Rows present identically on both sides cancel out; what is left under one key is paired up as
 * changed, and the surplus of either side is missing (source only) or extra (target only).
 */
export function diffKeyedRows(source: readonly KeyedRow[], target: readonly KeyedRow[]): RowDifferences {
  const group = (rows: readonly KeyedRow[]) => {
    const map = new Map<string, string[]>();
    for (const row of rows) {
      const list = map.get(row.key);
      if (list) list.push(row.hash);
      else map.set(row.key, [row.hash]);
    }
    return map;
  };
  const sourceKeys = group(source);
  const targetKeys = group(target);
  const result: RowDifferences = { missing: [], extra: [], changed: [] };
  for (const rowKey of new Set([...sourceKeys.keys(), ...targetKeys.keys()])) {
    const s = [...(sourceKeys.get(rowKey) ?? [])];
    const t = [...(targetKeys.get(rowKey) ?? [])];
    for (let i = s.length - 1; i >= 0; i--) {
      const at = t.indexOf(s[i]!);
      if (at >= 0) {
        t.splice(at, 1);
        s.splice(i, 1);
      }
    }
    const pairs = Math.min(s.length, t.length);
    for (let i = 0; i < pairs; i++) result.changed.push(rowKey);
    for (let i = pairs; i < s.length; i++) result.missing.push(rowKey);
    for (let i = pairs; i < t.length; i++) result.extra.push(rowKey);
  }
  return result;
}
