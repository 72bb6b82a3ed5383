import { checkExternal } from '../../adapters/check.js';
import { probeDatabase } from '../../adapters/database.js';
import { probeHttp } from '../../adapters/probes.js';
import type { Plan } from '../../config/schema.js';
import { checkReplication } from '../replicate/check.js';

export interface SystemCheck {
  system: string;
  ok: boolean;
  message: string;
}

/** Reach every system the plan names: both databases, DNS and mail providers, the old system. */
export async function reachSystems(plan: Plan, planDir: string, env: Record<string, string | undefined>): Promise<SystemCheck[]> {
  const results: SystemCheck[] = [];
  for (const [system, envName] of [['source database', plan.source.urlEnv], ['target database', plan.target.urlEnv]] as const) {
    results.push({ system, ...(await probeDatabase(env, envName)) });
  }
  if (plan.strategy === 'replicate') results.push(await checkReplication(plan, env));
  results.push(...(await checkExternal(plan, env, { planDir })));
  const health = await probeHttp(plan.probes.oldHealth);
  results.push({ system: 'old system', ok: health.ok, message: health.ok ? `${health.url} answered in ${health.latencyMs} ms` : `${health.url}: ${health.problem ?? 'failed'}` });
  return results;
}
