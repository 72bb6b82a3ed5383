import type { Plan } from '../../config/schema.js';
import { planDatabase } from '../../adapters/postgres.js';
import { normalizeTableName } from '../data/catalog.js';
import { describeLag, lagProblems, readSlotLag, type LagLimits } from './lag.js';
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
async function cutoverSlots(client: import('pg').Client, limits: LagLimits): Promise<{ lines: string[]; breached: boolean }> {
  const lags = await readSlotLag(client);
  return { lines: lags.map((lag) => describeLag(lag, limits)), breached: lags.some((lag) => lagProblems(lag, limits).length > 0) };
}
