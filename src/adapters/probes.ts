import { performance } from 'node:perf_hooks';
import type { ProbePlan } from '../config/schema.js';

/**
 * HTTP probes: health endpoints, smoke tests, monitoring, the webhook test, and the old system's
 * latency baseline. Latency is real time (performance.now), never the run's clock: a compressed
 * rehearsal clock only shortens waits, not requests.
 */

export interface ProbeResult {
  url: string;
  method: string;
  ok: boolean;
  status?: number;
  latencyMs: number;
  /** Whether the body contained the expected text; absent when no match was asked for. */
  bodyMatched?: boolean;
  /** Why the probe failed, in words (status, body, timeout, connection). */
  problem?: string;
}

export interface ProbeRequest {
  /** JSON body to send (webhook test). */
  json?: unknown;
  signal?: AbortSignal;
}

/** `/pattern/flags` is a regular expression; anything else must appear as is. */
export function matchBody(body: string, pattern: string): boolean {
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  if (regex) return new RegExp(regex[1] as string, regex[2]).test(body);
  return body.includes(pattern);
}

export async function probeHttp(probe: ProbePlan, request: ProbeRequest = {}): Promise<ProbeResult> {
  const method = request.json !== undefined && probe.method === 'GET' ? 'POST' : probe.method;
  const timeout = AbortSignal.timeout(probe.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const started = performance.now();
  const base = { url: probe.url, method };
  try {
    const response = await fetch(probe.url, {
      method,
      signal,
      ...(request.json !== undefined
        ? { body: JSON.stringify(request.json), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    const body = method === 'HEAD' ? '' : await response.text();
    const latencyMs = Math.round(performance.now() - started);
    const statusOk = response.status === probe.expectStatus;
    const bodyMatched = probe.bodyMatch === undefined ? undefined : matchBody(body, probe.bodyMatch);
    const problems: string[] = [];
    if (!statusOk) problems.push(`status ${response.status}, expected ${probe.expectStatus}`);
    if (bodyMatched === false) problems.push(`body does not contain ${probe.bodyMatch}`);
    return {
      ...base,
      ok: problems.length === 0,
      status: response.status,
      latencyMs,
      ...(bodyMatched === undefined ? {} : { bodyMatched }),
      ...(problems.length ? { problem: problems.join('; ') } : {}),
    };
  } catch (error) {
    request.signal?.throwIfAborted();
    const latencyMs = Math.round(performance.now() - started);
    const problem = timeout.aborted
      ? `no answer within ${probe.timeoutMs} ms`
      : `request failed: ${(error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message}`;
    return { ...base, ok: false, latencyMs, problem };
  }
}

export interface Baseline {
  requests: number;
  failures: number;
  errorRate: number;
  /** Latency percentiles of the successful requests, in ms. */
  p50Ms: number;
  p95Ms: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** N sequential requests (sequential so the baseline measures the system, not our concurrency). */
export async function measureBaseline(
  probe: ProbePlan,
  requests: number,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<Baseline & { results: ProbeResult[] }> {
  const results: ProbeResult[] = [];
  for (let index = 0; index < requests; index += 1) {
    results.push(await probeHttp(probe, options.signal ? { signal: options.signal } : {}));
    options.onProgress?.(index + 1);
  }
  const latencies = results.filter((result) => result.ok).map((result) => result.latencyMs).sort((a, b) => a - b);
  const failures = results.length - latencies.length;
  return {
    requests,
    failures,
    errorRate: requests === 0 ? 0 : failures / requests,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    results,
  };
}
