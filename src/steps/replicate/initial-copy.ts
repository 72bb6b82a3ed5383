import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { quoteIdent, quoteLiteral, type Database } from '../../adapters/postgres.js';
import { countNewlines } from '../data/manifest.js';
import { columnList, readTables, type TableInfo } from '../data/catalog.js';
import type { Progress } from '../types.js';
import { META_SCHEMA, PROGRESS_TABLE } from './names.js';

/**
 * The initial copy of the `replicate` strategy: every plan table as the slot's exported snapshot
 * shows it, streamed source → target with COPY (no file in between), by several workers at once.
 * A table estimated above `chunkRows` rows with a single integer key is split into key ranges, so a
 * large table is copied by every worker instead of one.
 *
 * Each chunk is one transaction on the target that also records the chunk in `PROGRESS_TABLE`: a
 * killed copy leaves either a whole chunk and its record or neither, and a resumed copy (same
 * snapshot, same chunk plan) skips the recorded ones.
 */

export interface Chunk {
  table: string;
  /** 0-based; stable for one snapshot (the plan is stored with the progress). */
  index: number;
  /** SQL condition on the key, or null for the whole table. */
  where: string | null;
  estimatedRows: number;
  /** Rows copied, once the chunk is done (recorded in the chunk's own transaction). */
  copiedRows: number | null;
}

export interface CopyOptions {
  source: Database;
  target: Database;
  runId: string;
  snapshot: string;
  tables: readonly { name: string; key: readonly string[] }[];
  workers: number;
  chunkRows: number;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}

export interface TableCopyResult {
  table: string;
  rows: number;
  chunks: number;
  /** Chunks found finished by an earlier (killed) attempt and not copied again. */
  chunksSkipped: number;
}

export interface CopyResult {
  tables: TableCopyResult[];
  rows: number;
  durationMs: number;
  rowsPerSecond: number;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);
const PROGRESS_INTERVAL_MS = 250;

export async function ensureProgressTable(client: pg.Client): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
       run_id text NOT NULL, snapshot text NOT NULL, table_name text NOT NULL, chunk int NOT NULL,
       condition text, estimated_rows bigint NOT NULL, rows bigint, copied_at timestamptz,
       PRIMARY KEY (run_id, snapshot, table_name, chunk))`,
  );
}

async function recordedChunks(client: pg.Client, runId: string, snapshot: string): Promise<Chunk[]> {
  const rows = await client.query<{ table_name: string; chunk: number; condition: string | null; estimated_rows: string; rows: string | null }>(
    `SELECT table_name, chunk, condition, estimated_rows::text, rows::text FROM ${PROGRESS_TABLE}
      WHERE run_id = $1 AND snapshot = $2 ORDER BY table_name, chunk`,
    [runId, snapshot],
  );
  return rows.rows.map((r) => ({
    table: r.table_name,
    index: r.chunk,
    where: r.condition,
    estimatedRows: Number(r.estimated_rows),
    copiedRows: r.rows === null ? null : Number(r.rows),
  }));
}

async function recordChunks(client: pg.Client, runId: string, snapshot: string, chunks: Chunk[]): Promise<void> {
  await client.query(
    `INSERT INTO ${PROGRESS_TABLE} (run_id, snapshot, table_name, chunk, condition, estimated_rows)
     SELECT $1, $2, * FROM unnest($3::text[], $4::int[], $5::text[], $6::bigint[])`,
    [runId, snapshot, chunks.map((c) => c.table), chunks.map((c) => c.index), chunks.map((c) => c.where), chunks.map((c) => c.estimatedRows)],
  );
}

/** Open a source session that sees exactly the exported snapshot. */
async function snapshotSession(source: Database, snapshot: string): Promise<pg.Client> {
  const client = await source.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`);
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw new Error(
      `The initial copy's snapshot ${snapshot} is no longer available on the ${source.label} (${(error as Error).message}). ` +
        `Run prep.replicate again: it starts the copy over from a new slot.`,
    );
  }
}

/** Split each table into chunks, over the snapshot. */
export async function planChunks(client: pg.Client, tables: TableInfo[], keys: Map<string, readonly string[]>, chunkRows: number): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for (const table of tables) {
    const key = keys.get(table.id) ?? [];
    const column = key.length === 1 ? table.columns.find((c) => c.name === key[0]) : undefined;
    const pieces = Math.min(64, Math.ceil(table.estimatedRows / chunkRows));
    if (!column || !INTEGER_TYPES.has(column.type) || pieces < 2) {
      chunks.push({ table: table.id, index: 0, where: null, estimatedRows: table.estimatedRows, copiedRows: null });
      continue;
    }
    const k = quoteIdent(column.name);
    const range = await client.query<{ lo: string | null; hi: string | null }>(`SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${table.scan}`);
    const { lo, hi } = range.rows[0]!;
    if (lo === null || hi === null) {
      chunks.push({ table: table.id, index: 0, where: null, estimatedRows: 0, copiedRows: null });
      continue;
    }
    const min = BigInt(lo);
    const span = BigInt(hi) - min + 1n;
    const n = BigInt(pieces);
    const bounds = Array.from({ length: pieces - 1 }, (_, i) => (min + (span * BigInt(i + 1)) / n).toString());
    // Open-ended first and last ranges: together the ranges cover every value, whatever the snapshot holds.
    for (let i = 0; i < pieces; i++) {
      const parts = [i > 0 ? `${k} >= ${bounds[i - 1]}` : null, i < pieces - 1 ? `${k} < ${bounds[i]}` : null].filter(Boolean);
      chunks.push({ table: table.id, index: i, where: parts.join(' AND '), estimatedRows: Math.ceil(table.estimatedRows / pieces), copiedRows: null });
    }
  }
  return chunks;
}

export async function copyFromSnapshot(options: CopyOptions): Promise<CopyResult> {
  const started = Date.now();
  const names = options.tables.map((t) => t.name);
  const keys = new Map(options.tables.map((t) => [t.name, t.key]));
  const planner = await snapshotSession(options.source, options.snapshot);
  const opened: pg.Client[] = [planner];
  try {
    const tables = await readTables(planner, names, options.source.label);
    const byId = new Map(tables.map((t) => [t.id, t]));
    const progressClient = await options.target.connect();
    opened.push(progressClient);
    await ensureProgressTable(progressClient);
    // The chunk plan of this snapshot: recorded by the first attempt, reused as is by a resumed one
    // (estimates move with ANALYZE, so planning again could cut the ranges differently).
    let chunks = await recordedChunks(progressClient, options.runId, options.snapshot);
    if (chunks.length === 0) {
      chunks = await planChunks(planner, tables, keys, options.chunkRows);
      await recordChunks(progressClient, options.runId, options.snapshot, chunks);
    }
    const chunksPerTable = new Map<string, number>();
    for (const c of chunks) chunksPerTable.set(c.table, (chunksPerTable.get(c.table) ?? 0) + 1);
    const results = new Map<string, TableCopyResult>(tables.map((t) => [t.id, { table: t.id, rows: 0, chunks: chunksPerTable.get(t.id) ?? 0, chunksSkipped: 0 }]));
    const todo: Chunk[] = [];
    for (const chunk of chunks) {
      const result = results.get(chunk.table)!;
      if (chunk.copiedRows !== null) {
        result.rows += chunk.copiedRows;
        result.chunksSkipped++;
      } else {
        todo.push(chunk);
      }
    }
    // Largest first, so the last chunks to finish are small ones and the workers end together.
    todo.sort((a, b) => b.estimatedRows - a.estimatedRows);

    const total = chunks.reduce((sum, c) => sum + c.estimatedRows, 0);
    let copied = [...results.values()].reduce((sum, r) => sum + r.rows, 0);
    let lastReport = 0;
    const report = (label: string, force = false) => {
      if (!force && Date.now() - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = Date.now();
      options.progress?.({ label, done: copied, total: Math.max(total, copied), unit: 'rows' });
    };
    report('initial copy', true);

    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const queue = [...todo];
    const runWorker = async () => {
      const from = await snapshotSession(options.source, options.snapshot);
      opened.push(from);
      const to = await options.target.connect();
      opened.push(to);
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        signal.throwIfAborted();
        const rows = await copyChunk(from, to, byId.get(chunk.table)!, chunk, options, signal, (n) => {
          copied += n;
          report(`copy ${chunk.table}`);
        });
        results.get(chunk.table)!.rows += rows;
      }
    };
    const runs = Array.from({ length: Math.max(1, Math.min(options.workers, todo.length)) }, () =>
      runWorker().catch((error: unknown) => {
        abort.abort(error);
        throw error;
      }),
    );
    const settled = await Promise.allSettled(todo.length ? runs : []);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    report('initial copy', true);
    const ordered = tables.map((t) => results.get(t.id)!);
    const rows = ordered.reduce((sum, r) => sum + r.rows, 0);
    const durationMs = Date.now() - started;
    return { tables: ordered, rows, durationMs, rowsPerSecond: durationMs > 0 ? Math.round((rows / durationMs) * 1000) : 0 };
  } finally {
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
  }
}

async function copyChunk(
  from: pg.Client,
  to: pg.Client,
  table: TableInfo,
  chunk: Chunk,
  options: CopyOptions,
  signal: AbortSignal,
  onRows: (rows: number) => void,
): Promise<number> {
  const columns = columnList(table.copyColumns);
  await to.query('BEGIN');
  try {
    try {
      // As in migrate.load (and as the subscription's apply worker does): no trigger, no FK check.
      await to.query('SET LOCAL session_replication_role = replica');
    } catch (error) {
      throw new Error(`prep.replicate needs a superuser connection to the ${options.target.label} (session_replication_role): ${(error as Error).message}`);
    }
    const reader = from.query(copyTo(`COPY (SELECT ${columns} FROM ${table.scan}${chunk.where ? ` WHERE ${chunk.where}` : ''}) TO STDOUT`));
    const writer = to.query(copyFrom(`COPY ${table.quoted} (${columns}) FROM STDIN`));
    const counter = new RowCounter(onRows);
    await pipeline(reader, counter, writer, { signal });
    await to.query(
      `UPDATE ${PROGRESS_TABLE} SET rows = $5, copied_at = now() WHERE run_id = $1 AND snapshot = $2 AND table_name = $3 AND chunk = $4`,
      [options.runId, options.snapshot, table.id, chunk.index, counter.rows],
    );
    await to.query('COMMIT');
    return counter.rows;
  } catch (error) {
    await to.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

class RowCounter extends Transform {
  rows = 0;
  constructor(private readonly onRows: (rows: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const n = countNewlines(chunk);
    this.rows += n;
    if (n > 0) this.onRows(n);
    callback(null, chunk);
  }
}
