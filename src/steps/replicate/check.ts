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
      return readiness.problems.length
        ? { system, ok: false, message: readiness.problems.join(' ') }
        : { system, ok: true, message: `strategy replicate possible: ${readiness.facts.join(', ')}` };
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    return { system, ok: false, message: (error as Error).message };
  }
}
