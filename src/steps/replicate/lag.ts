import type pg from 'pg';
import { planDatabase, withConnection } from '../../adapters/postgres.js';
import type { Plan } from '../../config/schema.js';
import type { Metric } from '../reconcile/prometheus-textfile.js';
import { replicationNames } from './names.js';

/**
 * How far behind the target is and what the slot costs the source, for every cutover slot: read by
 * `check`, `status` (text, JSON and the Prometheus textfile) and the UI, judged against the plan's
 * thresholds the same way everywhere.
 */
export interface SlotLag {
  slot: string;
  /** A walsender streams from it (the subscription is connected). */
  active: boolean;
  /** WAL bytes the subscriber has not confirmed yet. */
  lagBytes: number;
  /** WAL the slot keeps on the source's disk. */
  retainedBytes: number;
  /** pg_stat_replication.flush_lag, when the walsender reports one (NULL once idle and caught up). */
  lagSeconds: number | null;
}

export type LagLimits = Pick<Plan['replicate'], 'maxLagBytes' | 'maxRetainedBytes' | 'maxLagSeconds'>;

/** Cutover slots (all, or the one named) with their lag. */
export async function readSlotLag(client: pg.Client, slot?: string): Promise<SlotLag[]> {
  const { rows } = await client.query<{ slot_name: string; active: boolean; lag: string | null; retained: string | null; lag_seconds: string | null }>(
    `SELECT s.slot_name, s.active,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained,
            extract(epoch FROM r.flush_lag)::text AS lag_seconds
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE ${slot === undefined ? `s.slot_name LIKE 'cutover\\_%'` : 's.slot_name = $1'} ORDER BY s.slot_name`,
    slot === undefined ? [] : [slot],
  );
  return rows.map((r) => ({
    slot: r.slot_name,
    active: r.active,
    lagBytes: Number(r.lag ?? 0),
    retainedBytes: Number(r.retained ?? 0),
    lagSeconds: r.lag_seconds === null ? null : Number(r.lag_seconds),
  }));
}

/** Each threshold of the plan the slot is over, as a sentence with what to do; empty when none. */
export function lagProblems(lag: SlotLag, limits: LagLimits): string[] {
  return [
    lag.lagBytes > limits.maxLagBytes ? `more than plan.replicate.maxLagBytes (${formatSize(limits.maxLagBytes)}) behind: look at the target's apply worker (pg_stat_subscription) and its log` : '',
    lag.lagSeconds !== null && lag.lagSeconds > limits.maxLagSeconds
      ? `applying changes more than plan.replicate.maxLagSeconds (${limits.maxLagSeconds} s) after the source wrote them: the target cannot keep up (CPU, disk, or a long transaction on it)`
      : '',
    lag.retainedBytes > limits.maxRetainedBytes ? `holding more WAL than plan.replicate.maxRetainedBytes (${formatSize(limits.maxRetainedBytes)}): the source's disk fills while it lasts` : '',
  ].filter(Boolean);
}

/** One sentence per slot, naming the thresholds it is over. */
export function describeLag(lag: SlotLag, limits: LagLimits): string {
  const over = lagProblems(lag, limits);
  const seconds = lag.lagSeconds === null ? '' : `, ${lag.lagSeconds.toFixed(1)} s`;
  return lag.active
    ? `Slot ${lag.slot}: streaming, ${formatSize(lag.lagBytes)}${seconds} behind, holding ${formatSize(lag.retainedBytes)} of WAL${over.length ? `; ${over.join('; ')}` : ''}.`
    : `Slot ${lag.slot} is not streaming and holds ${formatSize(lag.retainedBytes)} of WAL${over.length ? ` (${over.join('; ')})` : ''}: resume its run, or remove it with cutover rollback/abort of that run (or SELECT pg_drop_replication_slot('${lag.slot}')).`;
}

/** Gauges for node_exporter's textfile collector, the thresholds beside them so an alert needs no copy of the plan. */
export function lagMetrics(lags: readonly SlotLag[], limits: LagLimits): Metric[] {
  const per = (pick: (lag: SlotLag) => number | null) =>
    lags.flatMap((lag) => {
      const value = pick(lag);
      return value === null ? [] : [{ labels: { slot: lag.slot }, value }];
    });
  return [
    { name: 'cutover_replication_lag_bytes', help: 'WAL bytes the target has not confirmed yet.', samples: per((l) => l.lagBytes) },
    { name: 'cutover_replication_lag_seconds', help: 'How long after the source wrote them the target applies changes (pg_stat_replication.flush_lag; absent when not reported).', samples: per((l) => l.lagSeconds) },
    { name: 'cutover_replication_retained_bytes', help: 'WAL the replication slot keeps on the source.', samples: per((l) => l.retainedBytes) },
    { name: 'cutover_replication_streaming', help: '1 when a subscriber streams from the slot, 0 when nobody does (it still holds WAL).', samples: per((l) => (l.active ? 1 : 0)) },
    { name: 'cutover_replication_over_threshold', help: '1 when the slot is over one of the plan\'s replicate thresholds.', samples: per((l) => (lagProblems(l, limits).length ? 1 : 0)) },
    { name: 'cutover_replication_max_lag_bytes', help: 'plan.replicate.maxLagBytes.', samples: [{ value: limits.maxLagBytes }] },
    { name: 'cutover_replication_max_lag_seconds', help: 'plan.replicate.maxLagSeconds.', samples: [{ value: limits.maxLagSeconds }] },
    { name: 'cutover_replication_max_retained_bytes', help: 'plan.replicate.maxRetainedBytes.', samples: [{ value: limits.maxRetainedBytes }] },
  ];
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} kB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(0)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

/** The replication of one run as `status` and the UI show it: its slot's lag, or why there is none to show. */
export interface RunReplication {
  slot: string;
  lag?: SlotLag;
  /** Thresholds of the plan the slot is over. */
  problems: string[];
  /** One line for people. */
  text: string;
}

export async function runReplication(plan: Plan, env: Record<string, string | undefined>, planDir: string, runId: string): Promise<RunReplication> {
  const { slot } = replicationNames(runId);
  try {
    const [lag] = await withConnection(planDatabase(plan, env, 'source', planDir), (client) => readSlotLag(client, slot));
    if (!lag) return { slot, problems: [], text: `Replication: no slot ${slot} on the source (not started yet, or removed at the detach, abort, rollback or close).` };
    return { slot, lag, problems: lagProblems(lag, plan.replicate), text: `Replication: ${describeLag(lag, plan.replicate)}` };
  } catch (error) {
    return { slot, problems: [], text: `Replication: the source could not be read (${(error as Error).message}).` };
  }
}
