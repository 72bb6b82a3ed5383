import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent, quoteQualified, type Database } from '../../adapters/postgres.js';
import type { Progress } from '../types.js';
import { columnList, readTables, type TableInfo } from '../data/catalog.js';
import { CopyMeter } from '../data/export.js';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { MANUAL_REVIEW_FILE, readDeltaManifest, type DeltaManifest, type DeltaTableEntry } from './delta-manifest.js';
import { MAX_KEYS, readKeys, renderManualReview, type KeySamples, type ReimportedTable, type RowKey } from './review-report.js';

/**
 * rollback.reimport: the append-only tables' new rows back into the source, and `manual-review.md`
 * for everything else.
 *
 * Per table, one transaction on the source:
 *
 *   BEGIN; SET LOCAL session_replication_role = replica;
 *   CREATE TEMP TABLE … AS SELECT <columns> FROM <table> WITH NO DATA;  COPY … FROM the delta file;
 *   DELETE the staged rows whose parent (foreign key) the source lacks   → held back, reported;
 *   LOCK TABLE <table> IN SHARE ROW EXCLUSIVE MODE   (tables with a sequence);
 *   INSERT INTO <table> (<columns>) OVERRIDING SYSTEM VALUE SELECT … ON CONFLICT (<key>) DO NOTHING;
 *   setval(<sequence>, max) when it is behind; COMMIT
 *
 * Idempotent: ON CONFLICT (key) DO NOTHING makes a second run insert nothing, and what is reported is
 * the end state (delta rows present in the source with identical values), so a re-run writes the same
 * report. A crash mid-table rolls that table back.
 *
 * Runs after rollback.unfreeze-source, so the old application is writing again. Its new rows cannot
 * take the delta's ids: rollback.export-delta moved the source's sequences past them while the source
 * was still frozen (see export-delta.ts). A key that exists in the source anyway with other values is a
 * conflict: kept as the source has it, and named in the report, never dropped silently.
 *
 * Triggers stay off (as in migrate.load): the target already ran the application's side effects for
 * these rows (alerts, last-seen times), and those results are in the review as changed rows of their
 * tables; replaying triggers would fire them again (webhooks, notifications) for past events. Foreign
 * keys are therefore checked here, before the insert: a row whose parent exists only on the target
 * (e.g. a reading of a sensor added after the switch) is held back rather than left orphaned.
 */

export interface ReimportOptions {
  source: Database;
  /** The rollback-delta folder. */
  dir: string;
  runId: string;
  /** The plan's zone, for the times in the manual-review report (UTC when not given). */
  zone?: string;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}

export interface ReimportSummary {
  tables: ReimportedTable[];
  /** Tables that are not append-only, with their changes on the target (listed in the report). */
  review: { table: string; new: number; changed: number; deleted: number }[];
  reportFile: string;
  targetLoaded: boolean;
}

const STAGE = 'cutover_reimport';

export async function reimportDelta(options: ReimportOptions): Promise<ReimportSummary> {
  const manifest = await readDeltaManifest(options.dir);
  if (!manifest) {
    throw new Error(`No rollback delta in ${options.dir}: run rollback.export-delta first (it must run before the source is unfrozen).`);
  }
  if (manifest.runId !== options.runId) throw new Error(`${options.dir} holds the rollback delta of run ${manifest.runId}, not ${options.runId}.`);
  if (!manifest.complete) {
    throw new Error(`The rollback delta in ${options.dir} is incomplete: run rollback.export-delta again to finish it (the target is frozen, so it exports the same rows).`);
  }
  const reportFile = join(options.dir, MANUAL_REVIEW_FILE);
  const appendOnly = Object.entries(manifest.tables).filter(([, e]) => e.appendOnly);
  const reimported: ReimportedTable[] = [];
  if (appendOnly.length > 0) {
    const client = await options.source.connect();
    try {
      const tables = await readTables(client, appendOnly.map(([t]) => t), options.source.label);
      for (const table of tables) {
        options.signal?.throwIfAborted();
        const entry = manifest.tables[table.id]!;
        reimported.push(await reimportTable(client, table, entry, options));
      }
    } finally {
      await client.end().catch(() => {});
    }
  }
  const samples = await readSamples(options.dir, manifest);
  await writeFileAtomic(reportFile, renderManualReview({ manifest, reimported, samples, zone: options.zone ?? 'UTC' }), { mode: 0o600 });
  return {
    tables: reimported,
    review: Object.entries(manifest.tables)
      .filter(([, e]) => !e.appendOnly)
      .map(([table, e]) => ({ table, new: e.new.rows, changed: e.changed.rows, deleted: e.deleted.rows })),
    reportFile,
    targetLoaded: manifest.targetLoaded,
  };
}

async function reimportTable(client: pg.Client, table: TableInfo, entry: DeltaTableEntry, options: ReimportOptions): Promise<ReimportedTable> {
  const label = `reimport ${table.id}`;
  const none = { table: table.id, deltaRows: 0, inserted: 0, present: 0, conflicts: { count: 0, keys: [] }, heldBack: { count: 0, keys: [], reasons: [] }, sequencesAdvanced: 0 };
  if (entry.new.rows === 0) return none;
  const missing = entry.columns.filter((c) => !table.copyColumns.includes(c));
  if (missing.length > 0) {
    throw new Error(`${table.id} on the ${options.source.label} no longer has the columns ${missing.join(', ')} that the delta carries.`);
  }
  const columns = columnList(entry.columns);
  const key = entry.key;
  const keyColumns = (alias: string) => key.map((k) => `${alias}.${quoteIdent(k)}`).join(', ');
  const keyArray = (alias: string) => `ARRAY[${key.map((k) => `${alias}.${quoteIdent(k)}::text`).join(', ')}]`;
  const toKeys = (rows: (string | null)[][]): RowKey[] => rows.map((values) => key.map((column, i) => ({ column, value: values[i] ?? null })));
  const rowOf = (alias: string) => `ROW(${entry.columns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ')})::text`;
  options.progress?.({ label, done: 0, total: entry.new.rows, unit: 'rows' });

  await client.query('BEGIN');
  try {
    try {
      await client.query('SET LOCAL session_replication_role = replica');
    } catch (error) {
      throw new Error(
        `rollback.reimport needs a connection to the ${options.source.label} that may set session_replication_role ` +
          `(Supabase: the postgres role), to insert without firing the application's triggers again: ${(error as Error).message}`,
      );
    }
    await client.query(`CREATE TEMP TABLE ${STAGE} ON COMMIT DROP AS SELECT ${columns} FROM ${table.scan} WITH NO DATA`);
    const meter = new CopyMeter();
    await pipeline(
      createReadStream(join(options.dir, entry.new.file), { highWaterMark: 1 << 20 }),
      meter,
      client.query(copyFrom(`COPY ${STAGE} (${columns}) FROM STDIN`)),
      { signal: options.signal },
    );
    if (meter.digest() !== entry.new.sha256 || meter.lines !== entry.new.rows) {
      throw new Error(
        `${entry.new.file} does not match the rollback delta's manifest (checksum or row count differs): it changed after ` +
          `rollback.export-delta. Run rollback.export-delta again (the target is frozen) and then this step.`,
      );
    }
    options.progress?.({ label, done: meter.lines, total: entry.new.rows, unit: 'rows' });

    // Rows whose parent the source lacks stay out (a parent staged here as well counts, for self-references).
    const heldBack = { count: 0, keys: [] as RowKey[], reasons: [] as string[] };
    for (const fk of table.foreignKeys) {
      if (!fk.columns.every((c) => entry.columns.includes(c))) continue;
      const parent = quoteQualified(fk.refTable);
      const matches = (alias: string) => fk.columns.map((c, i) => `${alias}.${quoteIdent(fk.refColumns[i]!)} = d.${quoteIdent(c)}`).join(' AND ');
      const selfReference = fk.refTable === table.id ? ` AND NOT EXISTS (SELECT 1 FROM ${STAGE} p2 WHERE ${matches('p2')})` : '';
      const held = await client.query<{ n: string; keys: (string | null)[][] | null }>(
        `WITH held AS (
           DELETE FROM ${STAGE} d
            WHERE ${fk.columns.map((c) => `d.${quoteIdent(c)} IS NOT NULL`).join(' AND ')}
              AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${matches('p')})${selfReference}
           RETURNING ${keyColumns('d')})
         SELECT count(*)::text AS n,
                (SELECT array_agg(k ORDER BY n) FROM (
                   SELECT ${keyArray('h')} AS k, row_number() OVER (ORDER BY ${keyColumns('h')}) AS n
                     FROM held h ORDER BY ${keyColumns('h')} LIMIT ${MAX_KEYS}) s) AS keys
           FROM held`,
      );
      const count = Number(held.rows[0]!.n);
      if (count === 0) continue;
      heldBack.count += count;
      heldBack.keys.push(...toKeys(held.rows[0]!.keys ?? []));
      heldBack.reasons.push(`${fk.name}: no row of ${fk.refTable} with (${fk.refColumns.join(', ')}) = the row's (${fk.columns.join(', ')})`);
    }
    heldBack.keys = heldBack.keys.slice(0, MAX_KEYS);

    // From here to COMMIT the application's inserts wait (they would block on our new keys anyway);
    // taken before the insert, so that the sequence can be read and moved below without a race and
    // without the lock upgrade that could deadlock with an application transaction.
    const sequenced = table.columns.filter((c) => c.sequence && !c.generated && entry.columns.includes(c.name));
    if (sequenced.length > 0) await client.query(`LOCK TABLE ${table.scan} IN SHARE ROW EXCLUSIVE MODE`);
    const overriding = table.columns.some((c) => c.identity !== null && entry.columns.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
    let inserted: number;
    try {
      const result = await client.query(
        `INSERT INTO ${table.quoted} (${columns})${overriding} SELECT ${columns} FROM ${STAGE} ORDER BY ${columnList(key)}
         ON CONFLICT (${columnList(key)}) DO NOTHING`,
      );
      inserted = result.rowCount ?? 0;
    } catch (error) {
      if ((error as { code?: string }).code === '42P10') {
        throw new Error(
          `${table.id} has no primary key or unique constraint on (${key.join(', ')}) in the ${options.source.label}, so ` +
            `the re-import cannot skip rows it already holds. Add one, or correct the key in plan.tables.`,
        );
      }
      throw error;
    }

    const compared = await client.query<{ present: string; conflicts: string; keys: (string | null)[][] | null }>(
      `SELECT count(*) FILTER (WHERE ${rowOf('x')} = ${rowOf('d')})::text AS present,
              count(*) FILTER (WHERE ${rowOf('x')} <> ${rowOf('d')})::text AS conflicts,
              (SELECT array_agg(k ORDER BY n) FROM (
                 SELECT ${keyArray('d')} AS k, row_number() OVER (ORDER BY ${keyColumns('d')}) AS n
                   FROM ${STAGE} d JOIN ${table.scan} x ON ${keyEquals(key)}
                  WHERE ${rowOf('x')} <> ${rowOf('d')} ORDER BY ${keyColumns('d')} LIMIT ${MAX_KEYS}) s) AS keys
         FROM ${STAGE} d JOIN ${table.scan} x ON ${keyEquals(key)}`,
    );
    const row = compared.rows[0]!;

    // Normally a no-op (export-delta reserved these ids); it matters for a delta whose reservation was
    // skipped. The lock holds the application's inserts, and so their nextval, so it only moves forward,
    // in the sequence's direction (a descending sequence goes past the smallest id); a cycling sequence
    // repeats its values by design and is left alone.
    let sequencesAdvanced = 0;
    for (const column of sequenced) {
      const moved = await client.query(
        `SELECT setval($1::regclass, m.furthest, true)
           FROM pg_sequence q,
                LATERAL (SELECT (CASE WHEN q.seqincrement > 0 THEN max(${quoteIdent(column.name)}) ELSE min(${quoteIdent(column.name)}) END)::bigint AS furthest
                           FROM ${table.scan}) m,
                LATERAL (SELECT CASE WHEN is_called THEN last_value + q.seqincrement ELSE last_value END AS next FROM ${column.sequence}) s
          WHERE q.seqrelid = $1::regclass AND NOT q.seqcycle AND m.furthest IS NOT NULL
            AND CASE WHEN q.seqincrement > 0 THEN s.next <= m.furthest ELSE s.next >= m.furthest END`,
        [column.sequence],
      );
      sequencesAdvanced += moved.rowCount ?? 0;
    }
    await client.query('COMMIT');
    options.progress?.({ label, done: entry.new.rows, total: entry.new.rows, unit: 'rows' });
    return {
      table: table.id,
      deltaRows: entry.new.rows,
      inserted,
      present: Number(row.present),
      conflicts: { count: Number(row.conflicts), keys: toKeys(row.keys ?? []) },
      heldBack,
      sequencesAdvanced,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

function keyEquals(key: readonly string[]): string {
  return key.map((k) => `x.${quoteIdent(k)} = d.${quoteIdent(k)}`).join(' AND ');
}

/** The first keys of every non-empty delta file, for the report. */
async function readSamples(dir: string, manifest: DeltaManifest): Promise<Map<string, KeySamples>> {
  const samples = new Map<string, KeySamples>();
  for (const [table, entry] of Object.entries(manifest.tables)) {
    const read = (file: { file: string; rows: number }, columns: readonly string[]) =>
      file.rows === 0 ? Promise.resolve([]) : readKeys(join(dir, file.file), columns, entry.key);
    samples.set(table, {
      new: await read(entry.new, entry.columns),
      changed: await read(entry.changed, entry.columns),
      deleted: await read(entry.deleted, entry.key),
    });
  }
  return samples;
}
