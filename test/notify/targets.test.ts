import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/config/schema.js';
import { checkNotifications } from '../../src/adapters/notify-check.js';
import { PagerDutyTarget } from '../../src/adapters/notify-pagerduty.js';
import { SlackTarget } from '../../src/adapters/notify-slack.js';
import type { NotifyEvent } from '../../src/adapters/notify-types.js';
import { signBody, WebhookTarget } from '../../src/adapters/notify-webhook.js';
import type { RetryOptions, RetryWait } from '../../src/adapters/retry.js';
import { startPagerDutyFake, type PagerDutyFake } from '../fakes/pagerduty.js';
import { startWebhookFake, type WebhookFake } from '../fakes/signed-webhook.js';
import { startSlackFake, type SlackFake } from '../fakes/slack-webhook.js';

/** Each target through its real client against a fake that follows the service's documented contract. */

const event = (overrides: Partial<NotifyEvent> = {}): NotifyEvent => ({
  key: 'journal:7',
  kind: 'step.failed',
  severity: 'critical',
  title: 'prep.preflight failed',
  text: 'source database: SOURCE_DATABASE_URL is not set\nFix the cause, then: cutover retry prep.preflight',
  runId: '20261203-2200-ab12',
  plan: 'FreshTrack Pro',
  environment: 'production',
  at: '2026-12-03T22:00:05-05:00',
  stepId: 'prep.preflight',
  phaseId: 'prep',
  incident: 'cutover:20261203-2200-ab12:step:prep.preflight',
  ...overrides,
});

/** Waits are recorded and skipped: what is asserted is how long the client chose to wait, and why. */
function recordingRetry(): RetryOptions & { waits: RetryWait[] } {
  const waits: RetryWait[] = [];
  return { attempts: 4, baseDelayMs: 100, waits, onRetry: (wait) => waits.push(wait), sleep: async () => {} };
}

let slack: SlackFake;
let pagerduty: PagerDutyFake;
let webhook: WebhookFake;
beforeAll(async () => {
  [slack, pagerduty, webhook] = await Promise.all([startSlackFake(), startPagerDutyFake(), startWebhookFake({ secret: 'hmac-secret-for-tests' })]);
});
afterAll(async () => {
  await Promise.all([slack.close(), pagerduty.close(), webhook.close()]);
});

describe('Slack incoming webhook (@slack/webhook)', () => {
  const target = () => new SlackTarget({ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, slack.webhookUrl);

  it('posts the title, what to do and the run as text; Slack answers 200 "ok"', async () => {
    await target().send(event(), 'd1', recordingRetry());
    const message = slack.posted.at(-1)!;
    expect(message.text).toContain('*prep.preflight failed*');
    expect(message.text).toContain('cutover retry prep.preflight');
    expect(message.text).toContain('run 20261203-2200-ab12');
  });

  it('waits as long as a 429 says (Retry-After) and retries; a 5xx is retried with backoff', async () => {
    const before = slack.posted.length;
    slack.inject({ method: 'POST', times: 1, status: 429, retryAfter: '7' });
    slack.inject({ method: 'POST', times: 1, status: 503 });
    const retry = recordingRetry();
    await target().send(event(), 'd2', retry);
    expect(retry.waits.map((wait) => [wait.status, wait.reason, wait.waitMs])).toEqual([
      [429, 'retry-after', 7000],
      [503, 'backoff', 200],
    ]);
    expect(slack.posted.length).toBe(before + 1);
  });

  it('does not retry a revoked webhook (403 invalid_token) and says what to do', async () => {
    const bad = new SlackTarget({ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, slack.webhookUrl.replace('xoxsecret', 'revoked'));
    const retry = recordingRetry();
    await expect(bad.send(event(), 'd3', retry)).rejects.toThrow(/HTTP 403: invalid_token/);
    expect(retry.waits).toEqual([]);
  });

  it('check reaches the webhook with a HEAD (nothing posted), and tells a dead one apart', async () => {
    const before = { posted: slack.posted.length, requests: slack.requests.length };
    const live = await target().reach(recordingRetry());
    expect(live).toMatchObject({ ok: true });
    expect(live.message).toMatch(/first real message/);
    expect(live.message).not.toContain('xoxsecret');
    expect(slack.posted.length).toBe(before.posted);
    const revoked = await new SlackTarget({ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, slack.webhookUrl.replace('xoxsecret', 'revoked')).reach(recordingRetry());
    expect(revoked).toMatchObject({ ok: false });
    expect(revoked.message).toContain('HTTP 404');
    expect(revoked.message).not.toContain('revokedwebhooktoken');
    expect(slack.requests.slice(before.requests).map((request) => request.method)).toEqual(['HEAD', 'HEAD']);
  });

  it('check finds nothing listening: unreachable, with the host named and the secret path not', async () => {
    const closed = await startSlackFake();
    const url = closed.webhookUrl;
    await closed.close();
    const dead = await new SlackTarget({ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, url).reach({ ...recordingRetry(), attempts: 1 });
    expect(dead.ok).toBe(false);
    expect(dead.message).toContain(new URL(url).host);
    expect(dead.message).not.toContain('xoxsecret');
  });
});

describe('PagerDuty Events API v2', () => {
  const target = (key = pagerduty.routingKey) => new PagerDutyTarget({ kind: 'pagerduty', name: 'on-call', routingKeyEnv: 'PAGERDUTY_ROUTING_KEY', baseUrl: pagerduty.url }, key);

  it('triggers with the incident as dedup key, a repeat stays one alert, and a resolve closes it', async () => {
    await target().send(event(), 'd1', recordingRetry());
    await target().send(event({ key: 'journal:9' }), 'd2', recordingRetry());
    const alert = pagerduty.alerts.get(event().incident!)!;
    expect(alert).toMatchObject({ status: 'triggered', severity: 'critical', triggers: 2, summary: 'FreshTrack Pro: prep.preflight failed' });
    await target().send(event({ key: 'journal:12:resolve', kind: 'resolved', severity: 'info', title: 'prep.preflight is fine again' }), 'd3', recordingRetry());
    expect(alert.status).toBe('resolved');
    expect(pagerduty.events.map((e) => e.action)).toEqual(['trigger', 'trigger', 'resolve']);
  });

  it('retries 429 (Retry-After) and 5xx, then is accepted (202)', async () => {
    pagerduty.inject({ times: 1, status: 429, retryAfter: '3' });
    pagerduty.inject({ times: 1, status: 500 });
    const retry = recordingRetry();
    await target().send(event({ incident: 'cutover:r:breach:hypercare.check', kind: 'check.breach' }), 'd4', retry);
    expect(retry.waits.map((wait) => [wait.status, wait.waitMs])).toEqual([[429, 3000], [500, 200]]);
    expect(pagerduty.alerts.get('cutover:r:breach:hypercare.check')?.status).toBe('triggered');
  });

  it('pages only critical events by default; a finished rollback resolves the rollback page', () => {
    const t = target();
    expect(t.wants(event({ kind: 'phase.opened', severity: 'info' }))).toBe(false);
    expect(t.wants(event({ kind: 'decision.verdict', severity: 'info' }))).toBe(false);
    expect(t.wants(event({ kind: 'decision.verdict', severity: 'critical' }))).toBe(true);
    expect(t.wants(event({ kind: 'rollback.finished', severity: 'info' }))).toBe(true);
  });

  it('check reaches the API with a HEAD: no event, no alert, the key not sent', async () => {
    const before = { alerts: pagerduty.alerts.size, events: pagerduty.events.length, requests: pagerduty.requests.length };
    const reached = await target().reach(recordingRetry());
    expect(reached).toMatchObject({ ok: true });
    expect(reached.message).toMatch(/first real event/);
    expect(pagerduty.alerts.size).toBe(before.alerts);
    expect(pagerduty.events.length).toBe(before.events);
    expect(pagerduty.requests.slice(before.requests).map((request) => [request.method, request.raw])).toEqual([['HEAD', '']]);
  });
});

describe('generic JSON webhook with an HMAC-SHA256 signature', () => {
  const target = (secret = 'hmac-secret-for-tests') => new WebhookTarget({ kind: 'webhook', name: 'audit', url: webhook.url, secretEnv: 'HOOK_SECRET', signatureHeader: 'X-Cutover-Signature' }, secret);

  it('signs the exact body, and the receiver verifies it', async () => {
    await target().send(event(), 'run:audit:journal:7', recordingRetry());
    const request = webhook.requests.at(-1)!;
    expect(request.headers['x-cutover-signature']).toBe(`sha256=${createHmac('sha256', 'hmac-secret-for-tests').update(request.raw).digest('hex')}`);
    expect(request.headers['x-cutover-signature']).toBe(signBody('hmac-secret-for-tests', request.raw));
    expect(request.headers['x-cutover-delivery']).toBe('run:audit:journal:7');
    expect(webhook.received.at(-1)).toMatchObject({ id: 'run:audit:journal:7', type: 'step.failed', stepId: 'prep.preflight', at: '2026-12-03T22:00:05-05:00' });
  });

  it('a wrong secret is refused (401) and not retried', async () => {
    const retry = recordingRetry();
    await expect(target('not-the-secret').send(event(), 'x', retry)).rejects.toThrow(/HTTP 401/);
    expect(retry.waits).toEqual([]);
    expect(webhook.badSignatures).toBe(1);
  });

  it('retries 429 and 5xx under the same delivery id', async () => {
    webhook.inject({ times: 1, status: 429, retryAfter: '1' });
    webhook.inject({ times: 1, status: 502 });
    const retry = recordingRetry();
    await target().send(event({ key: 'journal:20' }), 'run:audit:journal:20', retry);
    expect(retry.waits.map((wait) => wait.status)).toEqual([429, 502]);
    const ids = webhook.requests.slice(-3).map((request) => request.headers['x-cutover-delivery']);
    expect(ids).toEqual(['run:audit:journal:20', 'run:audit:journal:20', 'run:audit:journal:20']);
    expect(webhook.received.filter((body) => body.id === 'run:audit:journal:20')).toHaveLength(1);
  });

  it('check reaches the receiver with a HEAD: nothing delivered, nothing signed', async () => {
    const before = { received: webhook.received.length, requests: webhook.requests.length, bad: webhook.badSignatures };
    const reached = await target().reach(recordingRetry());
    expect(reached).toMatchObject({ ok: true });
    expect(reached.message).not.toContain('hmac-secret-for-tests');
    expect(webhook.received.length).toBe(before.received);
    expect(webhook.badSignatures).toBe(before.bad);
    const sent = webhook.requests.slice(before.requests);
    expect(sent.map((request) => request.method)).toEqual(['HEAD']);
    expect(sent[0]!.headers['x-cutover-signature']).toBeUndefined();
  });
});

describe('cutover check over every target', () => {
  it('reaches Slack, PagerDuty and the webhook, and sends them nothing but HEAD/GET', async () => {
    const before = [slack, pagerduty, webhook].map((fake) => fake.requests.length);
    // checkNotifications reads only plan.notifications.
    const plan = {
      notifications: {
        targets: [
          { kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' },
          { kind: 'pagerduty', name: 'on-call', routingKeyEnv: 'PAGERDUTY_ROUTING_KEY', baseUrl: pagerduty.url },
          { kind: 'webhook', name: 'audit', url: webhook.url, secretEnv: 'HOOK_SECRET', signatureHeader: 'X-Cutover-Signature' },
        ],
      },
    } as unknown as Plan;
    const env = { SLACK_WEBHOOK_URL: slack.webhookUrl, PAGERDUTY_ROUTING_KEY: pagerduty.routingKey, HOOK_SECRET: 'hmac-secret-for-tests' };
    const results = await checkNotifications(plan, env);
    expect(results.map((result) => [result.system, result.ok])).toEqual([
      ['notifications ops-chat (slack)', true],
      ['notifications on-call (pagerduty)', true],
      ['notifications audit (webhook)', true],
    ]);
    for (const message of results.map((result) => result.message)) {
      for (const secret of Object.values(env).map((value) => (value.includes('/services/') ? new URL(value).pathname : value))) expect(message).not.toContain(secret);
    }
    const sent = [slack, pagerduty, webhook].flatMap((fake, i) => fake.requests.slice(before[i]));
    expect(sent.length).toBe(3);
    expect(sent.filter((request) => request.method !== 'HEAD' && request.method !== 'GET')).toEqual([]);
  });
});
