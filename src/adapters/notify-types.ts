import type { NotifyEventKind } from '../config/notify-schema.js';
import type { RetryOptions } from './retry.js';

/**
 * What a notification target is given and what it must do. The events themselves are derived by
 * src/services/notify-events.ts; a target only turns one into its service's request.
 */

export type Severity = 'info' | 'warning' | 'critical';

export interface NotifyEvent {
  /** Unique within the run: `journal:SEQ`, `gate:STEP:ATTEMPT:ROUND`, `phase:ID`, `rollback.finished`… */
  key: string;
  kind: NotifyEventKind | 'resolved';
  severity: Severity;
  /** One line for a chat message or a page. */
  title: string;
  /** What it means and what to do next, including the command to run when one is needed. */
  text: string;
  runId: string;
  plan: string;
  environment: string;
  /** ISO-8601 with the plan's offset. */
  at: string;
  stepId?: string;
  phaseId?: string;
  /**
   * The incident this event belongs to (PagerDuty's dedup key): a failure and the later success of
   * the same step share it, so the page the failure opened is resolved by the success.
   */
  incident?: string;
}

export interface Reach {
  ok: boolean;
  message: string;
}

export interface NotifyTarget {
  readonly name: string;
  readonly kind: 'slack' | 'pagerduty' | 'webhook';
  /**
   * Whether the receiver drops a repeat of the same delivery (PagerDuty by dedup key, a webhook
   * receiver by the delivery id). A delivery in flight when the process died is sent again only
   * to such targets; a chat message might show twice, so it is recorded as "outcome unknown" instead.
   */
  readonly idempotent: boolean;
  /** Whether this target is told about the event (the plan's `events` filter, or the target's default). */
  wants(event: NotifyEvent): boolean;
  /** Send once, with bounded retries; throws ExternalError when it could not. */
  send(event: NotifyEvent, deliveryId: string, retry: RetryOptions): Promise<void>;
  /** Reach the service without posting anything anyone would see (`cutover check`). */
  reach(retry: RetryOptions): Promise<Reach>;
}

/**
 * The plan's `events` list for a chat or webhook target: without one, every event; with one, those
 * kinds, and always the resolves (they only close what was sent). PagerDuty differs (it pages only for
 * critical events by default) and decides for itself.
 */
export function wantedByPlan(events: readonly string[] | undefined): (event: NotifyEvent) => boolean {
  if (!events) return () => true;
  const kinds = new Set(events);
  return (event) => event.kind === 'resolved' || kinds.has(event.kind);
}
