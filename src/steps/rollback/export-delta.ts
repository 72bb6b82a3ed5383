import { createWriteStream } from 'node:fs';
import { chmod, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { quoteIdent, type Database } from '../../adapters/postgres.js';
import { bucketDigestQuery, differingBuckets, hashColumns, keyBucket, rowHash as sharedRowHash, type BucketDigest } from '../compare/compare.js';
import type { Progress } from '../types.js';
import { columnList, readTables, type TableInfo } from '../data/catalog.js';
import { CopyMeter } from '../data/export.js';
import { readSequences, reserveOnSource } from '../data/sequences.js';
import { syncDir } from '../../adapters/atomic-write.js';
import { ensurePrivateDir, type CutoverPoint } from '../data/manifest.js';
import {
  DELTA_MANIFEST_VERSION,
  deltaFileName,
  deltaFilesMatch,
  readDeltaManifest,
  writeDeltaManifest,
  type DeltaFile,
  type DeltaManifest,
  type DeltaTableEntry,
  type ReservedIds,
} from './delta-manifest.js';
import { loadedTables } from './loaded-tables.js';

/**
 * rollback.export-delta: what the target holds that the source does not, exported from the frozen
 * target while the source is still frozen too.
 *
 * Which rows are the delta. Not "timestamp after the cutover point": the timestamp of a reading is
 * the device's `recorded_at`, so a reading a gateway buffered through the window and delivered after
 * the switch is stamped *before* the cutover point and would be lost, and a device whose clock runs
 * ahead leaves source rows stamped after it. The source was frozen at the cutover point and the target
 * loaded from it, so the exact delta is a difference *by key* between the two databases as they are
 * now: target keys the source lacks are new, keys on both sides with different values changed, source
 * keys the target lacks were deleted there. The timestamp column only measures how many new rows a
 * timestamp filter would have missed (`newStampedBeforeCutover`).
 *
 * How, without pulling tables into Node. For a single integer key (identity / serial ids), target
 * rows above the source's largest key are new by construction; nothing needs comparing. The rest (the
 * whole table for other keys) is compared in SQL: both sides group rows into 1024 buckets by a hash
 * of the key, with a count and a content hash per bucket (the order-independent sum verify uses, from src/steps/compare).
 * Only for buckets that differ, the source's (key, row hash) pairs are streamed by COPY into a
 * temporary table on the target, and the target classifies new / changed / deleted in a join. For an
 * append-only table with identity ids, the differing buckets are the few that drift touched, so this
 * costs one hashing scan per side; a table whose changes are spread over every bucket streams its
 * source keys once, still never held in memory.
 *
 * Why this step also touches the source. The runbook unfreezes the source (rollback.unfreeze-source)
 * before rollback.reimport, so the old application writes again before the delta goes back. The target
 * handed out ids from its own sequence, which the load started just past the source's; the source's
 * sequence, left as it was, would hand out the very same ids to its new rows, and the re-import's
 * ON CONFLICT DO NOTHING would then drop delta rows (or, without it, fail). So once the delta is
 * exported, still inside the freeze, every source sequence of a plan table is moved past the highest
 * id the target used (`reserved` in the manifest). Advancing a sequence is idempotent and never moves
 * it back; advancing it at re-import time, after the unfreeze, would be too late.
 *
 * Resume: a table whose three files match their manifest entry is kept; any other table is compared
 * and written again (to `.part` files, renamed when complete). Both databases are frozen, so the
 * result is the same.
 */

export interface DeltaTableSpec {
  /** `schema.table`. */
  name: string;
  key: readonly string[];
  appendOnly: boolean;
  timestampColumn?: string | undefined;
}

export interface ExportDeltaOptions {
  source: Database;
  target: Database;
  tables: readonly DeltaTableSpec[];
  /** `<exportsDir>/<run id>/rollback-delta`; created owner-only. */
  dir: string;
  runId: string;
  cutoverPoint: CutoverPoint | null;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}

export interface TableDeltaResult {
  table: string;
  appendOnly: boolean;
  new: number;
  changed: number;
  deleted: number;
  /** Complete from an earlier attempt. */
  kept: boolean;
}

export interface ExportDeltaSummary {
  manifest: DeltaManifest;
  tables: TableDeltaResult[];
  /** Things a person should know (e.g. the source changed since the freeze). */
  warnings: string[];
}

const INTEGER_TYPES = ['smallint', 'integer', 'bigint'];
const ROW_HASH = 'cutover_row_hash';
const SOURCE_KEYS = 'cutover_delta_source';
const TARGET_KEYS = 'cutover_delta_target';

export async function exportDelta(options: ExportDeltaOptions): Promise<ExportDeltaSummary> {
  await ensurePrivateDir(options.dir);
  const manifest = await openDeltaManifest(options);
  const warnings: string[] = [];
  const target = await options.target.connect();
  try {
    const loaded = await loadedTables(target, options.runId);
    const specs = options.tables.filter((t) => loaded.has(t.name));
    manifest.skipped = options.tables
      .filter((t) => !loaded.has(t.name))
      .map((t) => ({ table: t.name, reason: `not loaded into the target by run ${options.runId}` }));
    manifest.targetLoaded = specs.length > 0;
    if (specs.length === 0) {
      manifest.complete = true;
      await writeDeltaManifest(options.dir, manifest);
      return { manifest, tables: [], warnings };
    }
    const source = await options.source.connect();
    try {
      const sourceTables = await readTables(source, specs.map((s) => s.name), options.source.label);
      const targetTables = new Map((await readTables(target, specs.map((s) => s.name), options.target.label)).map((t) => [t.id, t]));
      const results: TableDeltaResult[] = [];
      for (const [index, sourceTable] of sourceTables.entries()) {
        options.signal?.throwIfAborted();
        const spec = specs.find((s) => s.name === sourceTable.id)!;
        const targetTable = targetTables.get(sourceTable.id)!;
        const label = `export-delta ${sourceTable.id}`;
        const existing = manifest.tables[sourceTable.id];
        if (
          existing &&
          existing.appendOnly === spec.appendOnly &&
          existing.key.join('\u0000') === spec.key.join('\u0000') &&
          existing.columns.join('\u0000') === sourceTable.copyColumns.join('\u0000') &&
          (await deltaFilesMatch(options.dir, existing))
        ) {
          results.push(tableResult(sourceTable.id, existing, true));
          options.progress?.({ label, done: index + 1, total: sourceTables.length, unit: 'tables' });
          continue;
        }
        delete manifest.tables[sourceTable.id];
        const entry = await exportTableDelta(source, target, sourceTable, targetTable, spec, options, (report) =>
          options.progress?.({ ...report, label }),
        );
        manifest.tables[sourceTable.id] = entry;
        await writeDeltaManifest(options.dir, manifest);
        results.push(tableResult(sourceTable.id, entry, false));
        options.progress?.({ label, done: index + 1, total: sourceTables.length, unit: 'tables' });
      }
      const frozenCounts = options.cutoverPoint?.counts ?? {};
      for (const result of results) {
        const entry = manifest.tables[result.table]!;
        const atFreeze = frozenCounts[result.table];
        if (atFreeze !== undefined && atFreeze !== entry.sourceRows) {
          warnings.push(
            `${result.table} has ${entry.sourceRows} rows on the source but had ${atFreeze} at the cutover point: something wrote ` +
              `to the source during the freeze, so some "deleted" or "changed" rows may be source-side changes. Check the review.`,
          );
        }
      }
      manifest.reserved = await reserveOnSource(source, target, await readSequences(source, sourceTables));
      manifest.complete = true;
      await writeDeltaManifest(options.dir, manifest);
      return { manifest, tables: results, warnings };
    } finally {
      await source.end().catch(() => {});
    }
  } finally {
    await target.end().catch(() => {});
  }
}

function tableResult(table: string, entry: DeltaTableEntry, kept: boolean): TableDeltaResult {
  return { table, appendOnly: entry.appendOnly, new: entry.new.rows, changed: entry.changed.rows, deleted: entry.deleted.rows, kept };
}

async function openDeltaManifest(options: ExportDeltaOptions): Promise<DeltaManifest> {
  const existing = await readDeltaManifest(options.dir);
  const point = options.cutoverPoint;
  if (existing) {
    if (existing.runId !== options.runId) {
      throw new Error(`${options.dir} holds the rollback delta of run ${existing.runId}, not ${options.runId}.`);
    }
    if (point && existing.cutoverPoint && existing.cutoverPoint.lsn !== point.lsn) existing.tables = {};
    existing.cutoverPoint = point ?? existing.cutoverPoint;
    existing.complete = false;
    return existing;
  }
  const now = new Date().toISOString();
  return {
    version: DELTA_MANIFEST_VERSION,
    runId: options.runId,
    cutoverPoint: point,
    targetLoaded: false,
    skipped: [],
    tables: {},
    reserved: [],
    complete: false,
    createdAt: now,
    updatedAt: now,
  };
}

function keyEquals(key: readonly string[], a: string, b: string): string {
  return key.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');
}

function orderBy(key: readonly string[], alias?: string): string {
  return key.map((k) => (alias ? `${alias}.${quoteIdent(k)}` : quoteIdent(k))).join(', ');
}

async function exportTableDelta(
  source: pg.Client,
  target: pg.Client,
  sourceTable: TableInfo,
  targetTable: TableInfo,
  spec: DeltaTableSpec,
  options: ExportDeltaOptions,
  progress: (report: Omit<Progress, 'label'>) => void,
): Promise<DeltaTableEntry> {
  const id = sourceTable.id;
  const columns = sourceTable.copyColumns;
  const key = [...spec.key];
  const missing = columns.filter((c) => !targetTable.copyColumns.includes(c));
  if (missing.length > 0) {
    throw new Error(`${id} on the ${options.target.label} lacks the source's columns ${missing.join(', ')}: its delta cannot be compared.`);
  }
  const badKey = key.filter((k) => !columns.includes(k));
  if (badKey.length > 0) throw new Error(`plan.tables: the key of ${id} names ${badKey.join(', ')}, which ${id} does not have as data columns.`);
  if (spec.timestampColumn && !columns.includes(spec.timestampColumn)) {
    throw new Error(`plan.tables: the timestampColumn of ${id} (${spec.timestampColumn}) is not a data column of ${id}.`);
  }

  const parts: string[] = [];
  // Both sides in one snapshot each for the whole table; both are frozen, the snapshots make it exact anyway.
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await target.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    const keyColumn = key.length === 1 ? sourceTable.columns.find((c) => c.name === key[0]) : undefined;
    let split: DeltaTableEntry['split'] = null;
    if (keyColumn && INTEGER_TYPES.includes(keyColumn.type)) {
      const max = await source.query<{ max: string | null }>(`SELECT max(${quoteIdent(keyColumn.name)})::text AS max FROM ${sourceTable.scan}`);
      split = { column: keyColumn.name, sourceMax: max.rows[0]!.max };
    }
    const splitColumn = split ? `t.${quoteIdent(split.column)}` : '';
    // Rows at or below the source's largest key are compared; rows above it are new (see the top).
    const body = !split ? 'true' : split.sourceMax === null ? 'false' : `${splitColumn} <= ${split.sourceMax}`;
    const tail = !split ? null : split.sourceMax === null ? 'true' : `${splitColumn} > ${split.sourceMax}`;
    // The comparison verify and reconciliation make (src/steps/compare): the same row hash, the same buckets.
    const hashed = hashColumns(columns, sourceTable.columns, targetTable.columns);
    const bucket = (alias: string) => keyBucket(key, alias);
    const rowHash = (alias: string) => sharedRowHash(hashed, alias);
    const [sourceBuckets, targetBuckets, tailCount] = await Promise.all([
      source.query<BucketDigest>(bucketDigestQuery(sourceTable.scan, hashed, key)),
      target.query<BucketDigest>(bucketDigestQuery(targetTable.scan, hashed, key, body)),
      tail ? target.query<{ n: string }>(`SELECT count(*) AS n FROM ${targetTable.scan} t WHERE ${tail}`) : null,
    ]);
    const differing = differingBuckets(sourceBuckets.rows, targetBuckets.rows);
    const sourceRows = sourceBuckets.rows.reduce((sum, r) => sum + r.n, 0);
    const targetRows = targetBuckets.rows.reduce((sum, r) => sum + r.n, 0) + Number(tailCount?.rows[0]!.n ?? 0);
    progress({ done: 0, unit: 'rows' });

    const keyList = columnList(key);
    if (differing.length > 0) {
      const buckets = `'{${differing.join(',')}}'::int[]`;
      await target.query(
        `CREATE TEMP TABLE ${TARGET_KEYS} ON COMMIT DROP AS
           SELECT ${key.map((k) => `t.${quoteIdent(k)}`).join(', ')}, ${rowHash('t')} AS ${ROW_HASH}
             FROM ${targetTable.scan} t WHERE ${body} AND ${bucket('t')} = ANY(${buckets})`,
      );
      await target.query(
        `CREATE TEMP TABLE ${SOURCE_KEYS} ON COMMIT DROP AS SELECT * FROM ${TARGET_KEYS} WITH NO DATA`,
      );
      // The source's keys and row hashes of the differing buckets, straight from one database into the other.
      const out = source.query(
        copyTo(
          `COPY (SELECT ${key.map((k) => `t.${quoteIdent(k)}`).join(', ')}, ${rowHash('t')}
                   FROM ${sourceTable.scan} t WHERE ${bucket('t')} = ANY(${buckets})) TO STDOUT`,
        ),
      );
      const into = target.query(copyFrom(`COPY ${SOURCE_KEYS} (${keyList}, ${ROW_HASH}) FROM STDIN`));
      await pipeline(out, into, { signal: options.signal });
      for (const temp of [TARGET_KEYS, SOURCE_KEYS]) {
        await target.query(`CREATE INDEX ON ${temp} (${keyList})`);
        await target.query(`ANALYZE ${temp}`);
      }
    }

    const selectColumns = (alias: string) => columns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ');
    const newParts: string[] = [];
    if (tail) newParts.push(`SELECT ${selectColumns('t')} FROM ${targetTable.scan} t WHERE ${tail}`);
    if (differing.length > 0) {
      newParts.push(
        `SELECT ${selectColumns('t')} FROM ${targetTable.scan} t JOIN ${TARGET_KEYS} d ON ${keyEquals(key, 't', 'd')}
          WHERE NOT EXISTS (SELECT 1 FROM ${SOURCE_KEYS} s WHERE ${keyEquals(key, 's', 'd')})`,
      );
    }
    const newRows = newParts.length > 0 ? `SELECT * FROM (${newParts.join(' UNION ALL ')}) u` : null;
    const changedRows =
      differing.length > 0
        ? `SELECT ${selectColumns('t')} FROM ${targetTable.scan} t
             JOIN ${TARGET_KEYS} d ON ${keyEquals(key, 't', 'd')}
             JOIN ${SOURCE_KEYS} s ON ${keyEquals(key, 's', 'd')}
            WHERE s.${ROW_HASH} <> d.${ROW_HASH} ORDER BY ${orderBy(key, 't')}`
        : null;
    const deletedKeys =
      differing.length > 0
        ? `SELECT ${key.map((k) => `s.${quoteIdent(k)}`).join(', ')} FROM ${SOURCE_KEYS} s
            WHERE NOT EXISTS (SELECT 1 FROM ${TARGET_KEYS} d WHERE ${keyEquals(key, 's', 'd')}) ORDER BY ${orderBy(key, 's')}`
        : null;

    let written = 0;
    const writeFile = async (kind: 'new' | 'changed' | 'deleted', sql: string | null): Promise<DeltaFile> => {
      const file = deltaFileName(id, kind);
      const part = join(options.dir, `${file}.part`);
      parts.push(part);
      const meter = new CopyMeter();
      const stream: Readable = sql ? target.query(copyTo(`COPY (${sql}) TO STDOUT`)) : Readable.from([]);
      await pipeline(stream, meter, createWriteStream(part, { mode: 0o600, flush: true }), { signal: options.signal });
      await chmod(part, 0o600);
      written += meter.lines;
      progress({ done: written, unit: 'rows' });
      return { file, rows: meter.lines, bytes: meter.bytes, sha256: meter.digest() };
    };
    const newFile = await writeFile('new', newRows ? `${newRows} ORDER BY ${orderBy(key)}` : null);
    const changedFile = await writeFile('changed', changedRows);
    const deletedFile = await writeFile('deleted', deletedKeys);

    let newStampedBeforeCutover: number | undefined;
    if (spec.timestampColumn && options.cutoverPoint) {
      newStampedBeforeCutover = newRows
        ? Number(
            (
              await target.query<{ n: string }>(`SELECT count(*) AS n FROM (${newRows}) v WHERE v.${quoteIdent(spec.timestampColumn)} <= $1`, [
                options.cutoverPoint.at,
              ])
            ).rows[0]!.n,
          )
        : 0;
    }
    await target.query('COMMIT');
    await source.query('COMMIT');

    for (const file of [newFile, changedFile, deletedFile]) {
      await rename(join(options.dir, `${file.file}.part`), join(options.dir, file.file));
      if ((await stat(join(options.dir, file.file))).size !== file.bytes) throw new Error(`${file.file}: size changed while it was written.`);
    }
    await syncDir(options.dir);
    return {
      appendOnly: spec.appendOnly,
      key,
      columns,
      types: columns.map((name) => sourceTable.columns.find((c) => c.name === name)!.type),
      split,
      sourceRows,
      targetRows,
      bucketsDiffering: differing.length,
      new: newFile,
      changed: changedFile,
      deleted: deletedFile,
      ...(newStampedBeforeCutover !== undefined ? { newStampedBeforeCutover } : {}),
      exportedAt: new Date().toISOString(),
    };
  } catch (error) {
    await target.query('ROLLBACK').catch(() => {});
    await source.query('ROLLBACK').catch(() => {});
    await Promise.all(parts.map((p) => rm(p, { force: true })));
    throw error;
  }
}
