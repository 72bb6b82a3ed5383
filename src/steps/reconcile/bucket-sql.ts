import { quoteIdent } from '../../adapters/postgres.js';
import type { TableShape } from './table-shape.js';

/**
 * The SQL reconciliation runs, built from a table's shape. Pure: statements and their parameters
 * (the cutover point is $1 when the table has a timestamp column; narrowing adds the bucket ids and
 * the row limit).
 *
 * Cost model (why it looks like this): one sequential scan per side, one hash aggregate whose groups
 * are the reconciliation buckets, and per row only cheap native work:
 * - `date_bin` on the absolute instant instead of `date_trunc`, which converts every value to the
 *   session time zone and back (same result here: sessions are pinned to UTC);
 * - `hash_record_extended(ROW(...), 0)`: each type's own 64-bit hash function, no text conversion
 *   (hashing `row::text` cost 2.5× more on 5M readings: timestamptz and numeric output is slow);
 * - `bit_xor` of the row hashes: order-independent, and its state is a plain int8 (`sum` keeps a
 *   128-bit state per group, which makes a large aggregate spill to disk sooner). XOR cancels
 *   identical rows in pairs, but rows carry their key, so they are unique, and `count(*)` catches
 *   duplicated rows anyway.
 * Types with no hash function (json, arrays, …) or that differ between the sides are hashed through
 * their text form instead.
 *
 * A bucket is identified by the 64-bit hash of its grouping values (`hash_record_extended` of the
 * same ROW on both sides): narrowing finds a bucket's rows by recomputing that id per row, which
 * needs no text conversion and no index and handles NULL group values.
 */

const ORIGIN = {
  'timestamp with time zone': "timestamptz '2000-01-01 00:00:00+00'",
  'timestamp without time zone': "timestamp '2000-01-01 00:00:00'",
} as const;

function hashInput(shape: TableShape, column: string, asText: boolean): string {
  return asText ? `${quoteIdent(column)}::text` : quoteIdent(column);
}

function nativeOrText(shape: TableShape, column: string): string {
  return hashInput(shape, column, !(shape.hashableByName[column] ?? false));
}

/** The cutover parameter in the timestamp column's own type, so the column is never cast per row. */
function cutoverParam(shape: TableShape): string {
  return shape.timestamp?.type === 'timestamp without time zone' ? '$1::timestamptz::timestamp' : '$1::timestamptz';
}

/** Per-row expressions that place a row in its bucket. */
export function bucketExpressions(shape: TableShape): { groups: string[]; bucket?: string; after?: string } {
  const groups = shape.groupBy.map((column) => nativeOrText(shape, column));
  if (!shape.timestamp) return { groups };
  const ts = quoteIdent(shape.timestamp.name);
  const origin = ORIGIN[shape.timestamp.type];
  // Rows without a timestamp count as old: they were there before the cutover point or never dated.
  const after = `coalesce(${ts} >= ${cutoverParam(shape)}, false)`;
  const bin = (seconds: number) => `date_bin(interval '${seconds} seconds', ${ts}, ${origin})`;
  const before = shape.bucketSeconds ? bin(shape.bucketSeconds) : undefined;
  const later = shape.gapBinSeconds ? bin(shape.gapBinSeconds) : before;
  let bucket: string | undefined;
  if (before === later) bucket = before;
  else bucket = `case when ${after} then ${later ?? 'null'} else ${before ?? 'null'} end`;
  return { groups, ...(bucket ? { bucket } : {}), after };
}

/** `hash_record_extended(ROW(...), 0)` over every hashed column: one row's content hash. */
export function rowHashExpression(shape: TableShape): string {
  const inputs = shape.hashed.map((column) => hashInput(shape, column.name, column.asText));
  return `hash_record_extended(row(${inputs.join(', ')}), 0)`;
}

function keyHashExpression(shape: TableShape): string {
  return `hash_record_extended(row(${shape.key.map((column) => nativeOrText(shape, column)).join(', ')}), 0)`;
}

/** The grouping values' names in the bucket query (g0, g1, …, b, a). */
function groupNames(shape: TableShape): { names: string[]; hasBucket: boolean; hasAfter: boolean } {
  const { groups, bucket, after } = bucketExpressions(shape);
  const names = groups.map((_, index) => `g${index}`);
  if (bucket) names.push('b');
  if (after) names.push('a');
  return { names, hasBucket: bucket !== undefined, hasAfter: after !== undefined };
}

/**
 * One pass per side: per bucket its id, grouping values as text, bucket start and side of the cutover
 * point, row count and XOR of row hashes; for ingestion streams also the first and last timestamp
 * (ms) of each bin, which the gap check needs. Columns, in order (rowMode 'array'):
 *   id, g0…gN (text), b_ms, a, n, h, first_ms, last_ms   (b_ms/a/first/last only when they apply)
 */
export function bucketQuery(shape: TableShape, cutoverPoint: string): { text: string; values: unknown[] } {
  const { groups, bucket, after } = bucketExpressions(shape);
  const { names, hasBucket, hasAfter } = groupNames(shape);
  const inner = [
    ...groups.map((expression, index) => `${expression} as g${index}`),
    ...(bucket ? [`${bucket} as b`] : []),
    ...(after ? [`${after} as a`] : []),
    `${rowHashExpression(shape)} as h`,
    ...(shape.gapBinSeconds ? [`${quoteIdent(shape.timestamp!.name)} as t`] : []),
  ];
  const epochMs = (expression: string) => `floor(extract(epoch from ${expression}) * 1000)::int8`;
  const outer = [
    names.length > 0 ? `hash_record_extended(row(${names.join(', ')}), 0) as id` : '0::int8 as id',
    ...groups.map((_, index) => `g${index}::text`),
    ...(hasBucket ? [`${epochMs('b')} as b_ms`] : []),
    ...(hasAfter ? ['a'] : []),
    'count(*) as n',
    "coalesce(bit_xor(h), 0) as h",
    ...(shape.gapBinSeconds ? [`${epochMs('min(t)')} as first_ms`, `${epochMs('max(t)')} as last_ms`] : []),
  ];
  const text = [
    `select ${outer.join(', ')}`,
    `  from (select ${inner.join(', ')} from ${shape.relation}) s`,
    ...(names.length > 0 ? [` group by ${names.join(', ')}`] : []),
  ].join('\n');
  return { text, values: shape.timestamp ? [cutoverPoint] : [] };
}

/**
 * Keys and row hashes of the rows in the given buckets, in (bucket id, key hash) order so both sides
 * return the same prefix of the same ordering when the limit cuts them off. Ordering by the key's
 * hash, not the key, keeps the order independent of each server's collation. Columns:
 *   id, key_hash, row_hash, k0…kN (text)
 */
export function narrowQuery(
  shape: TableShape,
  cutoverPoint: string,
  bucketIds: string[],
  rowLimit: number,
): { text: string; values: unknown[] } {
  const { groups, bucket, after } = bucketExpressions(shape);
  const idParts = [...groups, ...(bucket ? [bucket] : []), ...(after ? [after] : [])];
  const id = idParts.length > 0 ? `hash_record_extended(row(${idParts.join(', ')}), 0)` : '0::int8';
  const keys = shape.key.map((column, index) => `${quoteIdent(column)}::text as k${index}`);
  const values: unknown[] = shape.timestamp ? [cutoverPoint] : [];
  const text = [
    `select id, key_hash, row_hash, ${shape.key.map((_, index) => `k${index}`).join(', ')}`,
    `  from (select ${id} as id, ${keyHashExpression(shape)} as key_hash, ${rowHashExpression(shape)} as row_hash, ${keys.join(', ')}`,
    `          from ${shape.relation}) s`,
    ` where id = any($${values.length + 1}::int8[])`,
    ' order by id, key_hash',
    ` limit $${values.length + 2}`,
  ].join('\n');
  return { text, values: [...values, bucketIds, rowLimit] };
}
