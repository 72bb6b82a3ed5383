import { performance } from 'node:perf_hooks';
import { measureBaseline, probeHttp, type ProbeResult } from '../../adapters/probes.js';
import { openClient, planTls, readDatabaseUrl } from '../../adapters/postgres.js';
import { ExternalError } from '../../adapters/retry.js';
import type { Plan, ProbePlan } from '../../config/schema.js';
import type { StepAction, StepContext } from '../types.js';
import { plural } from '../../engine/words.js';

declare module '../outputs.js' {
  interface StepOutputs {
    /** The old system's latency and error rate: the yardstick of the checks after the switch. */
    'final.baseline': BaselineOutput;
  }
}

/**
 * The HTTP checks: health of both systems, the old system's baseline, smoke tests of the new one,
 * the public names through real DNS, monitoring endpoints, and a test webhook end to end. A failed
 * check fails the step with every failing URL and why; `cutover retry` runs it again.
 */

function describeProbe(probe: ProbePlan): string {
  const match = probe.bodyMatch ? `, body contains ${probe.bodyMatch}` : '';
  return `${probe.method} ${probe.url} → ${probe.expectStatus}${match} within ${probe.timeoutMs} ms`;
}

async function runProbes(ctx: StepContext, label: string, probes: ProbePlan[]) {
  if (probes.length === 0) return { summary: `${label}: no probes configured`, output: { results: [] as ProbeResult[] } };
  const results: ProbeResult[] = [];
  for (const probe of probes) {
    results.push(await probeHttp(probe, { signal: ctx.signal }));
    ctx.progress({ label, done: results.length, total: probes.length, unit: 'checks' });
  }
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) {
    throw new ExternalError(
      'HTTP',
      `${label}: ${failed.length} of ${plural(results.length, 'check')} failed:\n${failed.map((result) => `  ${result.method} ${result.url}: ${result.problem}`).join('\n')}`,
      { retryable: true },
    );
  }
  const slowest = Math.max(...results.map((result) => result.latencyMs));
  return { summary: `${label}: ${plural(results.length, 'check')} passed (slowest ${slowest} ms)`, output: { results } };
}

function probeStep(label: string, select: (plan: Plan) => ProbePlan[]): StepAction {
  return {
    run: (ctx) => runProbes(ctx, label, select(ctx.plan)),
    dryRun(ctx) {
      const probes = select(ctx.plan);
      if (probes.length === 0) return `${label}: no probes configured.`;
      return [`${label}:`, ...probes.map((probe) => `  ${describeProbe(probe)}`)].join('\n');
    },
  };
}

export const checkHealth = probeStep('health of the old and new systems', (plan) => [plan.probes.oldHealth, plan.probes.newHealth]);
export const smokeTest = probeStep('smoke tests of the new system', (plan) => [plan.probes.newHealth, ...plan.probes.smoke]);
export const checkPublicNames = probeStep('public names through real DNS', (plan) => plan.probes.external);
export const checkMonitoring = probeStep('monitoring endpoints', (plan) => plan.probes.monitoring);

export interface BaselineOutput {
  p50Ms: number;
  p95Ms: number;
  errorRate: number;
  requests: number;
}

export const captureBaseline: StepAction = {
  async run(ctx) {
    const { oldHealth, baselineRequests } = ctx.plan.probes;
    const baseline = await measureBaseline(oldHealth, baselineRequests, {
      signal: ctx.signal,
      onProgress: (done) => ctx.progress({ label: 'baseline requests', done, total: baselineRequests, unit: 'requests' }),
    });
    if (baseline.failures === baseline.requests) {
      const problem = baseline.results[0]?.problem ?? 'no answer';
      throw new ExternalError('HTTP', `baseline: all ${baseline.requests} requests to ${oldHealth.url} failed (${problem}); the old system's baseline cannot be measured`);
    }
    const output: BaselineOutput = { p50Ms: baseline.p50Ms, p95Ms: baseline.p95Ms, errorRate: baseline.errorRate, requests: baseline.requests };
    const summary = `baseline of ${oldHealth.url}: p50 ${output.p50Ms} ms, p95 ${output.p95Ms} ms, ${(output.errorRate * 100).toFixed(1)} % errors over ${output.requests} requests`;
    if (baseline.errorRate > ctx.plan.thresholds.errorRate) {
      return {
        summary,
        output,
        attention: {
          reason: `the old system already fails ${(baseline.errorRate * 100).toFixed(1)} % of requests, above the ${(ctx.plan.thresholds.errorRate * 100).toFixed(1)} % threshold; a baseline taken now would hide problems after the switch`,
          evidence: output,
        },
      };
    }
    return { summary, output };
  },
  dryRun(ctx) {
    const { oldHealth, baselineRequests } = ctx.plan.probes;
    return `Send ${baselineRequests} sequential requests to ${oldHealth.url} and record p50 / p95 latency and the error rate.`;
  },
};

/** How long to wait for the test payload to show up, and how often to look. */
const WEBHOOK_ARRIVAL_TIMEOUT_MS = 60_000;
const WEBHOOK_POLL_MS = 2_000;

async function arrivedByUrl(url: string, signal: AbortSignal): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    signal.throwIfAborted();
    return false;
  }
}

async function arrivedBySql(ctx: StepContext, sql: string): Promise<boolean> {
  const url = readDatabaseUrl(ctx.env, ctx.plan.target.urlEnv, 'target');
  const client = await openClient(url, {
    label: `target database (${ctx.plan.target.urlEnv})`,
    tls: planTls(ctx.plan, 'target', ctx.planDir),
    connectTimeoutMs: 10_000,
    statementTimeoutMs: 10_000,
  });
  try {
    const result = await client.query(sql);
    return (result.rowCount ?? result.rows.length) > 0;
  } finally {
    await client.end();
  }
}

export const testWebhook: StepAction = {
  async run(ctx) {
    const webhook = ctx.plan.probes.webhook;
    if (!webhook) return { summary: 'no webhook test configured (probes.webhook): skipped', output: { skipped: true } };
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhook.payload),
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(15_000)]),
      });
      await response.arrayBuffer();
    } catch (error) {
      ctx.signal.throwIfAborted();
      throw new ExternalError('HTTP', `webhook: POST ${webhook.url} failed: ${(error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message}`);
    }
    const postMs = Math.round(performance.now() - started);
    if (!response.ok) throw new ExternalError('HTTP', `webhook: POST ${webhook.url} answered ${response.status}; the new system did not accept the test payload`, { status: response.status });
    ctx.note('test payload accepted', { url: webhook.url, status: response.status });

    const check = webhook.checkSql ? 'sql' : webhook.checkUrl ? 'url' : undefined;
    if (!check) {
      return { summary: `webhook accepted the test payload (${response.status}, ${postMs} ms); arrival not confirmed (set probes.webhook.checkUrl or checkSql)`, output: { status: response.status, postMs, confirmed: false } };
    }
    const deadline = ctx.clock.now() + WEBHOOK_ARRIVAL_TIMEOUT_MS;
    for (let attempt = 1; ; attempt += 1) {
      const arrived = check === 'sql' ? await arrivedBySql(ctx, webhook.checkSql as string) : await arrivedByUrl(webhook.checkUrl as string, ctx.signal);
      if (arrived) {
        return {
          summary: `webhook test payload accepted (${response.status}) and found by ${check === 'sql' ? 'the check query on the target' : webhook.checkUrl} after ${attempt} look${attempt === 1 ? '' : 's'}`,
          output: { status: response.status, postMs, confirmed: true, checks: attempt },
        };
      }
      if (ctx.clock.now() >= deadline) {
        throw new ExternalError(
          'HTTP',
          `webhook: the test payload was accepted (${response.status}) but not found by ${check === 'sql' ? 'probes.webhook.checkSql on the target' : webhook.checkUrl} within ${WEBHOOK_ARRIVAL_TIMEOUT_MS / 1000} s; ingestion on the new system may be broken`,
        );
      }
      await ctx.clock.sleepUntil(Math.min(deadline, ctx.clock.now() + WEBHOOK_POLL_MS), ctx.signal);
    }
  },
  dryRun(ctx) {
    const webhook = ctx.plan.probes.webhook;
    if (!webhook) return 'No webhook test configured (probes.webhook).';
    const confirm = webhook.checkSql
      ? `then run on the target until it returns a row:\n  ${webhook.checkSql}`
      : webhook.checkUrl
        ? `then GET ${webhook.checkUrl} until it answers 2xx`
        : 'arrival is not confirmed (no checkUrl or checkSql)';
    return `POST the test payload to ${webhook.url}, ${confirm}`;
  },
};
