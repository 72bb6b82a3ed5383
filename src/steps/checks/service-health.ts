import { measureBaseline, probeHttp } from '../../adapters/probes.js';
import type { Plan } from '../../config/schema.js';
import type { StepContext } from '../types.js';

/**
 * The new system as its users see it: error rate and latency of the health endpoint over as many
 * sequential requests as the T-24h baseline used (so the two are comparable), and the smoke probes
 * (database and auth endpoints) once each.
 */

export interface ServiceReading {
  url: string;
  requests: number;
  failures: number;
  /** Share of failed requests, 0..1. */
  errorRate: number;
  /** Percentiles of the successful requests, ms; null when none succeeded. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Why requests failed, most frequent first, e.g. "status 500, expected 200 (×12)". */
  problems: string[];
}

export interface SmokeReading {
  url: string;
  ok: boolean;
  status?: number;
  latencyMs: number;
  problem?: string;
}

export async function measureService(ctx: StepContext): Promise<ServiceReading> {
  const { newHealth, baselineRequests } = ctx.plan.probes;
  const measured = await measureBaseline(newHealth, baselineRequests, {
    signal: ctx.signal,
    onProgress: (done) => ctx.progress({ label: `requests to ${newHealth.url}`, done, total: baselineRequests, unit: 'requests' }),
  });
  const counts = new Map<string, number>();
  for (const result of measured.results) {
    if (result.ok) continue;
    const problem = result.problem ?? 'failed';
    counts.set(problem, (counts.get(problem) ?? 0) + 1);
  }
  const problems = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([problem, count]) => `${problem} (×${count})`);
  const finite = (value: number) => (Number.isFinite(value) ? value : null);
  return {
    url: newHealth.url,
    requests: measured.requests,
    failures: measured.failures,
    errorRate: measured.errorRate,
    p50Ms: finite(measured.p50Ms),
    p95Ms: finite(measured.p95Ms),
    problems,
  };
}

/** The smoke probes (database health, auth endpoint…), one request each. */
export async function runSmokeProbes(ctx: StepContext): Promise<SmokeReading[]> {
  const readings: SmokeReading[] = [];
  for (const probe of ctx.plan.probes.smoke) {
    const result = await probeHttp(probe, { signal: ctx.signal });
    readings.push({
      url: result.url,
      ok: result.ok,
      ...(result.status !== undefined ? { status: result.status } : {}),
      latencyMs: result.latencyMs,
      ...(result.problem ? { problem: result.problem } : {}),
    });
  }
  return readings;
}

export function describeServiceProbes(plan: Plan): string[] {
  const { newHealth, baselineRequests, smoke } = plan.probes;
  return [
    `${baselineRequests} sequential ${newHealth.method} ${newHealth.url} (as many as the baseline): error rate and p95`,
    ...smoke.map((probe) => `${probe.method} ${probe.url} → ${probe.expectStatus}${probe.bodyMatch ? `, body contains ${probe.bodyMatch}` : ''}`),
  ];
}
