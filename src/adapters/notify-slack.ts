import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError, type FetchFunction } from '@slack/webhook';
import type { NotificationTarget } from '../config/notify-schema.js';
import { failureOf, headStatus } from './notify-http.js';
import { wantedByPlan, type NotifyEvent, type NotifyTarget, type Reach } from './notify-types.js';
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
  readonly wants: (event: NotifyEvent) => boolean;

  constructor(
    plan: SlackPlan,
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.name = plan.name;
    this.wants = wantedByPlan(plan.events);
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
   * Slack has no "test" call for incoming webhooks, and any POST may post. A HEAD of the hook URL posts
   * nothing: no answer at all means unreachable, 403/404/410 (`invalid_token`, `no_service`,
   * `channel_is_archived`) a revoked or unknown hook; any other answer only proves Slack is reached,
   * since whether the hook posts to its channel is proven by the first real message alone.
   */
  async reach(retry: RetryOptions): Promise<Reach> {
    let status: number;
    try {
      status = await withRetry('Slack', `Slack webhook ${this.name}`, () => headStatus(this.url, this.timeoutMs, retry.signal), retry);
    } catch (error) {
      return { ok: false, message: `${(error as Error).message}. Check the network path to Slack and the URL in the environment variable.` };
    }
    if ([403, 404, 410].includes(status)) {
      return { ok: false, message: `HTTP ${status} for the webhook URL: revoked, archived or mistyped. Create a new incoming webhook for the channel and put its URL in the environment variable.` };
    }
    return { ok: true, message: `reached ${new URL(this.url).host} (HTTP ${status} to a HEAD, nothing posted); only the first real message proves the webhook posts to its channel` };
  }
}
