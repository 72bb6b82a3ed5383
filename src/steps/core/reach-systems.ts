import { checkExternal } from '../../adapters/check.js';
import { checkProbes, checkResolvers, checkSupabaseAuth } from '../../adapters/check-reach.js';
import { assertSecureConnections, probeDatabase } from '../../adapters/database.js';
import { probeHttp } from '../../adapters/probes.js';
import type { Plan } from '../../config/schema.js';
import { checkPlanCoverage } from '../data/accounted.js';
import { checkPlanBarrier } from '../data/barrier.js';
import { checkReplication } from '../replicate/check.js';

export interface SystemCheck {
  system: string;
  ok: boolean;
  message: string;
}

/**
 * Reach every system the plan names: both databases, DNS and mail providers, the old system. A
 * database URL that would send data in plain text to a remote host is refused (exit 2) before anything
 * is reached.
 */
export async function reachSystems(plan: Plan, planDir: string, env: Record<string, string | undefined>): Promise<SystemCheck[]> {
  const warnings = assertSecureConnections(plan, env, planDir);
  const results: SystemCheck[] = [];
  for (const side of ['source', 'target'] as const) {
    const probe = await probeDatabase(plan, env, side, planDir);
    const warning = warnings.find((w) => w.includes(`${side} database (`));
    results.push({ system: `${side} database`, ...probe, ...(warning && probe.ok ? { message: `${probe.message}; warning: ${warning}` } : {}) });
  }
  // Only once the source answers: the reason it does not is already said above.
  if (results[0]!.ok) {
    results.push({
      system: 'freeze barrier',
      ...(await checkPlanBarrier(plan, env, planDir).catch((error: unknown) => ({ ok: false, message: (error as Error).message }))),
    });
  }
  if (results.every((r) => r.ok)) results.push(...(await checkPlanCoverage(plan, env, planDir)));
  if (plan.strategy === 'replicate') results.push(await checkReplication(plan, env, planDir));
  results.push(...(await checkExternal(plan, env, { planDir })));
  const health = await probeHttp(plan.probes.oldHealth);
  results.push({ system: 'old system', ok: health.ok, message: health.ok ? `${health.url} answered in ${health.latencyMs} ms` : `${health.url}: ${health.problem ?? 'failed'}` });
  return results;
}

/**
 * What `cutover check` reaches beyond the preflight: the Supabase auth admin API, every probe of the
 * new system, every resolver. Not in the preflight: the new system is not expected to answer before
 * it is deployed, and the run reaches each of these in its own step.
 */
export async function reachPlanned(plan: Plan, env: Record<string, string | undefined>): Promise<SystemCheck[]> {
  const [auth, probes, resolvers] = await Promise.all([checkSupabaseAuth(plan, env), checkProbes(plan), checkResolvers(plan)]);
  return [...auth, ...probes, ...resolvers];
}
