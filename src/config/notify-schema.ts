import { z } from 'zod';

/**
 * Team notifications: where the run tells people that something needs them. Secrets (the Slack
 * webhook URL carries its token, the PagerDuty routing key, the HMAC secret) come from environment
 * variables named here, never from the plan itself.
 */

const envName = z
  .string({ error: 'expected the name of an environment variable' })
  .regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable (e.g. SLACK_WEBHOOK_URL), not its value' });

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

export const notifyEventKinds = [
  'phase.opened',
  'gate.waiting',
  'step.failed',
  'step.attention',
  'check.breach',
  'reconcile.drift',
  'decision.verdict',
  'rollback.started',
  'rollback.finished',
] as const;
export type NotifyEventKind = (typeof notifyEventKinds)[number];

const events = z
  .array(z.enum(notifyEventKinds))
  .min(1)
  .optional()
  .meta({ examples: [['step.failed', 'check.breach', 'reconcile.drift']] })
  .describe('Which events this target receives. Default: every event for chat and webhooks; for PagerDuty only those that page (failures, breaches, drift, a rollback verdict, the rollback itself).');

const targetName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected a short name such as ops-chat (lower case, digits, dashes)' }).describe('A short name for the target, used in records and `cutover check`.').meta({ examples: ['ops-chat'] });

export const notificationTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('slack').meta({ examples: ['slack'] }).describe('A Slack (or Slack-compatible: Mattermost, Rocket.Chat…) incoming webhook.'),
    name: targetName,
    webhookUrlEnv: envName.describe('Environment variable holding the incoming-webhook URL (it carries the token).').meta({ examples: ['SLACK_WEBHOOK_URL'] }),
    events,
  }),
  z.strictObject({
    kind: z.literal('pagerduty').meta({ examples: ['pagerduty'] }).describe('PagerDuty Events API v2: trigger, then resolve with the same dedup key.'),
    name: targetName,
    routingKeyEnv: envName.describe('Environment variable holding the integration (routing) key of the PagerDuty service.').meta({ examples: ['PAGERDUTY_ROUTING_KEY'] }),
    baseUrl: httpUrl.optional().describe('Events API base URL; default https://events.pagerduty.com (EU accounts: https://events.eu.pagerduty.com).').meta({ examples: ['https://events.eu.pagerduty.com'] }),
    events,
  }),
  z.strictObject({
    kind: z.literal('webhook').meta({ examples: ['webhook'] }).describe('A generic JSON webhook, each request signed with HMAC-SHA256 over the body.'),
    name: targetName,
    url: httpUrl.describe('Where events are POSTed as JSON.').meta({ examples: ['https://ops.example.com/hooks/cutover'] }),
    secretEnv: envName.describe('Environment variable holding the shared HMAC secret.').meta({ examples: ['CUTOVER_HOOK_SECRET'] }),
    signatureHeader: z.string().min(1).default('X-Cutover-Signature').describe('Header carrying `sha256=<hex HMAC of the body>`.'),
    events,
  }),
]);

export const notificationsSchema = z
  .strictObject({
    targets: z
      .array(notificationTargetSchema)
      .default([])
      .meta({ examples: [[{ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, { kind: 'pagerduty', name: 'on-call', routingKeyEnv: 'PAGERDUTY_ROUTING_KEY' }]] })
      .refine((targets) => new Set(targets.map((target) => target.name)).size === targets.length, { error: 'two notification targets have the same name' })
      .describe('Where events are sent. Each event reaches each target once, even across restarts.'),
    // Bounded so a dead chat server never holds up a runner that is about to exit.
    deadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(600)
      .default(60)
      .describe('How long one delivery may take, retries (429 Retry-After, 5xx) included, before it is given up and recorded as failed.'),
  })
  .default({ targets: [], deadlineSeconds: 60 })
  .describe('Team notifications (chat, paging, webhooks). They never block or fail the run.');

export type NotificationsPlan = z.output<typeof notificationsSchema>;
export type NotificationTarget = NotificationsPlan['targets'][number];
