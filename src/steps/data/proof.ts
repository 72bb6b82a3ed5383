import { DateTime } from 'luxon';
import type pg from 'pg';
import { planDatabase, withConnection, type Database } from '../../adapters/postgres.js';
import { output } from '../outputs.js';
import type { StepAction, StepContext, StepResult } from '../types.js';
import { normalizeTableName, readTables, type TableInfo } from './catalog.js';
import type { CutoverPoint } from './manifest.js';
import { verifyTables, type Difference } from './verify.js';

/**
 * Proof over the whole freeze (DESIGN §3): the plan tables' write counters (pg_stat_user_tables
 * n_tup_ins / n_tup_upd / n_tup_del) and the WAL position are recorded at freeze.snapshot, and
 * compared at the end of the export, at migrate.verify and right before dns.switch. A quiet minute
 * proves nothing about the hour after it; counters that have not moved since the cutover point do.
 *
 * What counters can and cannot say: they count every row a statement touched, committed or rolled
 * back (a write refused by the freeze's guard trigger touches none), and are not transactional: each
 * backend sends its own when a transaction ends, at most once a second, else within about ten seconds
 * of going idle (PostgreSQL 15+). We flush our own backend's and drop our cached snapshot before
 * every reading (pg_stat_force_next_flush, pg_stat_clear_snapshot), and the snapshot step reads the
 * counters on both sides of the cutover point so that a write in flight then is caught at once; each
 * comparison also counts the rows exactly (transactional, no lag) against the point's counts. The
 * WAL position is reported beside them: it also moves for vacuum, checkpoints and hint bits, so it is
 * evidence to read, not a verdict.
 */

export interface WriteCounters {
  inserts: number;
  updates: number;
  deletes: number;
}

export interface TableWrites extends WriteCounters {
  table: string;
  /** Exact row counts at the cutover point and now, when they differ (counts are transactional, counters lag). */
  rows?: { then: number; now: number };
}

/** Write counters of `tables`, fresh (see above). */
export async function readWriteCounters(client: pg.Client, tables: readonly TableInfo[]): Promise<Map<string, WriteCounters>> {
  await client.query('SELECT pg_stat_force_next_flush(), pg_stat_clear_snapshot()');
  const result = await client.query<{ oid: number; ins: string; upd: string; del: string }>(
    `SELECT c.oid::int AS oid,
            coalesce(s.n_tup_ins, 0) AS ins, coalesce(s.n_tup_upd, 0) AS upd, coalesce(s.n_tup_del, 0) AS del
       FROM unnest($1::oid[]) c(oid) LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid`,
    [tables.map((t) => t.oid)],
  );
  return new Map(
    tables.map((t) => {
      const row = result.rows.find((r) => r.oid === t.oid);
      return [t.id, { inserts: Number(row?.ins ?? 0), updates: Number(row?.upd ?? 0), deletes: Number(row?.del ?? 0) }];
    }),
  );
}

/** Tables whose counters in `after` differ from `before`, with the differences. */
export function writesBetween(before: Readonly<Record<string, WriteCounters>>, after: ReadonlyMap<string, WriteCounters>): TableWrites[] {
  const writes: TableWrites[] = [];
  for (const [table, a] of after) {
    const b = before[table];
    if (!b) continue;
    const delta = { table, inserts: a.inserts - b.inserts, updates: a.updates - b.updates, deletes: a.deletes - b.deletes };
    if (delta.inserts || delta.updates || delta.deletes) writes.push(delta);
  }
  return writes;
}

export function describeWrites(writes: readonly TableWrites[]): string {
  return writes
    .map((w) => `${w.table} (+${w.inserts} inserted, +${w.updates} updated, +${w.deletes} deleted${w.rows ? `; ${w.rows.then} rows at the cutover point, ${w.rows.now} now` : ''})`)
    .join('; ');
}

export interface ProofReading {
  /** Tables written since the cutover point (empty: none). */
  writes: TableWrites[];
  lsn: string;
  /** WAL bytes since the cutover point's position. */
  walBytes: number;
}

/** The counters and WAL position now, against the cutover point's. */
export async function readProof(source: Database, point: CutoverPoint & { counters: Record<string, WriteCounters> }): Promise<ProofReading> {
  return withConnection(source, async (client) => {
    const tables = await readTables(client, Object.keys(point.counters), source.label);
    const now = await readWriteCounters(client, tables);
    const writes = writesBetween(point.counters, now);
    // Exact counts too: they see a committed insert or delete at once, where a backend's counters can
    // take up to ten seconds to arrive.
    for (const table of tables) {
      const then = point.counts[table.id];
      if (then === undefined) continue;
      const rows = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.scan}`)).rows[0]!.n);
      if (rows === then) continue;
      const found = writes.find((w) => w.table === table.id);
      if (found) found.rows = { then, now: rows };
      else writes.push({ table: table.id, inserts: 0, updates: 0, deletes: 0, rows: { then, now: rows } });
    }
    const wal = (
      await client.query<{ lsn: string; bytes: string }>(
        'SELECT pg_current_wal_lsn()::text AS lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS bytes',
        [point.lsn],
      )
    ).rows[0]!;
    return { writes, lsn: wal.lsn, walBytes: Number(wal.bytes) };
  });
}

type ProvenPoint = CutoverPoint & { counters: Record<string, WriteCounters>; clockAt?: string };

/** freeze.snapshot's output when it recorded counters (runs from before this proof have none). */
export function provenPoint(ctx: Pick<StepContext, 'outputs'>): ProvenPoint | null {
  const point: ProvenPoint | undefined = output(ctx.outputs, 'freeze.snapshot');
  return point?.counters ? point : null;
}

/** `HH:MM` in the plan's zone. */
export function clockTime(ctx: Pick<StepContext, 'plan'>, ms: number): string {
  return DateTime.fromMillis(ms, { zone: ctx.plan.t0.zone }).toFormat('HH:mm ZZ');
}

/** "0 writes between 22:10 and 00:05 -05:00" (the plan's zone): from the cutover point (engine clock) to now. */
export function quietSentence(ctx: Pick<StepContext, 'plan' | 'clock'>, point: ProvenPoint): string {
  const from = Date.parse(point.clockAt ?? point.at);
  const start = DateTime.fromMillis(from, { zone: ctx.plan.t0.zone }).toFormat('HH:mm');
  return `0 writes between ${start} and ${clockTime(ctx, ctx.clock.now())}`;
}

/**
 * For export.tables and migrate.verify: throw, naming the tables, when the source was written after
 * the cutover point. Returns the sentence for the step's summary otherwise (null without a point).
 */
export async function requireNoWritesSince(ctx: StepContext, where: string): Promise<string | null> {
  const point = provenPoint(ctx);
  if (!point) return null;
  const reading = await readProof(planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir), point);
  if (reading.writes.length > 0) {
    throw Object.assign(
      new Error(
        `The source was written after the cutover point (${clockTime(ctx, Date.parse(point.clockAt ?? point.at))}), seen at ${where}: ` +
          `${describeWrites(reading.writes)}. The freeze did not hold for some writer (a superuser, or a role that disabled the guard trigger): ` +
          `find it in pg_stat_activity and stop it; those rows are not in the export. Roll back, or carry the rows over by hand before dns.switch.`,
      ),
      { retryable: false },
    );
  }
  ctx.note(`proof: ${quietSentence(ctx, point)} on ${Object.keys(point.counters).length} tables (WAL +${reading.walBytes} bytes since ${point.lsn}, as vacuum and checkpoints also write it)`);
  return quietSentence(ctx, point);
}

/**
 * Right before dns.switch: a write after the cutover point blocks the switch, naming the table and
 * the rows by key (the source compared with the target, which holds exactly the export: migrate.verify
 * proved it). A table whose counters moved but whose rows all match the target passes, with a note:
 * the rows were carried over by hand, or the write was in flight at the cutover point and is in the export.
 */
export async function proveBeforeSwitch(ctx: StepContext): Promise<string | null> {
  const point = provenPoint(ctx);
  if (!point) return null;
  const source = planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir);
  const reading = await readProof(source, point);
  if (reading.writes.length === 0) {
    ctx.note(`proof: ${quietSentence(ctx, point)} on ${Object.keys(point.counters).length} tables (WAL +${reading.walBytes} bytes since ${point.lsn})`);
    return quietSentence(ctx, point);
  }
  const written = new Set(reading.writes.map((w) => w.table));
  const report = await verifyTables({
    source,
    target: planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir),
    tables: ctx.plan.tables.filter((t) => written.has(normalizeTableName(t.name))),
    sampleSize: 50,
  });
  const lost = report.tables.flatMap((t) =>
    t.differences.filter((d) => d.kind !== 'orphaned children').map((d) => `${t.table}: ${describeDifference(d)}`),
  );
  const since = clockTime(ctx, Date.parse(point.clockAt ?? point.at));
  if (lost.length > 0) {
    throw Object.assign(
      new Error(
        `dns.switch blocked: the source was written after the cutover point (${since}): ${describeWrites(reading.writes)}. ` +
          `Rows that differ from the export (loaded on the target):\n  ${lost.join('\n  ')}\n` +
          `Find the writer (pg_stat_activity) and stop it; carry these rows over to the target by hand (or roll back), ` +
          `then retry dns.switch: it passes once every row matches.`,
      ),
      { retryable: false },
    );
  }
  ctx.note(
    `proof: write counters moved after ${since} on ${[...written].join(', ')} (${describeWrites(reading.writes)}), ` +
      `but every row matches the target: nothing is lost`,
  );
  return `writes after ${since} on ${[...written].join(', ')}, all of them on the target`;
}

function describeDifference(d: Difference): string {
  const what =
    d.kind === 'missing rows'
      ? 'written on the source after the export (missing on the target)'
      : d.kind === 'extra rows'
        ? 'deleted from the source after the export (or written on the target)'
        : d.kind === 'changed values'
          ? 'changed on the source after the export'
          : d.kind;
  const keys = d.sampleKeys.length ? `: key ${d.sampleKeys.join(', ')}` : '';
  return `${d.count}${d.partial ? '+' : ''} row${d.count === 1 ? '' : 's'} ${what}${keys}${d.detail ? ` (${d.detail})` : ''}`;
}

/** dns.switch with the proof run first: nothing changes in DNS while a write after the cutover point is unaccounted for. */
export function afterFreezeProof(action: StepAction): StepAction {
  return {
    ...action,
    async run(ctx: StepContext): Promise<StepResult> {
      const proof = await proveBeforeSwitch(ctx);
      const result = await action.run(ctx);
      return proof ? { ...result, summary: `${result.summary}; ${proof}` } : result;
    },
    async dryRun(ctx: StepContext): Promise<string> {
      return [
        `First, the proof over the whole freeze: the plan tables' write counters (pg_stat_user_tables) and WAL position now,`,
        `against those recorded at freeze.snapshot; a write since blocks the switch, naming the table and the rows by key.`,
        await action.dryRun(ctx),
      ].join('\n');
    },
  };
}
