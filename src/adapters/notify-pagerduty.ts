import type { NotificationTarget } from '../config/notify-schema.js';
import { headStatus, postJson } from './notify-http.js';
import type { NotifyEvent, NotifyTarget, Reach } from './notify-types.js';
import { withRetry, type RetryOptions } from './retry.js';

type PagerDutyPlan = Extract<NotificationTarget, { kind: 'pagerduty' }>;

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com';

/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`). The dedup key is the event's incident, so a failure
 * that repeats stays one page, the later success resolves it, and a delivery sent twice after a
 * crash is dropped by PagerDuty itself.
 */
export class PagerDutyTarget implements NotifyTarget {
  readonly kind = 'pagerduty';
  readonly idempotent = true;
  readonly name: string;
  private readonly events?: ReadonlySet<string>;
  private readonly url: string;

  constructor(
    plan: PagerDutyPlan,
    private readonly routingKey: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.name = plan.name;
    if (plan.events) this.events = new Set(plan.events);
    this.url = `${(plan.baseUrl ?? PAGERDUTY_EVENTS_URL).replace(/\/$/, '')}/v2/enqueue`;
  }

  /** By default only what should wake someone: critical events, and the resolves that close them. */
  wants(event: NotifyEvent): boolean {
    if (PagerDutyTarget.resolves(event)) return true;
    return this.events ? this.events.has(event.kind) : event.severity === 'critical';
  }

  /** A resolve closes an incident; a finished rollback closes the page its start opened. */
  static resolves(event: NotifyEvent): boolean {
    return event.kind === 'resolved' || event.kind === 'rollback.finished';
  }

  /** `incident` groups related events; an event without one is its own incident. */
  static dedupKey(event: NotifyEvent): string {
    return (event.incident ?? `cutover:${event.runId}:${event.key}`).slice(0, 255);
  }

  async send(event: NotifyEvent, _deliveryId: string, retry: RetryOptions): Promise<void> {
    const resolve = PagerDutyTarget.resolves(event);
    const body = {
      routing_key: this.routingKey,
      event_action: resolve ? 'resolve' : 'trigger',
      dedup_key: PagerDutyTarget.dedupKey(event),
      ...(resolve
        ? {}
        : {
            payload: {
              summary: `${event.environment === 'staging' ? '[STAGING] ' : ''}${event.plan}: ${event.title}`.slice(0, 1024),
              source: `cutover run ${event.runId}`,
              severity: event.severity === 'critical' ? 'critical' : event.severity === 'warning' ? 'warning' : 'info',
              timestamp: event.at,
              ...(event.stepId ? { component: event.stepId } : {}),
              ...(event.phaseId ? { group: event.phaseId } : {}),
              class: event.kind,
              custom_details: { text: event.text, run: event.runId, environment: event.environment },
            },
          }),
    };
    await withRetry('PagerDuty', `PagerDuty ${this.name}: ${body.event_action} "${event.title}"`, () => postJson(this.url, JSON.stringify(body), {}, this.timeoutMs, retry.signal), retry);
  }

  /**
   * The Events API has no test call, and every POST is an event. A HEAD of the enqueue URL changes
   * nothing: any answer proves the API is reached; the routing key is checked by the first real event.
   */
  async reach(retry: RetryOptions): Promise<Reach> {
    try {
      const status = await withRetry('PagerDuty', `PagerDuty ${this.name}`, () => headStatus(this.url, this.timeoutMs, retry.signal), retry);
      return { ok: true, message: `reached ${new URL(this.url).host} (HTTP ${status} to a HEAD, no event sent); the integration key is proven by the first real event` };
    } catch (error) {
      return { ok: false, message: `${(error as Error).message}. Check the network path to the PagerDuty Events API (baseUrl in the plan).` };
    }
  }
}
