import type { Plan } from '../../config/schema.js';
import { connectDatabase } from '../../adapters/postgres.js';
import { normalizeTableName } from '../data/catalog.js';
import { poolerProblem, replicationReadiness } from './readiness.js';

/** `cutover check` (and prep.preflight) for strategy replicate: can the source replicate this plan? */
export async function checkReplication(plan: Plan, env: Record<string, string | undefined>): Promise<{ system: string; ok: boolean; message: string }> {
  const system = 'logical replication';
  const url = env[plan.source.urlEnv];
  if (!url) return { system, ok: false, message: `${plan.source.urlEnv} is not set` };
  const pooler = poolerProblem(url, plan.source.urlEnv);
  if (pooler) return { system, ok: false, message: pooler };
  try {
    const client = await connectDatabase(url, `source database (${plan.source.urlEnv})`);
    try {
      const tables = plan.tables.map((t) => normalizeTableName(t.name));
      const readiness = await replicationReadiness(client, `source database (${plan.source.urlEnv})`, tables, plan.tables);
      const slots = await cutoverSlots(client);
      return readiness.problems.length
        ? { system, ok: false, message: [...readiness.problems, ...slots].join(' ') }
        : { system, ok: true, message: `strategy replicate possible: ${readiness.facts.join(', ')}${slots.length ? `. ${slots.join(' ')}` : ''}` };
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
async function cutoverSlots(client: import('pg').Client): Promise<string[]> {
  const { rows } = await client.query<{ slot_name: string; active: boolean; lag: string | null; retained: string | null }>(
    `SELECT slot_name, active,
            pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) AS lag,
            pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
       FROM pg_replication_slots WHERE slot_name LIKE 'cutover\\_%' ORDER BY slot_name`,
  );
  return rows.map((r) =>
    r.active
      ? `Slot ${r.slot_name}: streaming, ${r.lag ?? '?'} behind, holding ${r.retained ?? '?'} of WAL.`
      : `Slot ${r.slot_name} is not streaming and holds ${r.retained ?? '?'} of WAL: resume its run, or remove it with cutover rollback/abort of that run (or SELECT pg_drop_replication_slot('${r.slot_name}')).`,
  );
}
