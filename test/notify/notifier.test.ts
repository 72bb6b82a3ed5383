import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanInput } from '../../src/config/schema.js';
import { readDeliveries } from '../../src/services/notifier.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';
import { startPagerDutyFake, type PagerDutyFake } from '../fakes/pagerduty.js';
import { startWebhookFake, type WebhookFake } from '../fakes/signed-webhook.js';
import { startSlackFake, type SlackFake } from '../fakes/slack-webhook.js';

/**
 * The notifier as the product runs it: `cutover run` drives, the plan names three targets, the fakes
 * follow each service's contract. The crash test kills the real CLI (built in dist/) with SIGKILL
 * between two events and proves that after the resume no event reached anyone twice.
 */

const main = join(import.meta.dirname, '../../dist/src/cli/main.js');
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
const at = (ms: number) => `manual:${new Date(ms).toISOString()}`;
const PREP = T0 - 48 * 3_600_000;

let slack: SlackFake;
let pagerduty: PagerDutyFake;
let webhook: WebhookFake;
const dirs: string[] = [];
beforeAll(async () => {
  [slack, pagerduty, webhook] = await Promise.all([startSlackFake(), startPagerDutyFake(), startWebhookFake({ secret: 'hmac-secret-for-tests' })]);
});
afterAll(async () => {
  await Promise.all([slack.close(), pagerduty.close(), webhook.close()]);
});
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(notifications: Partial<NonNullable<PlanInput['notifications']>> = {}): { dir: string; planFile: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-notify-'));
  dirs.push(dir);
  const planFile = writeLocalPlan(dir, {
    extra: {
      notifications: {
        targets: [
          { kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' },
          { kind: 'pagerduty', name: 'on-call', routingKeyEnv: 'PAGERDUTY_ROUTING_KEY', baseUrl: pagerduty.url },
          { kind: 'webhook', name: 'audit', url: webhook.url, secretEnv: 'AUDIT_HOOK_SECRET' },
        ],
        ...notifications,
      },
    },
  });
  const env = { SLACK_WEBHOOK_URL: slack.webhookUrl, PAGERDUTY_ROUTING_KEY: pagerduty.routingKey, AUDIT_HOOK_SECRET: 'hmac-secret-for-tests' };
  return { dir, planFile, env };
}

/** Poll until `predicate` holds (no fixed sleeps: wait for the thing itself). */
async function until(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const keysAt = (fake: WebhookFake, runId: string) => fake.received.filter((body) => body.runId === runId).map((body) => String(body.key));

describe('team notifications from a run', () => {
  it('tells each target once what happened and what to do: phase opened, failure (paged, then resolved by the skip), gate waiting with who and the command', async () => {
    const { dir, planFile, env } = setup();
    // `as`: the OS account the command runs as (the example plan's Ana Ruiz is the account ana).
    const run = (args: string[], as?: string) => cli(['--config', planFile, ...args], { CUTOVER_CLOCK: at(PREP), ...env }, as);
    const postedBefore = slack.posted.length;

    const failed = await run(['run', '--non-interactive']);
    expect(failed.code).toBe(1);
    const runId = readDeliveries(join(dir, '.cutover')).deliveries[0]!.event.runId;
    expect(keysAt(webhook, runId)).toEqual(['phase:prep', expect.stringMatching(/^journal:\d+$/)]);
    const failure = webhook.received.find((body) => body.runId === runId && body.kind === 'step.failed')!;
    expect(failure.text).toContain('SOURCE_DATABASE_URL is not set');
    expect(failure.text).toContain('cutover retry prep.preflight');
    // Times for machines carry the plan's offset (New York, December: -05:00).
    expect(failure.at).toMatch(/-05:00$/);
    const incident = `cutover:${runId}:step:prep.preflight`;
    expect(pagerduty.alerts.get(incident)?.status).toBe('triggered');

    expect((await run(['skip', 'prep.preflight', '--by', 'Ana Ruiz', '--reason', 'checked by hand'], 'ana')).code).toBe(0);
    const next = await run(['run', '--non-interactive']);
    expect(next.code).toBe(3);
    // The skip closed the page; the phase was not announced again; the gate names who and how.
    expect(pagerduty.alerts.get(incident)?.status).toBe('resolved');
    const gate = webhook.received.find((body) => body.runId === runId && body.kind === 'gate.waiting')!;
    expect(gate.title).toBe('prep.staging-rehearsal waits for a sign-off');
    expect(gate.text).toContain('by 1 of Ana Ruiz, Ben Okafor, Chen Wei');
    // Who signs is the OS account running the command (issue 12): the command names no --by.
    expect(gate.text).toContain('cutover signoff prep.staging-rehearsal [--note TEXT]');
    expect(keysAt(webhook, runId).filter((key) => key === 'phase:prep')).toHaveLength(1);

    const chat = slack.posted.slice(postedBefore).map((message) => message.text!.split('\n')[0]);
    expect(chat).toEqual([
      ':large_blue_circle: *Phase prep opened: Preparation*',
      ':rotating_light: *prep.preflight failed*',
      ':large_blue_circle: *prep.preflight skipped by Ana Ruiz*',
      ':large_blue_circle: *prep.staging-rehearsal waits for a sign-off*',
    ]);
    const record = readDeliveries(join(dir, '.cutover'), runId).deliveries;
    expect(record.every((delivery) => delivery.state === 'sent')).toBe(true);
    // The secret values are in the environment only, never in the record.
    expect(JSON.stringify(record)).not.toContain('xoxsecret');
  });

  it('never blocks the run: a target that does not answer is given up after the deadline and recorded', async () => {
    const silent = await startWebhookFake({ secret: 'hmac-secret-for-tests' });
    silent.inject({ times: 1000, hang: true });
    try {
      const { dir, planFile, env } = setup({ targets: [{ kind: 'webhook', name: 'audit', url: silent.url, secretEnv: 'AUDIT_HOOK_SECRET' }], deadlineSeconds: 2 });
      const result = await cli(['--config', planFile, 'run', '--non-interactive'], { CUTOVER_CLOCK: at(PREP), ...env });
      // The run ended where it would have without notifications (preflight fails: exit 1).
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('✗ prep.preflight');
      const deliveries = readDeliveries(join(dir, '.cutover')).deliveries;
      expect(deliveries[0]).toMatchObject({ target: 'audit', state: 'failed', error: 'gave up after 2 s (notifications.deadlineSeconds)' });
      // Nothing is cut off mid-request: each delivery either ran to its deadline or waits for the next start.
      expect(deliveries.map((delivery) => delivery.state).every((state) => state === 'failed' || state === 'queued')).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it('SIGKILL between two events: after the resume no event reached anyone twice', async () => {
    const { dir, planFile, env } = setup();
    const postedBefore = slack.posted.length;
    // The first event (phase prep opened) goes through; the second (preflight failed) hangs at every
    // target, so the process is killed after one event was delivered and while the next is in flight.
    slack.inject({ method: 'POST', skip: 1, times: 1, hang: true });
    webhook.inject({ method: 'POST', skip: 1, times: 1, hang: true });
    pagerduty.inject({ method: 'POST', times: 1, hang: true });
    const child = spawn(process.execPath, [main, '--config', planFile, 'run', '--non-interactive'], {
      env: { ...process.env, ...env, CUTOVER_CLOCK: at(PREP) },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const before = { slack: slack.requests.length, webhook: webhook.requests.length, pagerduty: pagerduty.requests.length };
    await until(() => slack.requests.length >= before.slack + 2 && webhook.requests.length >= before.webhook + 2 && pagerduty.requests.length >= before.pagerduty + 1, 'the second event in flight at every target');
    const stateDir = join(dir, '.cutover');
    await until(() => readDeliveries(stateDir).deliveries.filter((d) => d.state === 'sending').length === 3, 'three deliveries recorded as sending');
    child.kill('SIGKILL');
    await exited;
    const runId = readDeliveries(stateDir).deliveries[0]!.event.runId;

    // Resume: the same run goes on to the failed preflight again (exit 1), then past it.
    const resume = (args: string[], as?: string) => cli(['--config', planFile, ...args], { CUTOVER_CLOCK: at(PREP), ...env }, as);
    expect((await resume(['run', '--non-interactive'])).code).toBe(1);
    expect((await resume(['skip', 'prep.preflight', '--by', 'Ana Ruiz', '--reason', 'checked by hand'], 'ana')).code).toBe(0);
    expect((await resume(['run', '--non-interactive'])).code).toBe(3);

    // Slack: the message in flight when the process died is not sent again (it may show twice otherwise);
    // the record says its outcome is unknown. Every message appears once.
    const chat = slack.posted.slice(postedBefore).map((message) => message.text!.split('\n')[0]);
    expect(chat).toEqual([
      ':large_blue_circle: *Phase prep opened: Preparation*',
      ':rotating_light: *prep.preflight failed*',
      ':large_blue_circle: *prep.preflight skipped by Ana Ruiz*',
      ':large_blue_circle: *prep.staging-rehearsal waits for a sign-off*',
    ]);
    const record = readDeliveries(stateDir, runId).deliveries;
    expect(record.find((d) => d.target === 'ops-chat' && d.event.kind === 'step.failed')?.state).toBe('unknown');
    // The webhook and PagerDuty drop a repeat themselves: the delivery in flight was sent again under
    // the same id / dedup key, and each event was processed once.
    const keys = keysAt(webhook, runId);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((key) => key === 'phase:prep')).toHaveLength(1);
    expect(webhook.received.filter((body) => body.runId === runId && body.kind === 'step.failed')).toHaveLength(1);
    expect(webhook.repeats.length).toBeGreaterThanOrEqual(1);
    // PagerDuty got the trigger in flight again under the same dedup key and merged it: one alert, closed by the skip.
    expect([...pagerduty.alerts.keys()].filter((key) => key.includes(runId))).toEqual([`cutover:${runId}:step:prep.preflight`]);
    expect(pagerduty.alerts.get(`cutover:${runId}:step:prep.preflight`)).toMatchObject({ triggers: 2, status: 'resolved' });
  });

  it('cutover check reaches every target with HEAD/GET only (nothing written), and names a missing secret', async () => {
    const { planFile, env } = setup();
    const before = { posted: slack.posted.length, alerts: pagerduty.alerts.size, received: webhook.received.length };
    const sentBefore = [slack, pagerduty, webhook].map((fake) => fake.requests.length);
    const result = await cli(['--config', planFile, 'check'], env);
    expect(result.stdout).toMatch(/✓ notifications ops-chat \(slack\): reached .*nothing posted.*first real message/);
    expect(result.stdout).toMatch(/✓ notifications on-call \(pagerduty\): reached .*no event sent/);
    expect(result.stdout).toContain(`✓ notifications audit (webhook): reached ${webhook.url}`);
    expect({ posted: slack.posted.length, alerts: pagerduty.alerts.size, received: webhook.received.length }).toEqual(before);
    const sent = [slack, pagerduty, webhook].map((fake, i) => fake.requests.slice(sentBefore[i]));
    expect(sent.map((requests) => requests.length > 0)).toEqual([true, true, true]);
    expect(sent.flat().filter((request) => request.method !== 'HEAD' && request.method !== 'GET')).toEqual([]);
    expect(result.stdout).not.toContain(new URL(slack.webhookUrl).pathname);
    expect(result.stdout).not.toContain(pagerduty.routingKey);

    const missing = await cli(['--config', planFile, 'check'], { ...env, PAGERDUTY_ROUTING_KEY: '' });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('✗ notifications on-call: PAGERDUTY_ROUTING_KEY is not set: export the Events API v2 integration key for notification target on-call');
  });
});
