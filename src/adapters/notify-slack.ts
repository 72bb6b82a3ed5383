import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError, type FetchFunction } from '@slack/webhook';
import type { NotificationTarget } from '../config/notify-schema.js';
import { failureOf } from './notify-http.js';
import type { NotifyEvent, NotifyTarget, Reach } from './notify-types.js';
import { RequestFailure, withRetry, type RetryOptions } from './retry.js';

type SlackPlan = Extract<NotificationTarget, { kind: 'slack' }>;

const ICON: Record<NotifyEvent['severity'], string> = { info: ':large_blue_circle:', warning: ':warning:', critical: ':rotating_light:' };

/**
 * A Slack-compatible incoming webhook through the official `@slack/webhook` client. Its own retries
 * are off: it fails a 429 at once and hides the Retry-After header, so our fetch keeps the last
 * response's header and `withRetry` (the one retry policy) decides.
 */
export class SlackTarget implements NotifyTarget {
  readonly kind = 'slack';
  readonly idempotent = false;
  readonly name: string;
  private readonly events?: ReadonlySet<string>;

  constructor(
    plan: SlackPlan,
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.name = plan.name;
    if (plan.events) this.events = new Set(plan.events);
  }

  wants(event: NotifyEvent): boolean {
    return !this.events || event.kind === 'resolved' || this.events.has(event.kind);
  }

  private async post(payload: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
    let retryAfter: string | null = null;
    const remember: FetchFunction = async (url, init) => {
      const response = await fetch(url, { ...(init as RequestInit), ...(signal ? { signal: init?.signal ? AbortSignal.any([signal, init.signal]) : signal } : {}) });
      retryAfter = response.headers.get('retry-after');
      return response;
    };
    const webhook = new IncomingWebhook(this.url, { fetch: remember, timeout: this.timeoutMs, retryConfig: { retries: 0 } });
    try {
      return (await webhook.send(payload)).text;
    } catch (error) {
      if (error instanceof IncomingWebhookHTTPError) throw failureOf(error.statusCode, error.body, retryAfter);
      if (error instanceof IncomingWebhookRequestError) throw new RequestFailure(`no answer from the webhook: ${error.original.message}`, undefined, true);
      throw error;
    }
  }

  async send(event: NotifyEvent, _deliveryId: string, retry: RetryOptions): Promise<void> {
    const staging = event.environment === 'staging' ? '[STAGING] ' : '';
    const text = `${ICON[event.severity]} *${staging}${event.title}*\n${event.text}\n_${event.plan} · run ${event.runId}_`;
    await withRetry('Slack', `Slack webhook ${this.name}: post "${event.title}"`, () => this.post({ text }, retry.signal), retry);
  }

  /**
   * Slack has no "test" call for incoming webhooks. A payload without text is refused before anything
   * is posted: a live webhook answers 400 (Slack: `no_text` / `invalid_payload`), a revoked or wrong one
   * 403 (`invalid_token`, `action_prohibited`), 404 (`no_service`, `channel_not_found`) or 410
   * (`channel_is_archived`); see api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks.
   */
  async reach(retry: RetryOptions): Promise<Reach> {
    try {
      await withRetry('Slack', `Slack webhook ${this.name}`, () => this.post({}, retry.signal), retry);
      return { ok: false, message: `the webhook accepted an empty message; is it really a Slack incoming webhook?` };
    } catch (error) {
      const status = (error as { status?: number }).status;
      // Slack answers `no_text`; Slack-compatible servers (Mattermost, Rocket.Chat) word it their own way.
      if (status === 400) return { ok: true, message: 'the incoming webhook is live (an empty test payload was refused, nothing was posted)' };
      return { ok: false, message: `${(error as Error).message}. Create a new incoming webhook for the channel and put its URL in the environment variable.` };
    }
  }
}
