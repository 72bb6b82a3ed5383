import { createHmac } from 'node:crypto';
import type { NotificationTarget } from '../config/notify-schema.js';
import { headStatus, postJson } from './notify-http.js';
import { wantedByPlan, type NotifyEvent, type NotifyTarget, type Reach } from './notify-types.js';
import { withRetry, type RetryOptions } from './retry.js';

type WebhookPlan = Extract<NotificationTarget, { kind: 'webhook' }>;

/** `sha256=<hex>` over the exact bytes of the body, as GitHub and Stripe-style receivers expect. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * A generic JSON webhook. Each request carries the delivery id (`X-Cutover-Delivery`, also `id` in
 * the body) so a receiver can drop a repeat, and an HMAC-SHA256 signature of the body so it can
 * trust the sender.
 */
export class WebhookTarget implements NotifyTarget {
  readonly kind = 'webhook';
  readonly idempotent = true;
  readonly name: string;
  readonly wants: (event: NotifyEvent) => boolean;

  constructor(
    private readonly plan: WebhookPlan,
    private readonly secret: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.name = plan.name;
    this.wants = wantedByPlan(plan.events);
  }

  private post(id: string, payload: Record<string, unknown>, signal?: AbortSignal) {
    const body = JSON.stringify({ id, ...payload });
    return postJson(this.plan.url, body, { [this.plan.signatureHeader]: signBody(this.secret, body), 'x-cutover-delivery': id }, this.timeoutMs, signal);
  }

  async send(event: NotifyEvent, deliveryId: string, retry: RetryOptions): Promise<void> {
    await withRetry('webhook', `webhook ${this.name}: post "${event.title}"`, () => this.post(deliveryId, { type: event.kind, ...event }, retry.signal), retry);
  }

  /**
   * A HEAD of the webhook URL: nothing is delivered. Any answer proves the receiver is reached; the
   * shared secret is proven by the first real (signed) delivery.
   */
  async reach(retry: RetryOptions): Promise<Reach> {
    try {
      const status = await withRetry('webhook', `webhook ${this.name}`, () => headStatus(this.plan.url, this.timeoutMs, retry.signal), retry);
      return { ok: true, message: `reached ${this.plan.url} (HTTP ${status} to a HEAD, nothing delivered); the signing secret is proven by the first real delivery` };
    } catch (error) {
      return { ok: false, message: `${this.plan.url}: ${(error as Error).message}` };
    }
  }
}
