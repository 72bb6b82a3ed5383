import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction, quoteIdent, quoteLiteral, type Database } from '../../adapters/postgres.js';
import type { Progress } from '../types.js';
import { columnList, readTables, type IndexStatistics, type TableInfo } from './catalog.js';
import { CopyMeter } from './export.js';
import { requireManifest, type TableEntry } from './manifest.js';
import { readSchemaSnapshot, SCHEMA_BEFORE_TABLE } from './schema-snapshot.js';
import { positionTargetSequences, type PositionedSequence } from './sequences.js';

/**
 * Load: each table in its own transaction, parents first:
 *
 *   BEGIN; SET LOCAL session_replication_role = replica; DISABLE each enabled user trigger;
 *   TRUNCATE (or DELETE, see below); [DROP secondary indexes]; COPY ... FROM STDIN;
 *   [CREATE the indexes again, with their comments and statistics targets]; restore the triggers' states; ANALYZE;
 *   INSERT INTO cutover_meta.loaded ...; COMMIT
 *
 * then, once every table is in, each sequence the tables use is set to the source's position (see
 * sequences.ts).
 *
 * Emptying and filling in one transaction is what makes a re-run safe: a crash mid-table rolls the
 * whole table back, and a repeated load replaces rows instead of adding them.
 *
 * Progress is recorded in the target itself (`cutover_meta.loaded`), written in the same transaction
 * as the rows: it can never claim a load that rolled back, and it is read back cheaply on resume.
 * Comparing content hashes instead would cost a full scan of both databases per table at every
 * resume. A table is skipped only when its record names the same export file checksum and its
 * current row count still matches. The schema can be dropped once the cutover is closed.
 */

export const META_SCHEMA = 'cutover_meta';

/**
 * From this many rows on, indexes are dropped before COPY and rebuilt after: one sorted bulk build is
 * several times faster than inserting millions of keys one by one into a B-tree (bench/data-path.ts:
 * 5M readings load in about a third of the time pg_restore takes with the indexes in place), while
 * for small tables the difference is milliseconds and not worth the extra DDL. Secondary indexes are
 * rebuilt from `pg_get_indexdef`; primary key, unique and exclusion constraints from
 * `pg_get_constraintdef`, but only when no foreign key depends on them (dropping would need CASCADE).
 */
export const REBUILD_INDEXES_ABOVE_ROWS = 100_000;

/** Memory for the index rebuild (per transaction, on the target server). */
const INDEX_BUILD_MEMORY = '256MB';

const PROGRESS_INTERVAL_MS = 100;

export interface LoadOptions {
  target: Database;
  /** The export folder holding manifest.json. */
  dir: string;
  runId: string;
  /** `schema.table` names; defaults to every table in the manifest. */
  tables?: readonly string[];
  rebuildIndexesAboveRows?: number;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}

export interface TableLoadResult {
  table: string;
  rows: number;
  durationMs: number;
  skipped: boolean;
  /** How the table was emptied first. */
  emptiedWith?: 'truncate' | 'delete';
  indexesRebuilt: number;
}

export interface LoadSummary {
  tables: TableLoadResult[];
  rows: number;
  durationMs: number;
  /** Target columns that the export does not carry (they get their defaults). */
  warnings: string[];
  /** Every sequence the loaded tables use, where it now stands on the target. */
  sequences: PositionedSequence[];
}

export async function loadTables(options: LoadOptions): Promise<LoadSummary> {
  const started = Date.now();
  const manifest = await requireManifest(options.dir);
  if (manifest.runId !== options.runId) {
    throw new Error(`${options.dir} holds the export of run ${manifest.runId}, not ${options.runId}.`);
  }
  const names = options.tables ?? Object.keys(manifest.tables);
  const notExported = names.filter((name) => !manifest.tables[name]);
  if (notExported.length > 0) {
    throw new Error(`The export is incomplete: ${notExported.join(', ')} not exported yet. Finish export.tables first.`);
  }
  const threshold = options.rebuildIndexesAboveRows ?? REBUILD_INDEXES_ABOVE_ROWS;
  const client = await options.target.connect();
  try {
    await ensureMetaTable(client);
    const tables = await readTables(client, names, options.target.label);
    const warnings = checkColumns(tables, manifest.tables, options.target.label);
    const total = tables.reduce((sum, t) => sum + manifest.tables[t.id]!.rows, 0);
    let done = 0;
    let lastReport = 0;
    const report = (label: string, force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      options.progress?.({ label, done, total, unit: 'rows' });
    };

    const results: TableLoadResult[] = [];
    for (const table of tables) {
      options.signal?.throwIfAborted();
      const entry = manifest.tables[table.id]!;
      const tableStarted = Date.now();
      if (await isLoaded(client, options.runId, table, entry)) {
        done += entry.rows;
        results.push({ table: table.id, rows: entry.rows, durationMs: 0, skipped: true, indexesRebuilt: 0 });
        report(`load ${table.id}`, true);
        continue;
      }
      await recordSchemaBefore(client, options.runId, table);
      const doneBefore = done;
      const result = await loadOneTable(client, options, table, entry, threshold, (rows) => {
        done += rows;
        report(`load ${table.id}`);
      });
      done = doneBefore + entry.rows;
      results.push({ ...result, durationMs: Date.now() - tableStarted });
      report(`load ${table.id}`, true);
    }
    // After every table, and again on every resume (setval is idempotent): a shared sequence must
    // go past all of its tables, which a per-table step could move back and forth.
    if (!manifest.sequences) {
      throw new Error(`${options.dir} was exported by an older cutover without sequence positions: run export.tables again.`);
    }
    const loadedIds = new Set(tables.map((t) => t.id));
    const sequences = await inTransaction(client, () =>
      positionTargetSequences(client, manifest.sequences!.filter((s) => s.uses.some((u) => loadedIds.has(u.table)))),
    );
    return {
      tables: results,
      rows: results.reduce((sum, r) => sum + r.rows, 0),
      durationMs: Date.now() - started,
      warnings,
      sequences,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The tables a run filled, in `cutover_meta.loaded`: what a resumed load skips, and what the rollback's
 * delta export compares (rollback/loaded-tables.ts). Strategy replicate records its tables here too.
 */
export async function recordLoaded(client: pg.Client, runId: string, tables: readonly { table: string; rows: number; sha256: string }[]): Promise<void> {
  await client.query(
    `INSERT INTO ${META_SCHEMA}.loaded (run_id, table_name, rows, sha256)
     SELECT $1, t, r, s FROM unnest($2::text[], $3::bigint[], $4::text[]) AS x(t, r, s)
     ON CONFLICT (run_id, table_name) DO UPDATE SET rows = EXCLUDED.rows, sha256 = EXCLUDED.sha256, loaded_at = now()`,
    [runId, tables.map((t) => t.table), tables.map((t) => t.rows), tables.map((t) => t.sha256)],
  );
}

export async function ensureMetaTable(client: pg.Client): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.loaded (
       run_id text NOT NULL,
       table_name text NOT NULL,
       rows bigint NOT NULL,
       sha256 text NOT NULL,
       loaded_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (run_id, table_name))`,
  );
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${SCHEMA_BEFORE_TABLE} (
       run_id text NOT NULL,
       table_name text NOT NULL,
       lines text[] NOT NULL,
       taken_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (run_id, table_name))`,
  );
}

/**
 * The table's schema as it is before its first load attempt (schema-snapshot.ts), kept for
 * migrate.verify. A later attempt keeps the first record: a failed attempt rolled back, so the
 * schema it would record is the same, and a changed one must not become the new reference.
 */
/**
 * For a path that fills the tables another way (strategy replicate's initial copy): the tables'
 * schema before anything is set aside or copied, so migrate.verify compares against it as after a load.
 */
export async function recordSchemaBeforeFill(client: pg.Client, runId: string, ids: readonly string[]): Promise<void> {
  await ensureMetaTable(client);
  for (const id of ids) await recordSchemaBefore(client, runId, { id });
}

async function recordSchemaBefore(client: pg.Client, runId: string, table: Pick<TableInfo, 'id'>): Promise<void> {
  const lines = await readSchemaSnapshot(client, [table.id]);
  await client.query(
    `INSERT INTO ${SCHEMA_BEFORE_TABLE} (run_id, table_name, lines) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [runId, table.id, lines],
  );
}

/** What DROP INDEX / DROP CONSTRAINT lose and a definition does not carry: the comment and statistics targets. */
async function restoreIndexDetails(client: pg.Client, index: string, comment: string | null, statistics: readonly IndexStatistics[]): Promise<void> {
  if (comment !== null) await client.query(`COMMENT ON INDEX ${index} IS ${quoteLiteral(comment)}`);
  for (const s of statistics) await client.query(`ALTER INDEX ${index} ALTER COLUMN ${s.column} SET STATISTICS ${s.target}`);
}

interface TriggerState {
  /** Quoted, schema-qualified table or partition. */
  relation: string;
  name: string;
  /** pg_trigger.tgenabled: O (origin), A (always), R (replica), D (disabled). */
  enabled: 'O' | 'A' | 'R' | 'D';
}

/**
 * Disable every enabled user trigger of the table and of its partitions, inside the load's
 * transaction. session_replication_role = replica silences ordinary triggers only: an ENABLE ALWAYS
 * trigger fires anyway, and an ENABLE REPLICA one fires *because* of it. Foreign key triggers are
 * internal and stay silenced by the replica role. Returns the states to restore before COMMIT (a
 * rollback restores them by itself).
 */
async function silenceTriggers(client: pg.Client, table: TableInfo): Promise<TriggerState[]> {
  const result = await client.query<TriggerState>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS relation, g.tgname AS name, g.tgenabled AS enabled
       FROM pg_trigger g
       JOIN pg_class c ON c.oid = g.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT g.tgisinternal AND g.tgenabled <> 'D'
        AND (g.tgrelid = $1::oid OR g.tgrelid IN (SELECT relid FROM pg_partition_tree($1::oid) WHERE relid <> $1::oid))
      ORDER BY c.relispartition, 1, 2`,
    [table.oid],
  );
  for (const t of result.rows) await client.query(`ALTER TABLE ${t.relation} DISABLE TRIGGER ${quoteIdent(t.name)}`);
  return result.rows;
}

/** Back to the recorded states; the table's own triggers before its partitions' (ALTER on a parent recurses). */
async function restoreTriggers(client: pg.Client, triggers: readonly TriggerState[]): Promise<void> {
  const how = { O: 'ENABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA', D: 'DISABLE' } as const;
  for (const t of triggers) await client.query(`ALTER TABLE ${t.relation} ${how[t.enabled]} TRIGGER ${quoteIdent(t.name)}`);
}

/** The export's columns must all exist on the target (and not be generated there). */
function checkColumns(tables: TableInfo[], entries: Record<string, TableEntry>, label: string): string[] {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const table of tables) {
    const entry = entries[table.id]!;
    const missing = entry.columns.filter((name) => !table.copyColumns.includes(name));
    if (missing.length > 0) problems.push(`${table.id}: ${missing.join(', ')}`);
    const extra = table.copyColumns.filter((name) => !entry.columns.includes(name));
    if (extra.length > 0) warnings.push(`${table.id} has columns the source does not (${extra.join(', ')}); they get their defaults`);
  }
  if (problems.length > 0) {
    throw new Error(
      `The ${label} lacks columns that the export carries (or has them as generated columns): ` +
        `${problems.join('; ')}. Apply the application's schema to the target, then run migrate.load again.`,
    );
  }
  return warnings;
}

async function isLoaded(client: pg.Client, runId: string, table: TableInfo, entry: TableEntry): Promise<boolean> {
  const recorded = await client.query<{ sha256: string; rows: string }>(
    `SELECT sha256, rows::text AS rows FROM ${META_SCHEMA}.loaded WHERE run_id = $1 AND table_name = $2`,
    [runId, table.id],
  );
  const row = recorded.rows[0];
  if (!row || row.sha256 !== entry.sha256 || Number(row.rows) !== entry.rows) return false;
  const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.scan}`);
  return Number(count.rows[0]!.n) === entry.rows;
}

async function loadOneTable(
  client: pg.Client,
  options: LoadOptions,
  table: TableInfo,
  entry: TableEntry,
  threshold: number,
  onRows: (rows: number) => void,
): Promise<Omit<TableLoadResult, 'durationMs'>> {
  await client.query('BEGIN');
  try {
    try {
      // Triggers (including the foreign key triggers) stay silent, as in pg_restore --disable-triggers:
      // parents and children arrive in separate transactions, and cycles cannot be ordered at all.
      // Orphans are looked for afterwards by migrate.verify.
      await client.query('SET LOCAL session_replication_role = replica');
    } catch (error) {
      throw new Error(
        `migrate.load needs a superuser connection to the ${options.target.label} (to set ` +
          `session_replication_role, which turns off triggers and foreign key checks during the load): ` +
          `${(error as Error).message}`,
      );
    }
    await client.query(`SET LOCAL maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`);
    const triggers = await silenceTriggers(client, table);
    // TRUNCATE is refused on a table that other tables reference, even when they are empty; DELETE
    // is not (its foreign key triggers are silenced above) and costs nothing on an empty table,
    // which is the usual case: a first load, or a retry after a crash rolled the table back.
    const emptiedWith = table.referencedByOthers ? 'delete' : 'truncate';
    await client.query(emptiedWith === 'truncate' ? `TRUNCATE ${table.scan}` : `DELETE FROM ${table.scan}`);
    const large = entry.rows >= threshold;
    const rebuild = large ? table.secondaryIndexes : [];
    const constraints = large ? table.rebuildableConstraints : [];
    for (const index of rebuild) await client.query(`DROP INDEX ${index.name}`);
    for (const constraint of constraints) await client.query(`ALTER TABLE ${table.quoted} DROP CONSTRAINT ${constraint.name}`);

    // FREEZE writes the rows already frozen (no later anti-wraparound rewrite of the whole table);
    // PostgreSQL allows it only right after a TRUNCATE in the same transaction, on a plain table.
    const freeze = emptiedWith === 'truncate' && table.kind === 'r' ? ' WITH (FREEZE)' : '';
    const sink = client.query(copyFrom(`COPY ${table.quoted} (${columnList(entry.columns)}) FROM STDIN${freeze}`));
    const meter = new CopyMeter(onRows);
    await pipeline(createReadStream(join(options.dir, entry.file), { highWaterMark: 1 << 20 }), meter, sink, {
      signal: options.signal,
    });
    const sha256 = meter.digest();
    if (sha256 !== entry.sha256 || meter.lines !== entry.rows) {
      throw new Error(
        `${entry.file} does not match the manifest (checksum or row count differs): it changed after the ` +
          `export. Run export.verify, and export the table again if the file is damaged.`,
      );
    }

    // Constraints first: a unique violation (impossible for an exact copy) fails the table early.
    for (const constraint of constraints) {
      await client.query(`ALTER TABLE ${table.quoted} ADD CONSTRAINT ${constraint.name} ${constraint.definition}`);
    }
    for (const constraint of constraints) {
      if (constraint.comment !== null) {
        await client.query(`COMMENT ON CONSTRAINT ${constraint.name} ON ${table.quoted} IS ${quoteLiteral(constraint.comment)}`);
      }
      await restoreIndexDetails(client, constraint.index, constraint.indexComment, constraint.indexStatistics);
    }
    for (const index of rebuild) {
      await client.query(index.definition);
      await restoreIndexDetails(client, index.name, index.comment, index.statistics);
    }
    await restoreTriggers(client, triggers);
    // Fresh planner statistics, so the application's first queries on the new database get good plans.
    await client.query(`ANALYZE ${table.quoted}`);
    await recordLoaded(client, options.runId, [{ table: table.id, rows: entry.rows, sha256: entry.sha256 }]);
    await client.query('COMMIT');
    return {
      table: table.id,
      rows: entry.rows,
      skipped: false,
      emptiedWith,
      indexesRebuilt: rebuild.length + constraints.length,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
