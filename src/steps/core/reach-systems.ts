import { checkExternal } from '../../adapters/check.js';
import { probeDatabase } from '../../adapters/database.js';
import { probeHttp } from '../../adapters/probes.js';
import type { Plan } from '../../config/schema.js';
import { checkPlanBarrier } from '../data/barrier.js';

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
  // Only once the source answers: the reason it does not is already said above.
  if (results[0]!.ok) {
    results.push({
      system: 'freeze barrier',
      ...(await checkPlanBarrier(plan, env).catch((error: unknown) => ({ ok: false, message: (error as Error).message }))),
    });
  }
  results.push(...(await checkExternal(plan, env, { planDir })));
  const health = await probeHttp(plan.probes.oldHealth);
  results.push({ system: 'old system', ok: health.ok, message: health.ok ? `${health.url} answered in ${health.latencyMs} ms` : `${health.url}: ${health.problem ?? 'failed'}` });
  return results;
}
