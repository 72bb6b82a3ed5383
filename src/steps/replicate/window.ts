import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { inTransaction, withConnection, type Database } from '../../adapters/postgres.js';
import { readTables } from '../data/catalog.js';
import { ensureMetaTable, recordLoaded } from '../data/load.js';
import { positionTargetSequences, readSequenceStates, type PositionedSequence } from '../data/sequences.js';
import { MARKER_TABLE, type ReplicationNames } from './names.js';
import { slotInfo, subscriptionExists } from './objects.js';

/**
 * The window of the `replicate` strategy, once the source is frozen: drain the subscription to the
 * freeze's WAL position, then carry the sequences (logical replication does not).
 *
 * Drain: a row written on the source *after* the freeze's WAL position (a marker in the publication)
 * is applied on the target only after every transaction committed before it, because the apply
 * worker applies in commit order. So "the marker is on the target" means "everything up to the
 * freeze is on the target", exactly, with no dependence on how often the subscriber reports its
 * position to the source (every 10 s by default, which alone would lengthen the freeze).
 */

export interface DrainResult {
  freezeLsn: string;
  /** Commit position of the marker (after the freeze). */
  markerLsn: string;
  /** Bytes of WAL the slot had not yet confirmed when the drain started. */
  lagBytesAtStart: number | null;
  waitedMs: number;
}

export async function drainToFreeze(options: {
  source: Database;
  target: Database;
  names: ReplicationNames;
  freezeLsn: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<DrainResult> {
  const started = Date.now();
  const token = randomUUID();
  const { markerLsn, lagBytesAtStart } = await withConnection(options.source, async (source) => {
    const slot = await slotInfo(source, options.names.slot);
    if (!slot) {
      throw Object.assign(
        new Error(`The replication slot ${options.names.slot} does not exist on the ${options.source.label}: prep.replicate did not finish or was undone. Run cutover retry prep.replicate, or use strategy copy.`),
        { retryable: false },
      );
    }
    const lag = await source.query<{ lag: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
      [options.names.slot],
    );
    const written = await source.query<{ lsn: string }>(
      `INSERT INTO ${MARKER_TABLE} (run_id, token, lsn) VALUES ($1, $2, pg_current_wal_lsn())
       ON CONFLICT (run_id) DO UPDATE SET token = EXCLUDED.token, lsn = EXCLUDED.lsn, written_at = now()
       RETURNING lsn::text`,
      [options.names.slot, token],
    );
    return { markerLsn: written.rows[0]!.lsn, lagBytesAtStart: lag.rows[0]?.lag === null || lag.rows[0] === undefined ? null : Number(lag.rows[0].lag) };
  });
  if (compareLsn(markerLsn, options.freezeLsn) < 0) {
    throw new Error(`The marker was written at ${markerLsn}, before the freeze at ${options.freezeLsn}: the clock of WAL positions went backwards, which cannot be.`);
  }
  await withConnection(options.target, async (target) => {
    if (!(await subscriptionExists(target, options.names.subscription))) {
      throw Object.assign(new Error(`The subscription ${options.names.subscription} does not exist on the ${options.target.label}: run cutover retry prep.replicate first.`), { retryable: false });
    }
    const deadline = started + options.timeoutMs;
    let pause = 5;
    for (;;) {
      options.signal?.throwIfAborted();
      const seen = await target.query<{ token: string }>(`SELECT token FROM ${MARKER_TABLE} WHERE run_id = $1`, [options.names.slot]);
      if (seen.rows[0]?.token === token) return;
      if (Date.now() > deadline) {
        const worker = await target.query<{ pid: number | null; received: string | null }>(
          `SELECT pid, received_lsn::text AS received FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL`,
          [options.names.subscription],
        );
        const state = worker.rows[0];
        throw new Error(
          `The target did not apply the source's changes up to the freeze (${options.freezeLsn}) within ${Math.round(options.timeoutMs / 1000)} s: ` +
            (state?.pid ? `the apply worker has received up to ${state.received ?? 'nothing'}.` : `no apply worker is running for ${options.names.subscription} (see the target's log for why).`) +
            ` Retry the step once it catches up; the source stays frozen meanwhile.`,
        );
      }
      await delay(pause);
      pause = Math.min(pause * 2, 100);
    }
  });
  return { freezeLsn: options.freezeLsn, markerLsn, lagBytesAtStart, waitedMs: Date.now() - started };
}

/** -1, 0 or 1 for two `X/Y` WAL positions. */
export function compareLsn(a: string, b: string): number {
  const value = (lsn: string) => {
    const [hi, lo] = lsn.split('/');
    return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
  };
  const diff = value(a) - value(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

/**
 * Logical replication carries rows, not sequences: every sequence the plan tables use (owned by a
 * column, or only called from a column's DEFAULT and owned by none) gets the source's position (frozen,
 * so final) on the target, or just past its columns' values when those go further — exactly what
 * migrate.load does in copy mode (data/sequences.ts), read now instead of from an export's manifest.
 */
export async function copySequences(options: { source: Database; target: Database; tables: readonly string[] }): Promise<PositionedSequence[]> {
  const states = await withConnection(options.source, async (source) => readSequenceStates(source, await readTables(source, options.tables, options.source.label)));
  return withConnection(options.target, (target) => inTransaction(target, () => positionTargetSequences(target, states)));
}

/** Lag of the slot right now: WAL bytes not yet confirmed by the subscriber, and WAL the slot retains. */
export async function replicationLag(source: pg.Client, slot: string): Promise<{ lagBytes: number; retainedBytes: number } | undefined> {
  const { rows } = await source.query<{ lag: string; retained: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return rows[0] ? { lagBytes: Number(rows[0].lag), retainedBytes: Number(rows[0].retained) } : undefined;
}

/**
 * Record the plan tables as filled by this run in the target's `cutover_meta.loaded`, as migrate.load
 * does in copy mode: the rollback's delta export compares only tables a run loaded, so without it a
 * rollback after a replicate cutover would skip every table and leave the post-switch writes behind.
 */
export async function recordReplicatedTables(options: { target: Database; runId: string; counts: Readonly<Record<string, number>>; lsn: string }): Promise<number> {
  return withConnection(options.target, async (target) => {
    await ensureMetaTable(target);
    const tables = Object.entries(options.counts).map(([table, rows]) => ({ table, rows, sha256: `replicated up to ${options.lsn}` }));
    await recordLoaded(target, options.runId, tables);
    return tables.length;
  });
}
