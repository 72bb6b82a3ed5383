import type pg from 'pg';
import { quoteIdent, quoteQualified, type Database } from '../../adapters/postgres.js';
import {
  bucketDigestQuery,
  diffKeyedRows,
  differingBuckets,
  digestSelect,
  hashColumns,
  keyedRowsQuery,
  keyText,
  type BucketDigest,
  type HashColumn,
  type KeyedRow,
} from '../compare/compare.js';
import { columnList, existingTables, normalizeTableName, readTables, type ForeignKeyInfo, type TableInfo } from './catalog.js';
import { accountForTables, describeUnaccounted, type TableAccounting } from './accounted.js';
import type { Manifest } from './manifest.js';
import { compareSchemaSnapshots, readSchemaBefore, readSchemaSnapshot } from './schema-snapshot.js';
import { checkTargetSequences, readSequenceStates } from './sequences.js';
import { columnsSignature, deltaDigest, rangesToRecheck, type DeltaScope } from '../replicate/delta-verify.js';

/**
 * Verify: per table, the row count and an order-independent content hash, both computed inside each
 * database, compared side by side; then an orphan check of every foreign key on the target.
 *
 * The hash is the sum of every row's hash (src/steps/compare: the row hash verify, reconciliation and
 * the rollback delta share, over each value's text with the pinned session settings), as numeric: a
 * sum does not depend on row order, cannot overflow, and, unlike XOR, does not cancel out a duplicated
 * row. Only aggregates leave the database.
 *
 * When a table differs, the difference is narrowed down to keys: both sides are grouped into 1024
 * buckets by a hash of the key, and only the keys and row hashes of the mismatched buckets (a
 * bounded number) are compared, which tells missing rows, extra rows and changed values apart.
 */

export type DifferenceKind =
  | 'missing table'
  | 'missing columns'
  | 'missing rows'
  | 'extra rows'
  | 'changed values'
  | 'orphaned children';

export interface Difference {
  kind: DifferenceKind;
  /** Rows concerned (a lower bound when `partial`). */
  count: number;
  /** True when only part of the mismatched buckets were examined. */
  partial?: boolean;
  /** Up to a few keys, as PostgreSQL row text, e.g. `(42)` or `(uuid,uuid)`. */
  sampleKeys: string[];
  detail?: string;
}

export interface TableVerification {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceHash: string;
  targetHash: string;
  match: boolean;
  differences: Difference[];
  /** Where the source's count and hash came from: the export's snapshot, or a scan now. */
  sourceDigestFrom?: 'export' | 'live';
  /**
   * Strategy replicate: the content compared now was only the key ranges that differed in the verify
   * before the freeze or were written since (counts are whole); the hashes are of those ranges.
   */
  delta?: { ranges: number; of: number; rows: number; differedBefore: number; touched: number; verifiedBefore: string };
  durationMs: number;
}

export interface VerifyReport {
  ok: boolean;
  tables: TableVerification[];
  /** Every sequence the tables use, on the target: positioned so that nothing collides (sequences.ts). */
  sequences?: { checked: number; problems: string[] };
  /**
   * The target's schema of the tables compared with what migrate.load recorded before loading them
   * (schema-snapshot.ts): catalog lines checked, and those that changed. Only with `runId`.
   */
  schema?: { checked: number; changes: string[] };
  /** Every source table of the migrated schemas in the plan or excluded with a reason (accounted.ts). */
  accounted?: TableAccounting;
  durationMs: number;
}

export interface VerifyTableSpec {
  /** `schema.table`. */
  name: string;
  /** Columns that identify a row (the plan's `key`), used to name differing rows. */
  key: readonly string[];
}

export interface VerifyOptions {
  source: Database;
  target: Database;
  tables: readonly VerifyTableSpec[];
  /** Keys listed per difference. */
  sampleSize?: number;
  /**
   * Source digests computed at export time over the export's snapshot (manifest `digest`), by table.
   * Used instead of scanning the source again when their columns are the source's current data
   * columns; the source is still queried to narrow a difference down to keys.
   */
  sourceDigests?: Readonly<Record<string, TableDigest & { columns: readonly string[] }>>;
  /** The run whose migrate.load recorded the target's schema before the load; compared when given. */
  runId?: string;
  /** The plan's exclusions: when given, every source table of the migrated schemas must be accounted for. */
  excludedTables?: readonly { name: string; reason: string }[];
  /**
   * Strategy replicate: per table, the key ranges verified equal before the freeze and those to compare
   * again (src/steps/replicate/delta-verify.ts). A table without one, or whose columns changed since, is compared whole.
   */
  delta?: ReadonlyMap<string, DeltaScope>;
}

/** At most this many mismatched buckets are examined key by key… */
const MAX_BUCKETS_EXAMINED = 16;
/** …and at most this many rows fetched (keys and hashes only) per side. */
const MAX_ROWS_EXAMINED = 200_000;

/** The source digests an export recorded, in the shape `VerifyOptions.sourceDigests` takes. */
export function digestsFromManifest(manifest: Manifest | undefined): NonNullable<VerifyOptions['sourceDigests']> {
  return Object.fromEntries(
    Object.entries(manifest?.tables ?? {}).flatMap(([table, entry]) =>
      entry.digest ? [[table, { ...entry.digest, columns: entry.columns }]] : [],
    ),
  );
}

export class DataMismatchError extends Error {
  /** The same data gives the same verdict: the engine must not retry it (src/engine/runner.ts). */
  readonly retryable = false;
  constructor(readonly report: VerifyReport) {
    super(`Source and target differ:\n${formatVerifyReport(report, { onlyDifferences: true })}`);
    this.name = 'DataMismatchError';
  }
}

export async function verifyTables(options: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const sampleSize = options.sampleSize ?? 5;
  const names = options.tables.map((t) => normalizeTableName(t.name));
  const keys = new Map(options.tables.map((t) => [normalizeTableName(t.name), [...t.key]]));

  const source = await options.source.connect();
  const target = await options.target.connect();
  try {
    const sourceTables = await readTables(source, names, options.source.label);
    const targetTables = await readTargetTables(target, names, options.target.label);
    const results: TableVerification[] = [];
    for (const sourceTable of sourceTables) {
      const tableStarted = Date.now();
      const targetTable = targetTables.get(sourceTable.id);
      const base = { table: sourceTable.id, sourceHash: '', targetHash: '', durationMs: 0 };
      if (!targetTable) {
        const rows = await countRows(source, sourceTable);
        results.push({
          ...base,
          sourceRows: rows,
          targetRows: 0,
          match: false,
          differences: [{ kind: 'missing table', count: rows, sampleKeys: [], detail: `${sourceTable.id} does not exist on the target` }],
        });
        continue;
      }
      const missingColumns = sourceTable.copyColumns.filter((c) => !targetTable.copyColumns.includes(c));
      if (missingColumns.length > 0) {
        results.push({
          ...base,
          sourceRows: await countRows(source, sourceTable),
          targetRows: await countRows(target, targetTable),
          match: false,
          differences: [
            { kind: 'missing columns', count: missingColumns.length, sampleKeys: [], detail: missingColumns.join(', ') },
          ],
        });
        continue;
      }
      const columns = sourceTable.copyColumns;
      const key = keys.get(sourceTable.id)!;
      const known = options.sourceDigests?.[sourceTable.id];
      // Hashed the same way on both sides: natively only where both have the same type. The export's
      // digest was hashed by the source's types alone, so it stands only when the types agree.
      const hashed = hashColumns(columns, sourceTable.columns, targetTable.columns);
      const sameHashing = hashColumns(columns, sourceTable.columns).every((c, i) => c.native === hashed[i]!.native);
      const fromExport = known !== undefined && sameHashing && known.columns.join('\u0000') === columns.join('\u0000');
      const scope = options.delta?.get(sourceTable.id);
      const inRanges = scope !== undefined && !scope.whole && scope.columns === columnsSignature(sourceTable, targetTable);
      const [s, t]: [TableDigest & { rechecked?: number }, TableDigest & { rechecked?: number }] = inRanges
        ? await Promise.all([deltaDigest(source, sourceTable, hashed, scope), deltaDigest(target, targetTable, hashed, scope)])
        : await Promise.all([
            fromExport ? { rows: known.rows, hash: known.hash } : tableDigest(source, sourceTable, hashed),
            tableDigest(target, targetTable, hashed),
          ]);
      const differences: Difference[] = [];
      if (s.rows !== t.rows || s.hash !== t.hash) {
        differences.push(...(await narrowDown(source, target, sourceTable, targetTable, hashed, key, sampleSize)));
      }
      results.push({
        ...base,
        sourceRows: s.rows,
        targetRows: t.rows,
        sourceHash: s.hash,
        targetHash: t.hash,
        match: differences.length === 0,
        differences,
        sourceDigestFrom: fromExport && !inRanges ? 'export' : 'live',
        ...(inRanges
          ? {
              delta: {
                ranges: rangesToRecheck(scope).length,
                of: scope.ranges,
                rows: Math.max(s.rechecked ?? 0, t.rechecked ?? 0),
                differedBefore: scope.differing.length,
                touched: scope.touched.length,
                verifiedBefore: scope.verifiedAt,
              },
            }
          : {}),
        durationMs: Date.now() - tableStarted,
      });
    }
    // Strategy replicate: a foreign key whose child and parent tables were both just proven equal to the
    // source has on the target exactly the source's orphans, which findOrphans never reports; its scan
    // of the child (the large readings table) is skipped to keep the freeze short.
    const proven = new Set(options.delta ? results.filter((r) => r.match).map((r) => r.table) : []);
    for (const result of results) {
      const targetTable = targetTables.get(result.table);
      if (!targetTable) continue;
      const skip = (fk: ForeignKeyInfo) => proven.has(result.table) && proven.has(normalizeTableName(fk.refTable));
      const orphans = await findOrphans(source, target, targetTable, keys.get(result.table)!, sampleSize, skip);
      if (orphans.length > 0) {
        result.differences.push(...orphans);
        result.match = false;
      }
    }
    const sequenceStates = await readSequenceStates(source, sourceTables);
    const sequences = { checked: sequenceStates.length, problems: await checkTargetSequences(target, sequenceStates) };
    const accounted =
      options.excludedTables === undefined ? undefined : await accountForTables(source, { tables: options.tables, excludedTables: options.excludedTables });
    const schema = options.runId === undefined ? undefined : await compareTargetSchema(target, options.runId, [...targetTables.keys()]);
    return {
      ok: results.every((r) => r.match) && sequences.problems.length === 0 && (schema?.changes.length ?? 0) === 0 && (accounted?.unaccounted.length ?? 0) === 0,
      tables: results,
      sequences,
      ...(accounted ? { accounted } : {}),
      ...(schema ? { schema } : {}),
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.all([source.end().catch(() => {}), target.end().catch(() => {})]);
  }
}

/** The target's schema now against the lines migrate.load recorded before loading each table. */
async function compareTargetSchema(target: pg.Client, runId: string, ids: string[]): Promise<NonNullable<VerifyReport['schema']>> {
  const recorded = await readSchemaBefore(target, runId, ids);
  let checked = 0;
  const changes: string[] = [];
  for (const id of ids) {
    const before = recorded.get(id);
    if (!before) {
      changes.push(`${id}: no record of its schema before the load (run ${runId} did not load it)`);
      continue;
    }
    checked += before.length;
    changes.push(...compareSchemaSnapshots(before, await readSchemaSnapshot(target, [id])));
  }
  return { checked, changes };
}

/** Tables that exist on the target, by id (missing ones are reported, not thrown). */
async function readTargetTables(client: pg.Client, names: string[], label: string): Promise<Map<string, TableInfo>> {
  const tables = await readTables(client, await existingTables(client, names), label);
  return new Map(tables.map((t) => [t.id, t]));
}

async function countRows(client: pg.Client, table: TableInfo): Promise<number> {
  const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.scan}`);
  return Number(result.rows[0]!.n);
}

export interface TableDigest {
  rows: number;
  hash: string;
}

/**
 * Count and order-independent content hash of `columns`, computed by the database. Column names are
 * hashed as `table`'s own types say (the export's digest); verify passes both sides' decision.
 */
export async function tableDigest(
  client: pg.Client,
  table: Pick<TableInfo, 'scan' | 'columns'>,
  columns: readonly string[] | readonly HashColumn[],
): Promise<TableDigest> {
  const hashed = columns.map((c) => (typeof c === 'string' ? hashColumns([c], table.columns)[0]! : c));
  const result = await client.query<{ rows: string; hash: string }>(`SELECT ${digestSelect(hashed)} FROM ${table.scan} t`);
  return { rows: Number(result.rows[0]!.rows), hash: result.rows[0]!.hash };
}

async function narrowDown(
  source: pg.Client,
  target: pg.Client,
  sourceTable: TableInfo,
  targetTable: TableInfo,
  columns: readonly HashColumn[],
  key: readonly string[],
  sampleSize: number,
): Promise<Difference[]> {
  const [sb, tb] = await Promise.all([
    source.query<BucketDigest>(bucketDigestQuery(sourceTable.scan, columns, key)),
    target.query<BucketDigest>(bucketDigestQuery(targetTable.scan, columns, key)),
  ]);
  const size = new Map<number, number>();
  for (const b of [...sb.rows, ...tb.rows]) size.set(b.bucket, Math.max(size.get(b.bucket) ?? 0, b.n));
  const mismatched = differingBuckets(sb.rows, tb.rows);
  const examined: number[] = [];
  let rowsToFetch = 0;
  for (const bucket of mismatched) {
    const rows = size.get(bucket) ?? 0;
    if (examined.length >= MAX_BUCKETS_EXAMINED || (examined.length > 0 && rowsToFetch + rows > MAX_ROWS_EXAMINED)) break;
    examined.push(bucket);
    rowsToFetch += rows;
  }
  const partial = examined.length < mismatched.length;
  const [sk, tk] = await Promise.all([
    source.query<KeyedRow>(keyedRowsQuery(sourceTable.scan, columns, key), [examined]),
    target.query<KeyedRow>(keyedRowsQuery(targetTable.scan, columns, key), [examined]),
  ]);
  const found = diffKeyedRows(sk.rows, tk.rows);
  const differences: Difference[] = [];
  const add = (kind: DifferenceKind, keysFound: string[]) => {
    if (keysFound.length === 0) return;
    keysFound.sort();
    differences.push({ kind, count: keysFound.length, sampleKeys: [...new Set(keysFound)].slice(0, sampleSize), ...(partial ? { partial } : {}) });
  };
  add('missing rows', found.missing);
  add('extra rows', found.extra);
  add('changed values', found.changed);
  return differences;
}

/**
 * Children on the target whose parent row does not exist (MATCH SIMPLE: a key with a NULL is not
 * checked). Orphans the source has as well are a faithful copy and are not reported.
 */
async function findOrphans(
  source: pg.Client,
  target: pg.Client,
  table: TableInfo,
  key: readonly string[],
  sampleSize: number,
  skip: (fk: ForeignKeyInfo) => boolean = () => false,
): Promise<Difference[]> {
  const differences: Difference[] = [];
  for (const fk of table.foreignKeys) {
    if (skip(fk)) continue;
    const parent = quoteQualified(fk.refTable);
    const where =
      fk.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ') +
      ` AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${fk.columns
        .map((c, i) => `p.${quoteIdent(fk.refColumns[i]!)} = c.${quoteIdent(c)}`)
        .join(' AND ')})`;
    const countSql = `SELECT count(*)::int AS n FROM ${table.scan} c WHERE ${where}`;
    const onTarget = (await target.query<{ n: number }>(countSql)).rows[0]!.n;
    if (onTarget === 0) continue;
    let onSource = 0;
    try {
      onSource = (await source.query<{ n: number }>(countSql)).rows[0]!.n;
    } catch {
      // The parent table or columns differ on the source: every orphan on the target counts.
    }
    if (onTarget <= onSource) continue;
    const sample = await target.query<{ key: string }>(
      `SELECT ${keyText(key, 'c')} AS key FROM ${table.scan} c WHERE ${where} ORDER BY 1 LIMIT ${sampleSize}`,
    );
    differences.push({
      kind: 'orphaned children',
      count: onTarget - onSource,
      sampleKeys: sample.rows.map((r) => r.key),
      detail: `${fk.name}: (${columnList(fk.columns)}) has no matching row in ${fk.refTable}`,
    });
  }
  return differences;
}

/** A readable per-table report. */
export function formatVerifyReport(report: VerifyReport, options: { onlyDifferences?: boolean } = {}): string {
  const lines: string[] = [];
  for (const table of report.tables) {
    if (options.onlyDifferences && table.match) continue;
    const counts = `${table.sourceRows} rows on the source, ${table.targetRows} on the target`;
    lines.push(`${table.match ? 'ok  ' : 'DIFF'} ${table.table}: ${counts}`);
    for (const d of table.differences) {
      const keys = d.sampleKeys.length > 0 ? ` (e.g. key ${d.sampleKeys.join(', ')})` : '';
      const detail = d.detail ? ` ${d.detail}` : '';
      lines.push(`       ${d.kind}: ${d.partial ? 'at least ' : ''}${d.count}${keys}${detail}`);
    }
  }
  if (report.sequences) lines.push(...formatSequenceLines(report.sequences, options));
  if (report.accounted) {
    const a = report.accounted;
    if (a.unaccounted.length > 0) lines.push(`DIFF every table accounted for: ${describeUnaccounted(a)}`);
    else if (!options.onlyDifferences) {
      lines.push(`ok   every table accounted for: ${a.sourceTables} source tables in ${a.schemas.join(', ')} (${a.planned} migrated, ${a.excluded} excluded with a reason)`);
    }
  }
  if (report.schema) {
    if (report.schema.changes.length > 0) {
      lines.push(`DIFF target schema: changed since the load began`, ...report.schema.changes.map((c) => `       ${c}`));
    } else if (!options.onlyDifferences) {
      lines.push(`ok   target schema: as before the load (${report.schema.checked} catalog entries: indexes, constraints, triggers, comments, statistics targets)`);
    }
  }
  return lines.join('\n');
}

function formatSequenceLines(sequences: NonNullable<VerifyReport['sequences']>, options: { onlyDifferences?: boolean }): string[] {
  if (sequences.problems.length === 0) {
    return options.onlyDifferences ? [] : [`ok   sequences: ${sequences.checked} positioned at or past the source's, past their columns' values`];
  }
  return [`DIFF sequences: ${sequences.problems.length} of ${sequences.checked} would collide`, ...sequences.problems.map((p) => `       ${p}`)];
}
