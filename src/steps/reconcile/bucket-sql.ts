import { quoteIdent } from '../../adapters/postgres.js';
import { rowHash } from '../compare/compare.js';
import type { TableShape } from './table-shape.js';

/**
 * The SQL reconciliation runs, built from a table's shape. Pure: statements and their parameters.
 *
 * Three statements, each one sequential scan per side; a clean run needs only the first:
 * 1. `summaryQuery`: every row is placed in its bucket, buckets are aggregated (count + XOR of row
 *    hashes), and the buckets are folded into PARTITIONS digests, which is all that crosses the wire
 *    (a few thousand small rows, whatever the number of buckets). For ingestion streams the same
 *    statement also returns what the gap check needs (groups active at the freeze, first/last row
 *    after the switch, silences between consecutive bins) computed over the buckets in SQL.
 * 2. `bucketQuery`: the buckets of the partitions whose digests differ.
 * 3. `narrowQuery`: keys and row hashes of the buckets that differ.
 *
 * Cost model (why it looks like this): per row only cheap native work:
 * - `date_bin` on the absolute instant instead of `date_trunc`, which converts every value to the
 *   session time zone and back (same result here: sessions are pinned to UTC);
 * - the shared row hash (src/steps/compare): types whose own hash is exact (integers, uuid, timestamps…)
 *   are hashed natively, without text conversion (hashing `row::text` cost 2.5× more on 5M readings:
 *   timestamptz output is slow); the others through their text, so verify and reconciliation agree;
 * - `bit_xor` of the row hashes: order-independent, and its state is a plain int8 (`sum` keeps a
 *   128-bit state per group, which makes a large aggregate spill to disk sooner). XOR cancels
 *   identical rows in pairs, but rows carry their key, so they are unique, and `count(*)` catches
 *   duplicated rows anyway.
 * Shipping every bucket to Node instead (418k for 5M readings) cost more in parsing and comparing
 * than the scan itself.
 *
 *
 * A bucket is identified by the 64-bit hash of its grouping values (`hash_record_extended` of the
 * same ROW on both sides), its partition by the low bits of that id: statements 2 and 3 find a
 * bucket's rows by recomputing the id per row, which needs no text conversion and no index and
 * handles NULL group values.
 */

/** Bucket digests folded per side into this many partitions (a power of two: the id's low bits). */
export const PARTITIONS = 16_384;

const ORIGIN = {
  'timestamp with time zone': "timestamptz '2000-01-01 00:00:00+00'",
  'timestamp without time zone': "timestamp '2000-01-01 00:00:00'",
} as const;

export type Statement = { text: string; values: unknown[] };

function nativeOrText(shape: TableShape, column: string): string {
  return shape.hashableByName[column] ? quoteIdent(column) : `${quoteIdent(column)}::text`;
}

/** A timestamptz parameter in the timestamp column's own type, so the column is never cast per row. */
function timeParam(shape: TableShape, index: number): string {
  return shape.timestamp?.type === 'timestamp without time zone' ? `$${index}::timestamptz::timestamp` : `$${index}::timestamptz`;
}

/** Per-row expressions that place a row in its bucket. */
export function bucketExpressions(shape: TableShape): { groups: string[]; bucket?: string; after?: string } {
  const groups = shape.groupBy.map((column) => nativeOrText(shape, column));
  if (!shape.timestamp) return { groups };
  const ts = quoteIdent(shape.timestamp.name);
  const origin = ORIGIN[shape.timestamp.type];
  // Rows without a timestamp count as old: they were there before the cutover point or never dated.
  const after = `coalesce(${ts} >= ${timeParam(shape, 1)}, false)`;
  const bin = (seconds: number) => `date_bin(interval '${seconds} seconds', ${ts}, ${origin})`;
  const before = shape.bucketSeconds ? bin(shape.bucketSeconds) : undefined;
  const later = shape.gapBinSeconds ? bin(shape.gapBinSeconds) : before;
  let bucket: string | undefined;
  if (before === later) bucket = before;
  else bucket = `case when ${after} then ${later ?? 'null'} else ${before ?? 'null'} end`;
  return { groups, ...(bucket ? { bucket } : {}), after };
}

/** One row's content hash: the row hash verify and the rollback delta use too (src/steps/compare). */
export function rowHashExpression(shape: TableShape): string {
  return rowHash(shape.hashed, '');
}

/** The bucket id computed from a row, equal to the id the aggregate computes from the bucket's values. */
function rowBucketId(shape: TableShape): string {
  const { groups, bucket, after } = bucketExpressions(shape);
  const parts = [...groups, ...(bucket ? [bucket] : []), ...(after ? [after] : [])];
  return parts.length > 0 ? `hash_record_extended(row(${parts.join(', ')}), 0)` : '0::int8';
}

const epochMs = (expression: string) => `floor(extract(epoch from ${expression}) * 1000)::int8`;

/**
 * Buckets as rows (id, g0…gN, b, a, n, h, first_t, last_t) from the rows that pass `where`.
 * `g*` are the grouping values, `b` the bucket start, `a` after the cutover point.
 */
function bucketAggregate(shape: TableShape, where?: string): string {
  const { groups, bucket, after } = bucketExpressions(shape);
  const names = [...groups.map((_, index) => `g${index}`), ...(bucket ? ['b'] : []), ...(after ? ['a'] : [])];
  const inner = [
    ...groups.map((expression, index) => `${expression} as g${index}`),
    ...(bucket ? [`${bucket} as b`] : []),
    ...(after ? [`${after} as a`] : []),
    `${rowHashExpression(shape)} as h`,
    ...(shape.gapBinSeconds ? [`${quoteIdent(shape.timestamp!.name)} as t`] : []),
  ];
  const outer = [
    names.length > 0 ? `hash_record_extended(row(${names.join(', ')}), 0) as id` : '0::int8 as id',
    ...groups.map((_, index) => `g${index}`),
    ...(bucket ? ['b'] : ['null::timestamptz as b']),
    ...(after ? ['a'] : ['false as a']),
    'count(*) as n',
    'coalesce(bit_xor(h), 0) as h',
    ...(shape.gapBinSeconds ? ['min(t) as first_t', 'max(t) as last_t'] : []),
  ];
  return [
    `select ${outer.join(', ')}`,
    `  from (select ${inner.join(', ')} from ${shape.relation}${where ? ` where ${where}` : ''}) s`,
    ...(names.length > 0 ? [` group by ${names.join(', ')}`] : []),
  ].join('\n');
}

/**
 * Statement 1. Rows, in order (rowMode 'array'): kind, part, buckets, n, digest, g0…gN, from_ms, to_ms
 *   kind 0 / 1: a partition's buckets before the cutover point (or undated) / after it: how many
 *               buckets, rows, and the XOR of the buckets' (id, count, hash) hashes;
 *   kind 2:     a group that sent a row within one gap threshold before the cutover point;
 *   kind 3:     a group's first and last row in the bins that end after the switch;
 *   kind 4:     a silence longer than the gap threshold between two consecutive bins after the switch.
 * Kinds 2-4 only for ingestion streams; `switchedAt` null leaves 3 and 4 empty.
 */
export function summaryQuery(shape: TableShape, cutoverPoint: string, switchedAt: string | null): Statement {
  const groupCount = shape.groupBy.length;
  const groupNull = Array.from({ length: groupCount }, () => 'null::text');
  const groupText = Array.from({ length: groupCount }, (_, index) => `g${index}::text`);
  const groupCols = Array.from({ length: groupCount }, (_, index) => `g${index}`);
  const partitions = [
    `select case when a then 1 else 0 end as kind, (id & ${PARTITIONS - 1})::int as part, count(*) as buckets, sum(n)::int8 as n,`,
    `       bit_xor(hash_record_extended(row(id, n, h), 0)) as digest, ${[...groupNull, 'null::int8', 'null::int8'].join(', ')}`,
    '  from buckets group by 1, 2',
  ];
  const values: unknown[] = shape.timestamp ? [cutoverPoint] : [];
  const gaps: string[] = [];
  if (shape.gapBinSeconds) {
    values.push(switchedAt);
    const threshold = `interval '${Math.floor(shape.gapThresholdSeconds ?? shape.gapBinSeconds)} seconds'`;
    const none = 'null::int, null::int8, null::int8, null::int8';
    const byGroup = groupCount > 0 ? ` group by ${groupCols.join(', ')}` : '';
    const partitionBy = groupCount > 0 ? `partition by ${groupCols.join(', ')} ` : '';
    const afterSwitch = `a and last_t >= ${timeParam(shape, 2)}`;
    gaps.push(
      'union all',
      `select distinct 2, ${none}, ${[...groupText, 'null::int8', 'null::int8'].join(', ')}`,
      `  from buckets where not a and last_t >= ${timeParam(shape, 1)} - ${threshold}`,
      'union all',
      `select 3, ${none}, ${[...groupText, epochMs('min(first_t)'), epochMs('max(last_t)')].join(', ')}`,
      `  from buckets where ${afterSwitch}${byGroup} having count(*) > 0`,
      'union all',
      `select 4, ${none}, ${[...groupText, epochMs('prev_last'), epochMs('first_t')].join(', ')}`,
      `  from (select ${[...groupCols, 'first_t', `lag(last_t) over (${partitionBy}order by first_t) as prev_last`].join(', ')}`,
      `          from buckets where ${afterSwitch}) silences`,
      ` where first_t - prev_last > ${threshold}`,
    );
  }
  const text = [`with buckets as materialized (`, bucketAggregate(shape), ')', ...partitions, ...gaps].join('\n');
  return { text, values };
}

/**
 * Statement 2: the buckets of the given partitions. Rows (rowMode 'array'):
 *   id, g0…gN (text), b_ms, a, n, h
 */
export function bucketQuery(shape: TableShape, cutoverPoint: string, partitions: number[]): Statement {
  const values: unknown[] = shape.timestamp ? [cutoverPoint] : [];
  values.push(partitions);
  const where = `(${rowBucketId(shape)} & ${PARTITIONS - 1})::int = any($${values.length}::int[])`;
  const groupText = shape.groupBy.map((_, index) => `g${index}::text`);
  const text = [
    `select ${['id', ...groupText, epochMs('b'), 'a', 'n', 'h'].join(', ')}`,
    '  from (',
    bucketAggregate(shape, where),
    ') buckets',
  ].join('\n');
  return { text, values };
}

/**
 * Statement 3: keys and row hashes of the rows in the given buckets, in (bucket id, key hash) order
 * so both sides return the same prefix of the same ordering when the limit cuts them off. Ordering by
 * the key's hash, not the key, keeps the order independent of each server's collation. Columns:
 *   id, key_hash, row_hash, k0…kN (text)
 */
export function narrowQuery(shape: TableShape, cutoverPoint: string, bucketIds: string[], rowLimit: number): Statement {
  const keyHash = `hash_record_extended(row(${shape.key.map((column) => nativeOrText(shape, column)).join(', ')}), 0)`;
  const keys = shape.key.map((column, index) => `${quoteIdent(column)}::text as k${index}`);
  const values: unknown[] = shape.timestamp ? [cutoverPoint] : [];
  const text = [
    `select id, key_hash, row_hash, ${shape.key.map((_, index) => `k${index}`).join(', ')}`,
    `  from (select ${rowBucketId(shape)} as id, ${keyHash} as key_hash, ${rowHashExpression(shape)} as row_hash, ${keys.join(', ')}`,
    `          from ${shape.relation}) s`,
    ` where id = any($${values.length + 1}::int8[])`,
    ' order by id, key_hash',
    ` limit $${values.length + 2}`,
  ].join('\n');
  return { text, values: [...values, bucketIds, rowLimit] };
}
