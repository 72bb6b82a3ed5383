import type pg from 'pg';
import { parseDuration } from '../../../machines/schedule.js';
import { SESSION_SETTINGS } from '../../adapters/postgres.js';
import type { Plan } from '../../config/schema.js';
import { bucketQuery, narrowQuery, summaryQuery } from './bucket-sql.js';
import {
  compareBuckets,
  comparePartitions,
  diffNarrowedRows,
  parseBucketRows,
  parseNarrowedRows,
  parseSummaryRows,
  type BucketRow,
  type Mismatch,
  type PartitionMismatch,
  type Period,
  type RowDifferences,
  type TableSummary,
} from './compare-buckets.js';
import { findGaps } from './find-gaps.js';
import { describeTableShape, readColumns, ShapeProblem, type TableShape } from './table-shape.js';

/**
 * Reconciliation between source and target (DESIGN §5): per plan table, grouped counts and content
 * hashes computed in SQL on both sides in one pass each, compared in Node; mismatched buckets are
 * narrowed down to row keys, bounded in rows and time; ingestion gaps after the switch are found
 * from the same pass.
 *
 * Rules:
 * - buckets closed before the cutover point (the freeze) must match exactly: a missing, changed or
 *   extra row there is drift, and a missing row is data loss;
 * - the target must contain every source row whatever its time: a source row missing from the target
 *   is data loss;
 * - after the cutover point the target is expected to hold more rows (new ingestion): not drift;
 * - active groups of append-only, timestamped tables (sensors) must not fall silent after the switch
 *   for longer than `thresholds.readingsGap`.
 *
 * Limitation: without an "updated at" column a legitimate edit made on the new system after the
 * switch to a row dated before the freeze (an alert resolved later) cannot be told from drift; it is
 * reported as changed, with its key, for a person to judge.
 */

export interface ReconcileLimits {
  /** Keys named per drift bucket. */
  keysPerBucket: number;
  /** Keys named per run, across all tables. */
  keysPerRun: number;
  /**
   * Differing partitions listed bucket by bucket per table (the rest are counted from their row
   * counts only). A partition holds about 1/16384 of a table's buckets.
   */
  partitionsPerTable: number;
  /** Mismatched buckets narrowed per table (the rest are counted from their counts only). */
  bucketsPerTable: number;
  /** Rows (keys and hashes) fetched per side per table while narrowing. */
  narrowRows: number;
  /** statement_timeout of each narrowing query, ms. */
  narrowTimeoutMs: number;
  /** statement_timeout of each bucket pass, ms (a hung run must not hold a snapshot for days). */
  scanTimeoutMs: number;
  /** Gaps named per table (all are counted). */
  gapsPerTable: number;
  /**
   * work_mem of the bucket pass. A few million readings make a few hundred thousand buckets; with the
   * default 4MB the hash aggregate spills to disk and the pass takes about twice as long.
   */
  workMem: string;
}

export const defaultReconcileLimits: ReconcileLimits = {
  keysPerBucket: 100,
  keysPerRun: 1000,
  partitionsPerTable: 1000,
  bucketsPerTable: 1000,
  narrowRows: 100_000,
  narrowTimeoutMs: 60_000,
  scanTimeoutMs: 30 * 60_000,
  gapsPerTable: 100,
  workMem: '128MB',
};

export interface ReconcileOptions {
  source: pg.Client;
  target: pg.Client;
  /** The freeze: buckets closed before this time must match exactly. */
  cutoverPoint: { time: string };
  /** When DNS was switched; gaps are looked for from here. Without it, no gap check. */
  switchedAt?: string;
  now: Date;
  limits?: Partial<ReconcileLimits>;
  /** Called before each table, for progress. */
  onTable?: (table: string, index: number, total: number) => void;
}

export type RowKind = 'missing' | 'changed' | 'extra';

export interface BucketLabel {
  /** Grouping values by column. */
  group: Record<string, string | null>;
  /** Bucket start, ISO, when the table is bucketed by time. */
  start?: string;
  period: Period;
}

export interface NamedKey {
  /** missing in target (data loss), changed, or extra in target before the freeze. */
  kind: RowKind;
  key: Record<string, string | null>;
  /** The bucket the row is in on the source (or, for extra rows, on the target). */
  bucket: BucketLabel;
  /** A changed row whose grouping values changed too: the bucket it is in on the target. */
  movedTo?: BucketLabel;
}

export interface IngestionGap {
  group: Record<string, string | null>;
  /** Last row before the silence (or the switch time), ISO. */
  from: string;
  /** First row after it (or `now` when still silent), ISO. */
  to: string;
  minutes: number;
  ongoing: boolean;
}

export interface TableReconciliation {
  table: string;
  /** How buckets are made, e.g. "sensor_id × hour". */
  grouping: string;
  bucketsCompared: number;
  /** Buckets with drift or missing rows. */
  driftBuckets: number;
  /** Source rows not in the target: data loss. */
  missingRows: number;
  /** Rows whose content differs. */
  changedRows: number;
  /** Rows only in the target, in buckets closed before the freeze. */
  extraRows: number;
  /** missing + changed + extra. */
  driftRows: number;
  /** Rows only in the target after the cutover point (or in an undated table): expected, not drift. */
  newRows: number;
  /**
   * Every mismatched bucket was narrowed to rows, so the counts above are exact. When false they are
   * lower bounds taken from bucket counts, and `narrowing.reason` says which limit stopped it.
   */
  exact: boolean;
  /**
   * Mismatched buckets after the freeze (or undated) whose source rows could not be confirmed in the
   * target within the limits: neither drift nor clean.
   */
  unverifiedBuckets: number;
  keys: NamedKey[];
  /** Drift rows found but not named because of the key limits. */
  keysNotNamed: number;
  gapCheck: 'checked' | 'not-applicable' | 'not-switched';
  gaps: IngestionGap[];
  /** All gaps found (`gaps` holds at most `gapsPerTable`). */
  gapCount: number;
  narrowing?: { buckets: number; complete: boolean; reason?: string };
  /** Differences between the sides that did not stop the comparison (a column only on one side). */
  warnings: string[];
  /** The table could not be compared at all, and why. */
  problem?: string;
  durationMs: number;
}

export interface ReconcileResult {
  checkedAt: string;
  cutoverPoint: string;
  switchedAt?: string;
  tables: TableReconciliation[];
  totals: {
    bucketsCompared: number;
    driftBuckets: number;
    driftRows: number;
    missingRows: number;
    changedRows: number;
    extraRows: number;
    newRows: number;
    gaps: number;
    unverifiedBuckets: number;
    namedKeys: number;
    problems: number;
  };
  /** No drift, no missing rows, no gaps, nothing unverified, every table compared. */
  clean: boolean;
  durationMs: number;
  limits: ReconcileLimits;
}

type ReconcilePlan = Pick<Plan, 'tables'> & { thresholds: Pick<Plan['thresholds'], 'readingsGap'> };

export async function reconcile(plan: ReconcilePlan, options: ReconcileOptions): Promise<ReconcileResult> {
  const started = performance.now();
  const limits = { ...defaultReconcileLimits, ...options.limits };
  if (!/^\d+\s*(kB|MB|GB)$/.test(limits.workMem)) throw new RangeError(`workMem must look like 128MB, got ${limits.workMem}`);
  const cutoverMs = Date.parse(options.cutoverPoint.time);
  if (Number.isNaN(cutoverMs)) throw new RangeError(`The cutover point is not a time: ${options.cutoverPoint.time}`);
  const switchedMs = options.switchedAt === undefined ? undefined : Date.parse(options.switchedAt);
  if (switchedMs !== undefined && Number.isNaN(switchedMs)) throw new RangeError(`The switch time is not a time: ${options.switchedAt}`);
  const context: TableContext = {
    ...options,
    limits,
    cutoverMs,
    switchedMs,
    cutoverIso: new Date(cutoverMs).toISOString(),
    ...(switchedMs !== undefined ? { switchedIso: new Date(switchedMs).toISOString() } : {}),
    gapMs: parseDuration(plan.thresholds.readingsGap),
    keyBudget: { left: limits.keysPerRun },
  };
  const tables: TableReconciliation[] = [];
  for (const [index, table] of plan.tables.entries()) {
    options.onTable?.(table.name, index, plan.tables.length);
    tables.push(await reconcileTable(table, context));
  }
  const sum = (pick: (table: TableReconciliation) => number) => tables.reduce((total, table) => total + pick(table), 0);
  const totals = {
    bucketsCompared: sum((t) => t.bucketsCompared),
    driftBuckets: sum((t) => t.driftBuckets),
    driftRows: sum((t) => t.driftRows),
    missingRows: sum((t) => t.missingRows),
    changedRows: sum((t) => t.changedRows),
    extraRows: sum((t) => t.extraRows),
    newRows: sum((t) => t.newRows),
    gaps: sum((t) => t.gapCount),
    unverifiedBuckets: sum((t) => t.unverifiedBuckets),
    namedKeys: sum((t) => t.keys.length),
    problems: tables.filter((t) => t.problem !== undefined).length,
  };
  return {
    checkedAt: options.now.toISOString(),
    cutoverPoint: new Date(cutoverMs).toISOString(),
    ...(switchedMs !== undefined ? { switchedAt: new Date(switchedMs).toISOString() } : {}),
    tables,
    totals,
    clean: totals.driftBuckets === 0 && totals.gaps === 0 && totals.unverifiedBuckets === 0 && totals.problems === 0,
    durationMs: Math.round(performance.now() - started),
    limits,
  };
}

interface TableContext extends ReconcileOptions {
  limits: ReconcileLimits;
  cutoverMs: number;
  switchedMs: number | undefined;
  cutoverIso: string;
  switchedIso?: string;
  gapMs: number;
  /** Keys that may still be named in this run (shared by all tables). */
  keyBudget: { left: number };
}

/**
 * A read-only REPEATABLE READ transaction per side and table: the bucket pass and the narrowing see
 * the same snapshot, while no snapshot is held for longer than one table. The settings that make
 * text output identical on both sides are set here too, whoever opened the connection.
 */
async function begin(client: pg.Client, limits: ReconcileLimits): Promise<void> {
  await client.query('begin isolation level repeatable read read only');
  const pinned = Object.entries(SESSION_SETTINGS).filter(([name]) => name !== 'client_encoding');
  await client.query(
    `select ${pinned.map((_, index) => `set_config($${2 * index + 3}, $${2 * index + 4}, true)`).join(', ')},
            set_config('work_mem', $1, true), set_config('statement_timeout', $2, true)`,
    [limits.workMem.replace(/\s+/g, ''), String(limits.scanTimeoutMs), ...pinned.flat()],
  );
}

const QUERY_CANCELED = '57014';

function describeError(error: unknown, side: string, what: string, timeoutMs: number): string {
  const code = (error as { code?: string }).code;
  if (code === QUERY_CANCELED) {
    const limit = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
    return `${what} on the ${side} timed out after ${limit}`;
  }
  return `${what} on the ${side} failed: ${(error as Error).message}`;
}

/** Run the same statement on both sides at once; wait for both even when one fails. */
async function onBothSides<T>(
  context: TableContext,
  run: (client: pg.Client, side: 'source' | 'target') => Promise<T>,
): Promise<[T, T]> {
  const [source, target] = await Promise.allSettled([run(context.source, 'source'), run(context.target, 'target')]);
  if (source.status === 'rejected') throw source.reason;
  if (target.status === 'rejected') throw target.reason;
  return [source.value, target.value];
}

class SideError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

async function reconcileTable(table: Plan['tables'][number], context: TableContext): Promise<TableReconciliation> {
  const started = performance.now();
  const empty = emptyTableResult(table.name);
  try {
    await onBothSides(context, (client) => begin(client, context.limits));
    const [sourceColumns, targetColumns] = await onBothSides(context, (client) => readColumns(client, table.name));
    const shape = describeTableShape(table, sourceColumns, targetColumns, Math.floor(context.gapMs / 1000));
    const summary = summaryQuery(shape, context.cutoverIso, context.switchedIso ?? null);
    const [sourceSummary, targetSummary] = await onBothSides(context, async (client, side) => {
      try {
        const result = await client.query<unknown[]>({ ...summary, rowMode: 'array' });
        return parseSummaryRows(shape, result.rows);
      } catch (error) {
        throw new SideError(describeError(error, side, 'the bucket pass', context.limits.scanTimeoutMs), (error as { code?: string }).code);
      }
    });
    const result = await judgeTable(shape, sourceSummary, targetSummary, context);
    return { ...result, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    if (!(error instanceof ShapeProblem || error instanceof SideError || (error as { code?: string }).code !== undefined)) throw error;
    return { ...empty, problem: (error as Error).message, durationMs: Math.round(performance.now() - started) };
  } finally {
    await Promise.allSettled([context.source.query('rollback'), context.target.query('rollback')]);
  }
}

function emptyTableResult(name: string): TableReconciliation {
  return {
    table: name.includes('.') ? name : `public.${name}`,
    grouping: '',
    bucketsCompared: 0,
    driftBuckets: 0,
    missingRows: 0,
    changedRows: 0,
    extraRows: 0,
    driftRows: 0,
    newRows: 0,
    exact: true,
    unverifiedBuckets: 0,
    keys: [],
    keysNotNamed: 0,
    gapCheck: 'not-applicable',
    gaps: [],
    gapCount: 0,
    warnings: [],
    durationMs: 0,
  };
}

function describeGrouping(shape: TableShape): string {
  const parts = [...shape.groupBy];
  if (shape.bucketSeconds) parts.push(shape.bucketSeconds === 3600 ? 'hour' : 'day');
  const base = parts.length > 0 ? parts.join(' × ') : 'whole table';
  return shape.timestamp ? `${base}, split at the cutover point` : `${base} (undated)`;
}

/** Compare buckets, narrow the mismatched ones, look for gaps, and count. */
async function judgeTable(
  shape: TableShape,
  sourceSummary: TableSummary,
  targetSummary: TableSummary,
  context: TableContext,
): Promise<Omit<TableReconciliation, 'durationMs'>> {
  const { limits } = context;
  const result: Omit<TableReconciliation, 'durationMs'> = {
    ...emptyTableResult(shape.table),
    grouping: describeGrouping(shape),
    warnings: shape.warnings,
  };

  // Level 1: partitions. Only the ones that differ are looked at bucket by bucket.
  const partitions = comparePartitions(sourceSummary, targetSummary);
  result.bucketsCompared = partitions.compared;
  const drilledParts = [...new Set(partitions.mismatches.map((m) => m.part))].slice(0, limits.partitionsPerTable);
  const drilled = new Set(drilledParts);
  for (const [key, t] of targetSummary.partitions) {
    // After the cutover point (or undated) the target may hold more: new rows, wherever not drilled.
    if (drilled.has(Number(key.slice(2))) || (key.startsWith('0:') && shape.timestamp)) continue;
    result.newRows += Math.max(0, t.rows - (sourceSummary.partitions.get(key)?.rows ?? 0));
  }
  const undrilled = partitions.mismatches.filter((m) => !drilled.has(m.part));
  estimatePartitions(shape, undrilled, result);

  // Level 2: the buckets of the differing partitions.
  let sourceBuckets: BucketRow[] = [];
  let targetBuckets: BucketRow[] = [];
  if (drilledParts.length > 0) {
    const query = bucketQuery(shape, context.cutoverIso, drilledParts);
    [sourceBuckets, targetBuckets] = await onBothSides(context, async (client, side) => {
      try {
        const rows = await client.query<unknown[]>({ ...query, rowMode: 'array' });
        return parseBucketRows(shape, rows.rows);
      } catch (error) {
        throw new SideError(describeError(error, side, 'the bucket listing', limits.scanTimeoutMs), (error as { code?: string }).code);
      }
    });
  }
  const comparison = compareBuckets(sourceBuckets, targetBuckets);

  // Level 3: the rows of the differing buckets.
  const toNarrow = comparison.mismatches.slice(0, limits.bucketsPerTable);
  const narrowed = await narrowBuckets(shape, toNarrow, context);
  if (partitions.mismatches.length > 0) {
    const reasons = [
      ...(undrilled.length > 0
        ? [`${undrilled.length} mismatched partitions beyond the ${limits.partitionsPerTable}-partition limit were counted, not listed`]
        : []),
      ...(comparison.mismatches.length > toNarrow.length
        ? [`${comparison.mismatches.length - toNarrow.length} mismatched buckets beyond the ${limits.bucketsPerTable}-bucket limit were not narrowed`]
        : []),
      ...(narrowed.reason ? [narrowed.reason] : []),
    ];
    const complete = reasons.length === 0 && [...narrowed.rows.values()].every((d) => d.complete);
    result.narrowing = { buckets: toNarrow.length, complete, ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}) };
  }

  // New rows in the drilled partitions' buckets that needed no narrowing.
  const mismatchedIds = new Set(comparison.mismatches.map((m) => m.id));
  const sourceCounts = new Map(sourceBuckets.map((b) => [b.id, b.count]));
  for (const bucket of targetBuckets) {
    if (bucket.period === 'before' || mismatchedIds.has(bucket.id)) continue;
    result.newRows += Math.max(0, bucket.count - (sourceCounts.get(bucket.id) ?? 0));
  }

  const moves = matchMovedRows(comparison.mismatches, narrowed.rows);
  for (const mismatch of comparison.mismatches) {
    const s = mismatch.source?.count ?? 0;
    const t = mismatch.target?.count ?? 0;
    const found = narrowed.rows.get(mismatch.id) ?? { missing: [], changed: [], extra: [], complete: false };
    const moved = moves.get(mismatch.id) ?? [];
    let missing = found.missing.length;
    let changed = found.changed.length + moved.length;
    let extra = mismatch.period === 'before' ? found.extra.length : 0;
    const fresh = mismatch.period === 'before' ? 0 : found.extra.length;
    if (!found.complete) {
      // Not every row was seen: what the counts alone prove, as lower bounds.
      result.exact = false;
      missing = Math.max(missing, s - t);
      if (mismatch.period === 'before') {
        extra = Math.max(extra, t - s);
        if (missing + changed + extra === 0) changed = 1;
      }
    }
    result.newRows += Math.max(fresh, mismatch.period === 'before' ? 0 : t - s);
    const drift = missing + changed + extra;
    if (drift === 0) {
      if (!found.complete) result.unverifiedBuckets += 1;
      continue;
    }
    result.driftBuckets += 1;
    result.missingRows += missing;
    result.changedRows += changed;
    result.extraRows += extra;
    const label = labelBucket(shape, mismatch);
    const named: { kind: RowKind; key: (string | null)[]; movedTo?: BucketLabel }[] = [
      ...found.missing.map((key) => ({ kind: 'missing' as const, key })),
      ...found.changed.map((key) => ({ kind: 'changed' as const, key })),
      ...moved.map(({ key, to }) => ({ kind: 'changed' as const, key, movedTo: labelBucket(shape, to) })),
      ...(mismatch.period === 'before' ? found.extra.map((key) => ({ kind: 'extra' as const, key })) : []),
    ];
    const take = Math.min(named.length, limits.keysPerBucket, context.keyBudget.left);
    context.keyBudget.left -= take;
    for (const { kind, key, movedTo } of named.slice(0, take)) {
      result.keys.push({
        kind,
        key: Object.fromEntries(shape.key.map((column, index) => [column, key[index] ?? null])),
        bucket: label,
        ...(movedTo ? { movedTo } : {}),
      });
    }
    result.keysNotNamed += drift - take;
  }
  result.driftRows = result.missingRows + result.changedRows + result.extraRows;

  if (shape.gapBinSeconds) {
    if (context.switchedMs === undefined) result.gapCheck = 'not-switched';
    else {
      result.gapCheck = 'checked';
      const gaps = findGaps(sourceSummary, targetSummary, {
        switchedMs: context.switchedMs,
        nowMs: context.now.getTime(),
        gapMs: context.gapMs,
      });
      result.gapCount = gaps.length;
      result.gaps = gaps.slice(0, limits.gapsPerTable).map((gap) => ({
        group: groupRecord(shape, gap.groups),
        from: new Date(gap.fromMs).toISOString(),
        to: new Date(gap.toMs).toISOString(),
        minutes: Math.round((gap.toMs - gap.fromMs) / 60_000),
        ongoing: gap.ongoing,
      }));
    }
  }
  return result;
}

/**
 * Partitions that differ but were not listed (beyond `partitionsPerTable`): what their row counts
 * alone prove, as lower bounds, one drift bucket at least each.
 */
function estimatePartitions(
  shape: TableShape,
  mismatches: PartitionMismatch[],
  result: Omit<TableReconciliation, 'durationMs'>,
): void {
  for (const mismatch of mismatches) {
    result.exact = false;
    const s = mismatch.source?.rows ?? 0;
    const t = mismatch.target?.rows ?? 0;
    const missing = Math.max(0, s - t);
    const strict = mismatch.kind === 0 && shape.timestamp !== undefined;
    const extra = strict ? Math.max(0, t - s) : 0;
    const changed = strict && missing + extra === 0 ? 1 : 0;
    if (missing + extra + changed === 0) {
      result.unverifiedBuckets += 1;
      continue;
    }
    result.driftBuckets += 1;
    result.missingRows += missing;
    result.extraRows += extra;
    result.changedRows += changed;
    result.keysNotNamed += missing + extra + changed;
  }
}

/**
 * A row whose grouping value changed (an alert resolved: status open → resolved) leaves one bucket
 * and enters another, so it shows as "missing" in the first and "extra" in the second. Matched by key
 * across the table's narrowed buckets, it is what it is: one changed row, not data loss. Removes the
 * matched keys from `missing`/`extra` and returns the moves per source bucket.
 */
function matchMovedRows(
  mismatches: Mismatch[],
  differences: Map<string, RowDifferences>,
): Map<string, { key: (string | null)[]; to: Mismatch }[]> {
  const extraAt = new Map<string, Mismatch>();
  for (const mismatch of mismatches) {
    for (const key of differences.get(mismatch.id)?.extra ?? []) extraAt.set(JSON.stringify(key), mismatch);
  }
  const moves = new Map<string, { key: (string | null)[]; to: Mismatch }[]>();
  if (extraAt.size === 0) return moves;
  for (const mismatch of mismatches) {
    const found = differences.get(mismatch.id);
    if (!found) continue;
    found.missing = found.missing.filter((key) => {
      const to = extraAt.get(JSON.stringify(key));
      if (!to) return true;
      const target = differences.get(to.id)!;
      target.extra = target.extra.filter((other) => JSON.stringify(other) !== JSON.stringify(key));
      moves.set(mismatch.id, [...(moves.get(mismatch.id) ?? []), { key, to }]);
      return false;
    });
  }
  return moves;
}

function groupRecord(shape: TableShape, groups: (string | null)[]): Record<string, string | null> {
  return Object.fromEntries(shape.groupBy.map((column, index) => [column, groups[index] ?? null]));
}

function labelBucket(shape: TableShape, mismatch: Mismatch): BucketLabel {
  const bucket = (mismatch.source ?? mismatch.target)!;
  return {
    group: groupRecord(shape, bucket.groups),
    ...(bucket.startMs !== undefined ? { start: new Date(bucket.startMs).toISOString() } : {}),
    period: mismatch.period,
  };
}

/**
 * Fetch the keys and row hashes of the mismatched buckets on both sides (one statement per side,
 * bounded by `narrowRows` and `narrowTimeoutMs`) and diff them. A timeout leaves the buckets
 * un-narrowed; the comparison itself stands.
 */
async function narrowBuckets(
  shape: TableShape,
  mismatches: Mismatch[],
  context: TableContext,
): Promise<{ rows: Map<string, RowDifferences>; reason?: string }> {
  if (mismatches.length === 0) return { rows: new Map() };
  const { limits } = context;
  const ids = mismatches.map((m) => m.id);
  const query = narrowQuery(shape, context.cutoverIso, ids, limits.narrowRows);
  try {
    const [source, target] = await onBothSides(context, async (client, side) => {
      try {
        await client.query("select set_config('statement_timeout', $1, true)", [String(limits.narrowTimeoutMs)]);
        const result = await client.query<unknown[]>({ ...query, rowMode: 'array' });
        return parseNarrowedRows(result.rows);
      } catch (error) {
        throw new SideError(describeError(error, side, 'narrowing', limits.narrowTimeoutMs), (error as { code?: string }).code);
      }
    });
    const limitHit = { source: source.length >= limits.narrowRows, target: target.length >= limits.narrowRows };
    const rows = diffNarrowedRows(ids, source, target, limitHit);
    const reason =
      limitHit.source || limitHit.target ? `narrowing stopped at the ${limits.narrowRows.toLocaleString('en-US')}-row limit` : undefined;
    return { rows, ...(reason ? { reason } : {}) };
  } catch (error) {
    if (!(error instanceof SideError)) throw error;
    return { rows: new Map(), reason: error.message };
  }
}

