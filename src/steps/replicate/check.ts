import type { Plan } from '../../config/schema.js';
import { planDatabase } from '../../adapters/postgres.js';
import { normalizeTableName } from '../data/catalog.js';
import { poolerProblem, replicationReadiness } from './readiness.js';

/** `cutover check` (and prep.preflight) for strategy replicate: can the source replicate this plan? */
export async function checkReplication(plan: Plan, env: Record<string, string | undefined>, planDir = '.'): Promise<{ system: string; ok: boolean; message: string }> {
  const system = 'logical replication';
  const url = env[plan.source.urlEnv];
  if (!url) return { system, ok: false, message: `${plan.source.urlEnv} is not set` };
  const pooler = poolerProblem(url, plan.source.urlEnv);
  if (pooler) return { system, ok: false, message: pooler };
  try {
    const client = await planDatabase(plan, env, 'source', planDir).connect();
    try {
      const tables = plan.tables.map((t) => normalizeTableName(t.name));
      const readiness = await replicationReadiness(client, `source database (${plan.source.urlEnv})`, tables, plan.tables);
      const slots = await cutoverSlots(client, plan.replicate);
      return readiness.problems.length || slots.breached
        ? { system, ok: false, message: [...readiness.problems, ...slots.lines].join(' ') }
        : { system, ok: true, message: `strategy replicate possible: ${readiness.facts.join(', ')}${slots.lines.length ? `. ${slots.lines.join(' ')}` : ''}` };
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    return { system, ok: false, message: (error as Error).message };
  }
}

/**
 * Slots a cutover made, with their lag and the WAL they hold back: a running replication shows how
 * far behind the target is, and a slot nobody streams from (a run killed and never resumed) shows
 * before it fills the source's disk.
 */
async function cutoverSlots(client: import('pg').Client, limits: { maxLagBytes: number; maxRetainedBytes: number }): Promise<{ lines: string[]; breached: boolean }> {
  const { rows } = await client.query<{ slot_name: string; active: boolean; lag: string | null; retained: string | null; lag_seconds: string | null }>(
    `SELECT s.slot_name, s.active,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained,
            extract(epoch FROM r.flush_lag)::text AS lag_seconds
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name LIKE 'cutover\\_%' ORDER BY s.slot_name`,
  );
  let breached = false;
  const lines = rows.map((r) => {
    const lag = Number(r.lag ?? 0);
    const retained = Number(r.retained ?? 0);
    const over = [
      lag > limits.maxLagBytes ? `more than plan.replicate.maxLagBytes (${size(limits.maxLagBytes)}) behind: look at the target's apply worker (pg_stat_subscription) and its log` : '',
      retained > limits.maxRetainedBytes ? `holding more WAL than plan.replicate.maxRetainedBytes (${size(limits.maxRetainedBytes)}): the source's disk fills while it lasts` : '',
    ].filter(Boolean);
    if (over.length) breached = true;
    const seconds = r.lag_seconds === null ? '' : `, ${Number(r.lag_seconds).toFixed(1)} s`;
    return r.active
      ? `Slot ${r.slot_name}: streaming, ${size(lag)}${seconds} behind, holding ${size(retained)} of WAL${over.length ? `; ${over.join('; ')}` : ''}.`
      : `Slot ${r.slot_name} is not streaming and holds ${size(retained)} of WAL${over.length ? ` (${over.join('; ')})` : ''}: resume its run, or remove it with cutover rollback/abort of that run (or SELECT pg_drop_replication_slot('${r.slot_name}')).`;
  });
  return { lines, breached };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} kB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(0)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}
