import type { Plan, ProbePlan } from '../config/schema.js';
import { probeHttp } from './probes.js';
import { queryResolver } from './propagation.js';
import { MissingSecretError, readSecret } from './secrets.js';

/**
 * `cutover check`'s reach into what the plan names beyond the databases, DNS and mail providers: the
 * Supabase auth admin API (the first use would otherwise be the advance notice at T-48h), every
 * probe, every resolver. Read-only (issue 14, item 7): one page of one user, GET probes only, one DNS
 * question per resolver.
 */

export interface ReachCheck {
  system: string;
  ok: boolean;
  message: string;
}

/** `auth.admin.listUsers({ page: 1, perPage: 1 })` with the service-role key: a read that proves the key. */
export async function checkSupabaseAuth(plan: Plan, env: Record<string, string | undefined>, timeoutMs = 10_000): Promise<ReachCheck[]> {
  const supabase = plan.source.supabase;
  if (!supabase) return [];
  const system = 'Supabase auth';
  let url: string;
  let key: string;
  try {
    url = readSecret(env, supabase.urlEnv, 'the Supabase project URL (https://PROJECT.supabase.co)');
    key = readSecret(env, supabase.serviceRoleKeyEnv, 'the Supabase service-role key (Project Settings → API)');
  } catch (error) {
    if (error instanceof MissingSecretError) return [{ system, ok: false, message: error.message }];
    throw error;
  }
  // Loaded here, not at the top: `check` without Supabase (and `--help`) does not pay for the SDK.
  const { createClient } = await import('@supabase/supabase-js');
  try {
    const client = createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }) },
    });
    const { error } = await client.auth.admin.listUsers({ page: 1, perPage: 1 });
    if (error) {
      const status = 'status' in error && error.status ? `HTTP ${String(error.status)}: ` : '';
      return [{ system, ok: false, message: `the admin API at ${supabase.urlEnv} refused to list users (${status}${error.message.split(key).join('***')}): check ${supabase.serviceRoleKeyEnv} holds the service-role key, not the anon key` }];
    }
    return [{ system, ok: true, message: `the service-role key in ${supabase.serviceRoleKeyEnv} lists users through the admin API` }];
  } catch (error) {
    return [{ system, ok: false, message: `the admin API at ${supabase.urlEnv} did not answer: ${(error as Error).message}` }];
  }
}

/**
 * Every probe of the new system (health, smoke, external, monitoring, the webhook's check URL), with
 * its status and latency. Only GET and HEAD are sent: a probe planned as a POST would write, so it
 * is named and left to its step. The old system's health is reached by reachSystems already.
 */
export async function checkProbes(plan: Plan): Promise<ReachCheck[]> {
  const probes: Array<[string, ProbePlan]> = [
    ['new system health', plan.probes.newHealth],
    ...plan.probes.smoke.map((probe) => ['smoke probe', probe] as [string, ProbePlan]),
    ...plan.probes.external.map((probe) => ['external probe', probe] as [string, ProbePlan]),
    ...plan.probes.monitoring.map((probe) => ['monitoring', probe] as [string, ProbePlan]),
    ...(plan.probes.webhook?.checkUrl ? [['webhook check', { url: plan.probes.webhook.checkUrl, method: 'GET', expectStatus: 200, timeoutMs: 5_000 }] as [string, ProbePlan]] : []),
  ];
  return Promise.all(
    probes.map(async ([system, probe]): Promise<ReachCheck> => {
      if (probe.method === 'POST') return { system, ok: true, message: `${probe.url} not requested: it is a POST, and check writes nothing` };
      const result = await probeHttp(probe);
      return result.ok
        ? { system, ok: true, message: `${probe.method} ${result.url} answered ${String(result.status)} in ${result.latencyMs} ms` }
        : { system, ok: false, message: `${probe.method} ${result.url}: ${result.problem ?? 'failed'} (${result.latencyMs} ms)` };
    }),
  );
}

/** One question to each resolver the plan names (the first planned record): does it answer at all? */
export async function checkResolvers(plan: Plan, timeoutMs = 3_000): Promise<ReachCheck[]> {
  const record = plan.dns.records[0]!;
  return Promise.all(
    plan.dns.resolvers.map(async (resolver): Promise<ReachCheck> => {
      const system = `resolver ${resolver}`;
      try {
        const { values } = await queryResolver(resolver, record.name, record.type, timeoutMs);
        return { system, ok: true, message: `answered ${record.type} ${record.name}: ${values.join(', ') || 'no value'}` };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // An answer that the name or type is unknown is still an answer: the resolver is reachable.
        if (code === 'ENODATA' || code === 'ENOTFOUND') return { system, ok: true, message: `answered ${record.type} ${record.name}: no such record yet` };
        return { system, ok: false, message: `no answer to ${record.type} ${record.name}: ${code ?? (error as Error).message}` };
      }
    }),
  );
}
