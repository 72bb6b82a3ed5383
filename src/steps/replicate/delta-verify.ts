import type pg from 'pg';
import { inTransaction, quoteIdent, quoteLiteral, withConnection, type Database } from '../../adapters/postgres.js';
import { bucketDigestQuery, differingBuckets, hashColumns, rowHash, type BucketDigest, type HashColumn } from '../compare/compare.js';
import { normalizeTableName, readTables, type TableInfo } from '../data/catalog.js';
import { META_SCHEMA } from './names.js';

/**
 * The verify of the `replicate` strategy, split so that the freeze pays only for what changed.
 *
 * Before the freeze (window.pre-verify), while the subscription streams:
 *   1. on both sides, a trigger on every plan table, `ENABLE ALWAYS` (so it fires for the target's
 *      apply worker, which runs as a replica, and for a session that sets session_replication_role),
 *      records in MARKS_TABLE the first key column of every row inserted, updated (old and new key)
 *      or deleted, and a TRUNCATE as "the whole table". Committed on both sides before step 2;
 *   2. each table is cut into key ranges (bounds sampled from the source) and both sides compute, per
 *      range, the row count and the sum of the row hash of src/steps/compare (migrate.verify's,
 *      reconcile's). Ranges whose digests differ (the target lags a little while streaming) are
 *      recorded with the bounds in VERIFIED_TABLE on the target.
 *
 * In the freeze (migrate.verify, after the drain and the detach): the count of every table and every
 * sequence are compared whole (cheap), the content of only the ranges that differed at step 2 or were
 * marked on either side since step 1, recomputed on both sides.
 *
 * Why a range R left out is equal. Its digests were equal at step 2, the source's over snapshot S,
 * the target's over snapshot T, both taken after the triggers' commit C on their side.
 *   - Every row change committed on a side after C is marked there. CREATE TRIGGER takes a lock that
 *     conflicts with every writer of the table, so a transaction that wrote the table before C ended
 *     before C; one that writes it after C opens it after C and fires the trigger (ALWAYS: the apply
 *     worker too).
 *   - So a side's unmarked R holds now what it held at its snapshot: a change after S (or T) was
 *     committed after C, hence marked.
 *   So source(R) now = source(R) at S = target(R) at T = target(R) now.
 * The target's marks alone would do for a source that only changes through replication (a source
 * change after S is applied on the target in a transaction that commits after it, so after C, and the
 * drain has applied every one before migrate.verify runs); the source's marks keep the proof whole
 * when a change does not replicate (a table left out of the publication for a moment, a skipped
 * transaction): its range is compared again and the difference found.
 */

/** Key marks on either side: one row per changed row (first key column as text), or `whole` for a TRUNCATE. */
export const MARKS_TABLE = `${META_SCHEMA}.verify_marks`;
/** What the verify before the freeze found, per run and table (bounds of the ranges, ranges that differed). */
export const VERIFIED_TABLE = `${META_SCHEMA}.verified_before`;
const MARK_FUNCTION = `${META_SCHEMA}.verify_mark`;
const ROW_TRIGGER = 'cutover_verify_mark';
const TRUNCATE_TRIGGER = 'cutover_verify_mark_truncate';

/** About this many rows per key range: what the freeze rescans for each range a write touched. */
const ROWS_PER_RANGE = 4_096;
const MAX_RANGES = 4_096;
/** Rows sampled (TABLESAMPLE SYSTEM) to place the range bounds. */
const SAMPLE_ROWS = 200_000;

export interface PreVerifiedTable {
  table: string;
  /** First key column, and its type: ranges are over it (a composite key's rows share their first column's range). */
  keyColumn: string;
  keyType: string;
  /** Ascending bounds (PostgreSQL text): range i holds keys in [bounds[i-1], bounds[i]), range -1 a NULL key. */
  bounds: string[];
  rows: number;
  /** The columns hashed and their types on both sides (columnsSignature): a change since means comparing whole. */
  columns: string;
  /** Ranges whose digests differed between the sides before the freeze. */
  differing: number[];
  durationMs: number;
}

export interface PreVerifyResult {
  tables: PreVerifiedTable[];
  durationMs: number;
}

interface Spec {
  name: string;
  key: readonly string[];
}

/** window.pre-verify: start marking, then compare every table by key range, recording the result on the target. */
export async function preVerify(options: { source: Database; target: Database; runId: string; tables: readonly Spec[] }): Promise<PreVerifyResult> {
  const started = Date.now();
  const source = await options.source.connect();
  try {
    const target = await options.target.connect();
    try {
      const ids = options.tables.map((t) => normalizeTableName(t.name));
      const sourceTables = await readTables(source, ids, options.source.label);
      const targetTables = new Map((await readTables(target, ids, options.target.label)).map((t) => [t.id, t]));
      const keyOf = new Map(options.tables.map((t) => [normalizeTableName(t.name), t.key]));
      // Step 1, committed on both sides before any digest is taken (see the argument above).
      await startMarking(source, sourceTables.map((t) => ({ table: t, keyColumn: keyOf.get(t.id)![0]! })));
      await startMarking(target, targetTables.size === sourceTables.length ? sourceTables.map((t) => ({ table: targetTables.get(t.id)!, keyColumn: keyOf.get(t.id)![0]! })) : missingOnTarget(sourceTables, targetTables));
      await ensureVerifiedTable(target);
      await target.query(`DELETE FROM ${VERIFIED_TABLE} WHERE run_id = $1`, [options.runId]);
      const results: PreVerifiedTable[] = [];
      for (const sourceTable of sourceTables) {
        const tableStarted = Date.now();
        const targetTable = targetTables.get(sourceTable.id)!;
        const keyColumn = keyOf.get(sourceTable.id)![0]!;
        const keyType = sourceTable.columns.find((c) => c.name === keyColumn)?.type;
        if (!keyType) throw new Error(`${sourceTable.id} has no column ${keyColumn} (its first key column in the plan).`);
        const hashed = hashColumns(sourceTable.copyColumns, sourceTable.columns, targetTable.columns);
        // Counted, not estimated: a table filled by the initial copy may not have been analyzed yet.
        const rows = Number((await source.query<{ n: string }>(`SELECT count(*) AS n FROM ${sourceTable.scan}`)).rows[0]!.n);
        const bounds = await sampleBounds(source, sourceTable, keyColumn, rows);
        const ranges = { keyColumn, keyType, bounds };
        const [s, t] = await Promise.all([
          source.query<BucketDigest>(bucketDigestQuery(sourceTable.scan, hashed, [], 'true', rangeOf(ranges))),
          target.query<BucketDigest>(bucketDigestQuery(targetTable.scan, hashed, [], 'true', rangeOf(ranges))),
        ]);
        const result: PreVerifiedTable = {
          table: sourceTable.id,
          ...ranges,
          columns: columnsSignature(sourceTable, targetTable),
          rows: s.rows.reduce((sum, b) => sum + b.n, 0),
          differing: differingBuckets(s.rows, t.rows),
          durationMs: Date.now() - tableStarted,
        };
        await target.query(
          `INSERT INTO ${VERIFIED_TABLE} (run_id, table_name, key_column, key_type, bounds, columns, rows, differing)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [options.runId, result.table, keyColumn, keyType, bounds, result.columns, result.rows, result.differing],
        );
        results.push(result);
      }
      return { tables: results, durationMs: Date.now() - started };
    } finally {
      await target.end().catch(() => {});
    }
  } finally {
    await source.end().catch(() => {});
  }
}

/** Bounds at quantiles of a sample of the key column: ranges of about ROWS_PER_RANGE rows, in the key's order. */
async function sampleBounds(source: pg.Client, table: TableInfo, keyColumn: string, rows: number): Promise<string[]> {
  const ranges = Math.min(MAX_RANGES, Math.ceil(rows / ROWS_PER_RANGE));
  if (ranges <= 1) return [];
  const fractions = Array.from({ length: ranges - 1 }, (_, i) => (i + 1) / ranges);
  const percent = Math.min(100, (100 * SAMPLE_ROWS) / rows);
  const sample = table.kind === 'r' && percent < 100 ? ` TABLESAMPLE SYSTEM (${percent.toFixed(4)})` : '';
  const { rows: found } = await source.query<{ bounds: string[] | null }>(
    `SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY t.${quoteIdent(keyColumn)})::text[] AS bounds
       FROM ${table.scan} t${sample} WHERE t.${quoteIdent(keyColumn)} IS NOT NULL`,
    [fractions],
  );
  // Equal neighbours (many rows under one key value) would make empty ranges: keep each bound once.
  return (found[0]?.bounds ?? []).filter((b, i, all) => i === 0 || b !== all[i - 1]);
}

interface Ranges {
  keyColumn: string;
  keyType: string;
  bounds: readonly string[];
}

const boundsLiteral = (r: Ranges) => `${quoteLiteral(`{${r.bounds.map((b) => `"${b.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`)}::${r.keyType}[]`;

/** The range of a row (alias `t`): -1 for a NULL key, else 0…bounds.length (width_bucket's numbering). */
function rangeOf(r: Ranges, value = `t.${quoteIdent(r.keyColumn)}`): string {
  if (r.bounds.length === 0) return `(CASE WHEN ${value} IS NULL THEN -1 ELSE 0 END)`;
  return `coalesce(width_bucket(${value}, ${boundsLiteral(r)}), -1)`;
}

/** A condition selecting exactly the rows of `ranges` (adjacent ranges merged), usable by an index on the key. */
function rangesCondition(r: Ranges, ranges: readonly number[]): string {
  const k = `t.${quoteIdent(r.keyColumn)}`;
  const bound = (i: number) => `${quoteLiteral(r.bounds[i - 1]!)}::${r.keyType}`;
  const parts: string[] = [];
  if (ranges.includes(-1)) parts.push(`${k} IS NULL`);
  const sorted = [...new Set(ranges.filter((i) => i >= 0))].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    const from = sorted[i]!;
    const to = sorted[j]!;
    const lower = from === 0 ? `${k} IS NOT NULL` : `${k} >= ${bound(from)}`;
    const upper = to >= r.bounds.length ? 'true' : `${k} < ${bound(to + 1)}`;
    parts.push(`(${lower} AND ${upper})`);
    i = j + 1;
  }
  return parts.length ? parts.join(' OR ') : 'false';
}

function missingOnTarget(sourceTables: readonly TableInfo[], targetTables: ReadonlyMap<string, TableInfo>): never {
  const missing = sourceTables.filter((t) => !targetTables.has(t.id)).map((t) => t.id);
  throw Object.assign(new Error(`The target has no ${missing.join(', ')}: run cutover retry prep.replicate, which creates and copies every plan table.`), { retryable: false });
}

async function ensureVerifiedTable(target: pg.Client): Promise<void> {
  await target.query(
    `CREATE TABLE IF NOT EXISTS ${VERIFIED_TABLE} (
       run_id text NOT NULL, table_name text NOT NULL, key_column text NOT NULL, key_type text NOT NULL,
       bounds text[] NOT NULL, columns text NOT NULL, rows bigint NOT NULL, differing int[] NOT NULL, verified_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (run_id, table_name))`,
  );
}

/** Step 1 on one side: the mark table, the trigger function and the triggers, old marks cleared; one transaction. */
async function startMarking(client: pg.Client, tables: readonly { table: TableInfo; keyColumn: string }[]): Promise<void> {
  const target = client;
  await inTransaction(target, async () => {
    await target.query(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
    await target.query(`CREATE TABLE IF NOT EXISTS ${MARKS_TABLE} (table_name text NOT NULL, key text, whole boolean NOT NULL DEFAULT false)`);
    // SECURITY DEFINER: an app role writing to the target directly is marked too, without rights on cutover_meta.
    await target.query(
      `CREATE OR REPLACE FUNCTION ${MARK_FUNCTION}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
       BEGIN
         IF TG_LEVEL = 'STATEMENT' THEN
           INSERT INTO ${MARKS_TABLE} (table_name, whole) VALUES (TG_ARGV[0], true);
           RETURN NULL;
         END IF;
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           INSERT INTO ${MARKS_TABLE} (table_name, key) VALUES (TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1]);
         END IF;
         IF TG_OP IN ('UPDATE', 'INSERT') THEN
           INSERT INTO ${MARKS_TABLE} (table_name, key) VALUES (TG_ARGV[0], to_jsonb(NEW) ->> TG_ARGV[1]);
         END IF;
         RETURN NULL;
       END $f$`,
    );
    for (const { table, keyColumn } of tables) {
      const args = `${quoteLiteral(table.id)}, ${quoteLiteral(keyColumn)}`;
      await target.query(`DROP TRIGGER IF EXISTS ${ROW_TRIGGER} ON ${table.quoted}`);
      await target.query(`DROP TRIGGER IF EXISTS ${TRUNCATE_TRIGGER} ON ${table.quoted}`);
      await target.query(`CREATE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${table.quoted} FOR EACH ROW EXECUTE FUNCTION ${MARK_FUNCTION}(${args})`);
      await target.query(`CREATE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${table.quoted} FOR EACH STATEMENT EXECUTE FUNCTION ${MARK_FUNCTION}(${args})`);
      await target.query(`ALTER TABLE ${table.quoted} ENABLE ALWAYS TRIGGER ${ROW_TRIGGER}`);
      await target.query(`ALTER TABLE ${table.quoted} ENABLE ALWAYS TRIGGER ${TRUNCATE_TRIGGER}`);
    }
    // A pre-verify run again starts over: its ranges are compared afresh after this commit.
    await target.query(`DELETE FROM ${MARKS_TABLE}`);
  });
}

/** What the freeze recomputes of one table: the ranges to compare again, or the whole table. */
export interface DeltaScope extends Ranges {
  table: string;
  ranges: number;
  /** Ranges that differed before the freeze. */
  differing: number[];
  /** Ranges a write touched since the marking began. */
  touched: number[];
  /** A TRUNCATE was marked: the table is compared whole. */
  whole: boolean;
  /** columnsSignature at the pre-verify. */
  columns: string;
  verifiedAt: string;
}

/**
 * In the freeze: what the pre-verify recorded and what either side marked since, then the marking
 * ended on both sides (triggers, marks and records dropped: the target is about to become the
 * primary, and a verify run again compares everything). Tables without a record are compared whole.
 */
export async function takeDeltaScopes(source: Database, target: Database, runId: string): Promise<Map<string, DeltaScope>> {
  return withConnection(source, (src) =>
    withConnection(target, async (tgt) => {
      const scopes = new Map<string, DeltaScope>();
      const marked = async (client: pg.Client) =>
        Boolean((await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [MARKS_TABLE])).rows[0]?.present);
      const recordedHere = Boolean((await tgt.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [VERIFIED_TABLE])).rows[0]?.present);
      if (recordedHere && (await marked(src)) && (await marked(tgt))) {
        await inTransaction(src, () =>
          inTransaction(tgt, async () => {
            // No trigger writes a mark while they are read: the marks read are all there are.
            await src.query(`LOCK TABLE ${MARKS_TABLE} IN EXCLUSIVE MODE`);
            await tgt.query(`LOCK TABLE ${MARKS_TABLE} IN EXCLUSIVE MODE`);
            const recorded = await tgt.query<{ table_name: string; key_column: string; key_type: string; bounds: string[]; columns: string; differing: number[]; verified_at: Date }>(
              `SELECT table_name, key_column, key_type, bounds, columns, differing, verified_at FROM ${VERIFIED_TABLE} WHERE run_id = $1`,
              [runId],
            );
            for (const r of recorded.rows) {
              const ranges: Ranges = { keyColumn: r.key_column, keyType: r.key_type, bounds: r.bounds };
              const touched = new Set<number>();
              let whole = false;
              for (const client of [src, tgt]) {
                const marks = await client.query<{ range: number | null; whole: boolean }>(
                  `SELECT DISTINCT CASE WHEN whole THEN NULL ELSE ${rangeOf(ranges, `key::${r.key_type}`)} END AS range, whole
                     FROM ${MARKS_TABLE} WHERE table_name = $1`,
                  [r.table_name],
                );
                for (const m of marks.rows) {
                  if (m.whole) whole = true;
                  else touched.add(m.range!);
                }
              }
              scopes.set(r.table_name, {
                table: r.table_name,
                ...ranges,
                ranges: r.bounds.length + 1,
                differing: r.differing,
                touched: [...touched].sort((a, b) => a - b),
                whole,
                columns: r.columns,
                verifiedAt: r.verified_at.toISOString(),
              });
            }
          }),
        );
      }
      await stopMarking(src);
      await stopMarking(tgt);
      return scopes;
    }),
  );
}

/** On one side, triggers, function, marks and records gone (idempotent): after the verify, and at abort, rollback and close. */
export async function stopMarking(target: pg.Client): Promise<boolean> {
  const { rows } = await target.query<{ quoted: string }>(
    `SELECT DISTINCT format('%I.%I', n.nspname, c.relname) AS quoted
       FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname IN ($1, $2)`,
    [ROW_TRIGGER, TRUNCATE_TRIGGER],
  );
  for (const { quoted } of rows) {
    await target.query(`DROP TRIGGER IF EXISTS ${ROW_TRIGGER} ON ${quoted}`);
    await target.query(`DROP TRIGGER IF EXISTS ${TRUNCATE_TRIGGER} ON ${quoted}`);
  }
  await target.query(`DROP FUNCTION IF EXISTS ${MARK_FUNCTION}()`);
  await target.query(`DROP TABLE IF EXISTS ${MARKS_TABLE}`);
  await target.query(`DROP TABLE IF EXISTS ${VERIFIED_TABLE}`);
  // The schema goes with its last table (on the source, nothing else of ours is left by then).
  await target.query(`DROP SCHEMA IF EXISTS ${META_SCHEMA}`).catch(() => {});
  return rows.length > 0;
}

/**
 * The columns hashed with their types on both sides. A column's type changed on the target (a rewrite,
 * which fires no row trigger) changes it, and the table is then compared whole.
 */
export function columnsSignature(source: Pick<TableInfo, 'copyColumns' | 'columns'>, target: Pick<TableInfo, 'columns'>): string {
  const type = (t: Pick<TableInfo, 'columns'>, name: string) => t.columns.find((c) => c.name === name)?.type ?? '?';
  return source.copyColumns.map((c) => `${c} ${type(source, c)}/${type(target, c)}`).join(', ');
}

/** The ranges to recompute in the freeze. */
export function rangesToRecheck(scope: DeltaScope): number[] {
  return [...new Set([...scope.differing, ...scope.touched])].sort((a, b) => a - b);
}

/**
 * One side's digest for verify in the freeze: the count of the whole table, and count and row hash
 * sum of the rows in the ranges to recheck (through the key's index).
 */
export async function deltaDigest(
  client: pg.Client,
  table: Pick<TableInfo, 'scan'>,
  columns: readonly HashColumn[],
  scope: DeltaScope,
): Promise<{ rows: number; rechecked: number; hash: string }> {
  // The hash covers the rechecked ranges only; the ranges left out were proven equal before the freeze.
  const condition = rangesCondition(scope, rangesToRecheck(scope));
  const { rows } = await client.query<{ total: string; rechecked: string; hash: string }>(
    `SELECT (SELECT count(*) FROM ${table.scan})::text AS total, r.rows AS rechecked, r.hash
       FROM (SELECT count(*)::text AS rows, coalesce(sum(${rowHash(columns)}), 0)::text AS hash FROM ${table.scan} t WHERE ${condition}) r`,
  );
  return { rows: Number(rows[0]!.total), rechecked: Number(rows[0]!.rechecked), hash: rows[0]!.hash };
}
