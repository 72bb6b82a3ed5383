import type { TableShape } from './table-shape.js';

/**
 * Comparing the two sides' buckets and, for mismatched buckets, their rows. Pure: the rows come from
 * `bucketQuery` / `narrowQuery` (see bucket-sql.ts); nothing here touches a database.
 */

/**
 * Where a bucket sits relative to the cutover point (the freeze):
 * - before: closed before the cutover point; must match exactly;
 * - after: written after it; the target may hold more (new ingestion), never less;
 * - undated: the table has no timestamp column; the target may hold more (it cannot be told when a
 *   row was added), never less, and a changed row is drift.
 */
export type Period = 'before' | 'after' | 'undated';

export interface BucketRow {
  /** 64-bit bucket id (int8 as text), the same on both sides for the same grouping values. */
  id: string;
  /** Grouping values as text, in `groupBy` order. */
  groups: (string | null)[];
  /** Bucket start (ms since epoch) when the table is bucketed by time. */
  startMs?: number;
  period: Period;
  count: number;
  /** XOR of the row hashes, int8 as text. */
  hash: string;
  /** First and last timestamp in the bucket (ms), for ingestion streams. */
  firstMs?: number;
  lastMs?: number;
}

/** Turn `bucketQuery` rows (rowMode 'array') into BucketRows. */
export function parseBucketRows(shape: TableShape, rows: unknown[][]): BucketRow[] {
  const groupCount = shape.groupBy.length;
  const hasBucket = shape.timestamp !== undefined && (shape.bucketSeconds !== undefined || shape.gapBinSeconds !== undefined);
  const hasAfter = shape.timestamp !== undefined;
  return rows.map((row) => {
    let at = 0;
    const id = String(row[at++]);
    const groups = row.slice(at, at + groupCount).map((value) => (value === null ? null : String(value)));
    at += groupCount;
    const startMs = hasBucket ? toNumber(row[at++]) : undefined;
    const after = hasAfter ? row[at++] === true : false;
    const count = Number(row[at++]);
    const hash = String(row[at++]);
    const bucket: BucketRow = { id, groups, period: hasAfter ? (after ? 'after' : 'before') : 'undated', count, hash };
    if (startMs !== undefined) bucket.startMs = startMs;
    if (shape.gapBinSeconds) {
      const first = toNumber(row[at++]);
      const last = toNumber(row[at++]);
      if (first !== undefined) bucket.firstMs = first;
      if (last !== undefined) bucket.lastMs = last;
    }
    return bucket;
  });
}

function toNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/** A bucket whose two sides differ in a way that needs its rows to explain. */
export interface Mismatch {
  id: string;
  period: Period;
  /** The bucket as each side has it; absent when that side has no rows in it. */
  source?: BucketRow;
  target?: BucketRow;
}

export interface BucketComparison {
  /** Distinct buckets seen on either side. */
  compared: number;
  /** Mismatches in the order they should be narrowed: before the freeze first (that is drift). */
  mismatches: Mismatch[];
}

const PERIOD_ORDER: Record<Period, number> = { before: 0, undated: 1, after: 2 };

/**
 * Which buckets disagree. Before the freeze any difference in count or hash counts; after it (and in
 * undated tables) only buckets where the source has rows need a look, to prove the target holds them.
 */
export function compareBuckets(source: BucketRow[], target: BucketRow[]): BucketComparison {
  const sourceById = new Map(source.map((bucket) => [bucket.id, bucket]));
  const targetById = new Map(target.map((bucket) => [bucket.id, bucket]));
  const mismatches: Mismatch[] = [];
  const consider = (id: string) => {
    const s = sourceById.get(id);
    const t = targetById.get(id);
    const period = (s ?? t)!.period;
    const same = (s?.count ?? 0) === (t?.count ?? 0) && (s?.hash ?? '0') === (t?.hash ?? '0');
    if (same) return;
    if (period !== 'before' && (s?.count ?? 0) === 0) return;
    mismatches.push({ id, period, ...(s ? { source: s } : {}), ...(t ? { target: t } : {}) });
  };
  for (const id of sourceById.keys()) consider(id);
  let compared = sourceById.size;
  for (const id of targetById.keys()) {
    if (sourceById.has(id)) continue;
    compared += 1;
    consider(id);
  }
  mismatches.sort((a, b) => PERIOD_ORDER[a.period] - PERIOD_ORDER[b.period]);
  return { compared, mismatches };
}

/** One row from `narrowQuery`. */
export interface NarrowedRow {
  id: string;
  keyHash: string;
  rowHash: string;
  /** Key values as text, in key order. */
  key: (string | null)[];
}

export function parseNarrowedRows(rows: unknown[][]): NarrowedRow[] {
  return rows.map(([id, keyHash, rowHash, ...key]) => ({
    id: String(id),
    keyHash: String(keyHash),
    rowHash: String(rowHash),
    key: key.map((value) => (value === null ? null : String(value))),
  }));
}

export interface RowDifferences {
  missing: (string | null)[][];
  changed: (string | null)[][];
  extra: (string | null)[][];
  /** Every row of the bucket was seen on both sides (the row limit did not cut it). */
  complete: boolean;
}

function compareOrder(a: { id: string; keyHash: string }, b: { id: string; keyHash: string }): number {
  const byId = BigInt(a.id) - BigInt(b.id);
  if (byId !== 0n) return byId < 0n ? -1 : 1;
  const byKey = BigInt(a.keyHash) - BigInt(b.keyHash);
  return byKey === 0n ? 0 : byKey < 0n ? -1 : 1;
}

/**
 * Row-level differences per narrowed bucket. Both sides were read in (bucket id, key hash) order up
 * to a row limit; when a side hit the limit, only rows up to the smaller of the two last rows were
 * seen by both, so only those are compared and buckets past that point are marked incomplete.
 */
export function diffNarrowedRows(
  bucketIds: string[],
  source: NarrowedRow[],
  target: NarrowedRow[],
  limitHit: { source: boolean; target: boolean },
): Map<string, RowDifferences> {
  const lasts = [limitHit.source ? source.at(-1) : undefined, limitHit.target ? target.at(-1) : undefined].filter(
    (row): row is NarrowedRow => row !== undefined,
  );
  const cutoff = lasts.sort(compareOrder)[0];
  const seen = (row: NarrowedRow) => !cutoff || compareOrder(row, cutoff) <= 0;
  const byBucket = new Map<string, { source: Map<string, NarrowedRow>; target: Map<string, NarrowedRow> }>();
  for (const id of bucketIds) byBucket.set(id, { source: new Map(), target: new Map() });
  for (const [side, rows] of [['source', source], ['target', target]] as const) {
    for (const row of rows) {
      if (!seen(row)) continue;
      byBucket.get(row.id)?.[side].set(JSON.stringify(row.key), row);
    }
  }
  const result = new Map<string, RowDifferences>();
  for (const [id, sides] of byBucket) {
    const differences: RowDifferences = {
      missing: [],
      changed: [],
      extra: [],
      complete: !cutoff || BigInt(id) < BigInt(cutoff.id),
    };
    for (const [key, row] of sides.source) {
      const other = sides.target.get(key);
      if (!other) differences.missing.push(row.key);
      else if (other.rowHash !== row.rowHash) differences.changed.push(row.key);
    }
    for (const [key, row] of sides.target) if (!sides.source.has(key)) differences.extra.push(row.key);
    result.set(id, differences);
  }
  return result;
}
