import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncDir } from '../../adapters/atomic-write.js';
import { ExitError, EXIT } from '../../engine/errors.js';
import { storageFault } from '../../engine/storage.js';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { SESSION_SETTINGS, quoteLiteral, type Database } from '../../adapters/postgres.js';
import type { Progress } from '../types.js';
import { columnList, readTables, type TableInfo } from './catalog.js';
import { readSequenceStates } from './sequences.js';
import { tableDigest, type TableDigest } from './verify.js';
import {
  countNewlines,
  ensurePrivateDir,
  fileMatches,
  newManifest,
  readManifest,
  writeManifest,
  type CutoverPoint,
  type Manifest,
  type OwnedSequenceState,
  type TableEntry,
} from './manifest.js';

/**
 * Export: every table from one consistent snapshot, each streamed with COPY into its own file.
 *
 * Format: COPY *text*, not binary. Text is portable across PostgreSQL major versions and
 * architectures (binary COPY is tied to each type's send/recv representation), can be read and
 * diffed with standard tools during an incident, and with the pinned session settings it is a
 * deterministic rendering of the values, so its sha256 is stable. The speed difference is small
 * next to disk and index work (see bench/data-path.ts).
 *
 * Resume: a table whose file matches its manifest entry (size and sha256) and whose row count in
 * the new snapshot is unchanged is skipped; any other table is written again to `<file>.part` and
 * renamed into place only when complete, so a crash never leaves a file that looks finished.
 */

export interface ExportOptions {
  source: Database;
  /** `schema.table` names (from the plan). */
  tables: readonly string[];
  /** The run's export folder; created owner-only. */
  dir: string;
  runId: string;
  /** From `freeze.snapshot`; recorded in the manifest, and its counts drive progress totals. */
  cutoverPoint?: CutoverPoint | null;
  /** Tables copied at the same time, each on its own connection importing the same snapshot. */
  parallel?: number;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}

export interface TableExportResult {
  table: string;
  rows: number;
  bytes: number;
  durationMs: number;
  /** Already complete from an earlier attempt. */
  skipped: boolean;
}

export interface ExportSummary {
  tables: TableExportResult[];
  rows: number;
  bytes: number;
  durationMs: number;
  /** WAL position of the snapshot this attempt read from. */
  snapshotLsn: string;
  snapshotAt: string;
}

const PROGRESS_INTERVAL_MS = 100;

export function exportFileName(table: string): string {
  return `${fileSafe(table)}.copy`;
}

/**
 * A table id as a file name: plain ids (`public.readings`) unchanged; any other byte (quotes, spaces,
 * a slash, which a table name may hold) percent-encoded, so names never clash nor leave the folder.
 */
export function fileSafe(id: string): string {
  return [...Buffer.from(id, 'utf8')]
    .map((byte) => (/[A-Za-z0-9_.$-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export async function exportTables(options: ExportOptions): Promise<ExportSummary> {
  const started = Date.now();
  const parallel = Math.max(1, options.parallel ?? 2);
  await ensurePrivateDir(options.dir);
  const manifest = await openManifest(options);

  const coordinator = await options.source.connect();
  const workers: pg.Client[] = [];
  try {
    // The coordinator holds the snapshot open for as long as workers import it.
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (
      await coordinator.query<{ id: string; at: Date; lsn: string }>(
        'SELECT pg_export_snapshot() AS id, now() AS at, pg_current_wal_lsn()::text AS lsn',
      )
    ).rows[0]!;
    const tables = await readTables(coordinator, options.tables, options.source.label);
    // Sequences are not transactional: these are their positions now, inside the freeze.
    manifest.sequences = await readSequenceStates(coordinator, tables);

    const results = new Map<string, TableExportResult>();
    const todo: TableInfo[] = [];
    for (const table of tables) {
      const entry = manifest.tables[table.id];
      if (entry && (await isExportComplete(coordinator, options.dir, table, entry))) {
        results.set(table.id, { table: table.id, rows: entry.rows, bytes: entry.bytes, durationMs: 0, skipped: true });
      } else {
        delete manifest.tables[table.id];
        todo.push(table);
      }
    }

    const counts = options.cutoverPoint?.counts ?? {};
    const total = tables.reduce((sum, t) => sum + (counts[t.id] ?? t.estimatedRows), 0);
    let doneRows = [...results.values()].reduce((sum, r) => sum + r.rows, 0);
    let lastReport = 0;
    const report = (label: string, force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      options.progress?.({ label, done: doneRows, total: Math.max(total, doneRows), unit: 'rows' });
    };

    let manifestWrites = Promise.resolve();
    const saveManifest = () => {
      manifest.updatedAt = new Date().toISOString();
      manifestWrites = manifestWrites.then(() => writeManifest(options.dir, manifest));
      return manifestWrites;
    };
    await saveManifest();

    // The coordinator is idle while workers copy: it computes each table's content digest over the
    // same snapshot meanwhile, one table after the other in the workers' order. Without parallel
    // workers: they would only take CPU from the COPY running at the same time.
    await coordinator.query('SET LOCAL max_parallel_workers_per_gather = 0');
    const digests = new Map<string, Promise<TableDigest>>();
    let previous: Promise<unknown> = Promise.resolve();
    for (const table of todo) {
      const digest = previous.then(() => tableDigest(coordinator, table, table.copyColumns));
      digest.catch(() => {}); // awaited by the worker; a failure must not go unhandled before then
      digests.set(table.id, digest);
      previous = digest;
    }

    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const queue = [...todo];
    const runWorker = async () => {
      const client = await options.source.connect();
      workers.push(client);
      for (let table = queue.shift(); table; table = queue.shift()) {
        signal.throwIfAborted();
        const tableStarted = Date.now();
        const entry = await exportOneTable(client, snapshot.id, snapshot.lsn, table, options.dir, signal, (rows) => {
          doneRows += rows;
          report(`export ${table.id}`);
        });
        const digest = await digests.get(table.id)!;
        if (digest.rows !== entry.rows) {
          throw new Error(`Export of ${table.id} is inconsistent: ${entry.rows} rows copied but ${digest.rows} counted in the same snapshot.`);
        }
        entry.digest = digest;
        entry.durationMs = Date.now() - tableStarted;
        manifest.tables[table.id] = entry;
        await saveManifest();
        results.set(table.id, {
          table: table.id,
          rows: entry.rows,
          bytes: entry.bytes,
          durationMs: entry.durationMs,
          skipped: false,
        });
        report(`export ${table.id}`, true);
      }
    };
    const runs = Array.from({ length: Math.min(parallel, todo.length) }, () =>
      runWorker().catch((error: unknown) => {
        abort.abort(error);
        throw error;
      }),
    );
    const settled = await Promise.allSettled(runs);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    await manifestWrites;
    await coordinator.query('COMMIT');

    const ordered = tables.map((t) => results.get(t.id)!);
    return {
      tables: ordered,
      rows: ordered.reduce((sum, r) => sum + r.rows, 0),
      bytes: ordered.reduce((sum, r) => sum + r.bytes, 0),
      durationMs: Date.now() - started,
      snapshotLsn: snapshot.lsn,
      snapshotAt: snapshot.at.toISOString(),
    };
  } finally {
    await Promise.all([coordinator, ...workers].map((c) => c.end().catch(() => {})));
  }
}

async function openManifest(options: ExportOptions): Promise<Manifest> {
  const existing = await readManifest(options.dir);
  const point = options.cutoverPoint ?? null;
  if (!existing) return newManifest(options.runId, { ...SESSION_SETTINGS }, point);
  if (existing.runId !== options.runId) {
    throw new Error(
      `${options.dir} holds the export of run ${existing.runId}, not ${options.runId}. ` +
        `Use a new folder for this run (the export folder is <exportsDir>/<run id>).`,
    );
  }
  if (point && existing.cutoverPoint && existing.cutoverPoint.lsn !== point.lsn) {
    // The source was frozen again at a new point: earlier files describe the old one.
    existing.tables = {};
  }
  existing.cutoverPoint = point ?? existing.cutoverPoint;
  return existing;
}

async function isExportComplete(client: pg.Client, dir: string, table: TableInfo, entry: TableEntry): Promise<boolean> {
  if (entry.columns.join('\u0000') !== table.copyColumns.join('\u0000')) return false;
  if (!(await fileMatches(join(dir, entry.file), entry))) return false;
  const rows = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.scan}`);
  return Number(rows.rows[0]!.n) === entry.rows;
}

async function exportOneTable(
  client: pg.Client,
  snapshotId: string,
  snapshotLsn: string,
  table: TableInfo,
  dir: string,
  signal: AbortSignal,
  onRows: (rows: number) => void,
): Promise<TableEntry> {
  const file = exportFileName(table.id);
  const part = join(dir, `${file}.part`);
  let copying = false;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
    const sequences: OwnedSequenceState[] = [];
    for (const column of table.columns) {
      if (!column.sequence) continue;
      // Sequences are not transactional: this is their current value, which is what the target
      // must move past (the source is frozen, so it no longer moves).
      const state = await client.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${column.sequence}`,
      );
      sequences.push({
        column: column.name,
        sequence: column.sequence,
        lastValue: state.rows[0]!.last_value,
        isCalled: state.rows[0]!.is_called,
      });
    }
    const columns = columnList(table.copyColumns);
    // A partitioned table cannot be the target of `COPY table TO`; a query reads all its partitions.
    const sql =
      table.kind === 'p'
        ? `COPY (SELECT ${columns} FROM ${table.quoted}) TO STDOUT`
        : `COPY ${table.quoted} (${columns}) TO STDOUT`;
    const meter = new CopyMeter(onRows);
    copying = true;
    const source = client.query(copyTo(sql));
    await pipeline(source, meter, createWriteStream(part, { mode: 0o600, flush: true }), { signal });
    copying = false;
    await client.query('COMMIT');
    if (source.rowCount !== meter.lines) {
      throw new Error(`Export of ${table.id} is inconsistent: COPY reported ${source.rowCount} rows but the file has ${meter.lines} lines.`);
    }
    await chmod(part, 0o600);
    await rename(part, join(dir, file));
    await syncDir(dir);
    const size = (await stat(join(dir, file))).size;
    return {
      file,
      rows: meter.lines,
      bytes: size,
      sha256: meter.digest(),
      columns: table.copyColumns,
      types: table.copyColumns.map((name) => table.columns.find((c) => c.name === name)!.type),
      sequences,
      durationMs: 0,
      exportedAt: new Date().toISOString(),
      snapshotLsn,
    };
  } catch (error) {
    if (copying) {
      // The connection is still in COPY OUT: a ROLLBACK sent now would wait behind a COPY nobody
      // reads any more, for ever. Drop the connection instead (pg destroys the socket of a client
      // with a query in flight); the server ends the COPY and its transaction with it.
      await client.end().catch(() => {});
    } else {
      await client.query('ROLLBACK').catch(() => {});
    }
    const fault = storageFault(error, part, 0, `the export of ${table.id}`);
    if (fault) {
      // A half-written part file of a full disk only keeps it full; the table starts over anyway.
      await rm(part, { force: true }).catch(() => {});
      throw exportFolderFault(fault, dir, table);
    }
    if (isRowSecurityError(error)) {
      throw new Error(
        `Cannot export ${table.id}: row-level security would hide rows from the connected role. ` +
          `Connect as the table owner or a role with BYPASSRLS (Supabase: the postgres role).`,
      );
    }
    throw error;
  }
}

/** A full or read-only export folder: what to do, instead of an errno (not retried: it will not pass by itself). */
function exportFolderFault(fault: Error, dir: string, table: TableInfo): Error {
  const full = /is full/.test(fault.message);
  return new ExitError(
    full
      ? `The export folder ${dir} ran out of space while exporting ${table.id} (about ${table.estimatedRows.toLocaleString('en-US')} rows). ` +
          'Free space there (or point exportsDir at a larger disk), then run `cutover run` again: finished tables are kept, this one starts over.'
      : `${fault.message.replace(/ in \S+: /, ` in the export folder ${dir}: `)} Then run \`cutover run\` again: finished tables are kept.`,
    EXIT.attention,
  );
}

function isRowSecurityError(error: unknown): boolean {
  return error instanceof Error && /row-level security/i.test(error.message);
}

/** Counts bytes, rows (newlines: COPY text escapes newlines inside values) and the sha256 of what passes through. */
export class CopyMeter extends Transform {
  lines = 0;
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly onRows?: (rows: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const rows = countNewlines(chunk);
    this.lines += rows;
    if (rows > 0) this.onRows?.(rows);
    callback(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}
