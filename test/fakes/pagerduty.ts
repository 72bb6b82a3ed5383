import { randomBytes } from 'node:crypto';
import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A contract fake of the PagerDuty Events API v2 (POST /v2/enqueue), as documented:
 * - 202 `{ status: "success", message: "Event processed", dedup_key }` for a valid event;
 * - 400 `{ status: "invalid event", message: "Event object is invalid", errors: [...] }` otherwise,
 *   including an unknown routing key;
 * - trigger with a dedup key whose alert is open is merged into it (no second incident);
 *   resolve closes it; resolve/acknowledge of a key with no open alert is accepted and does nothing;
 * - HEAD/GET of /v2/enqueue: 405, nothing recorded as an event;
 * - 429 and 5xx can be injected (the API asks clients to retry those).
 */

export interface PagerDutyAlert {
  dedupKey: string;
  summary: string;
  severity: string;
  status: 'triggered' | 'resolved';
  /** Trigger events merged into this alert (1 = no repeat). */
  triggers: number;
}

export interface PagerDutyFake {
  url: string;
  routingKey: string;
  /** Accepted events in order. */
  events: { action: string; dedupKey: string }[];
  alerts: Map<string, PagerDutyAlert>;
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

const invalid = (errors: string[]): Reply => ({ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } });

export async function startPagerDutyFake(): Promise<PagerDutyFake> {
  const routingKey = 'R0UTINGKEY0123456789ABCDEFGHIJ01';
  const events: PagerDutyFake['events'] = [];
  const alerts = new Map<string, PagerDutyAlert>();
  const handle = (request: RecordedRequest): Reply => {
    if (request.path !== '/v2/enqueue') return { status: 404, body: { status: 'not found' } };
    if (request.method !== 'POST') return { status: 405, body: { status: 'method not allowed' } };
    const body = request.body as Record<string, any> | undefined;
    if (!body || typeof body !== 'object') return invalid(['Event object is not valid JSON']);
    if (body.routing_key !== routingKey) return invalid(['Invalid routing key']);
    const action = body.event_action;
    if (!['trigger', 'acknowledge', 'resolve'].includes(action)) return invalid(["'event_action' is invalid"]);
    const dedupKey: string = body.dedup_key ?? randomBytes(16).toString('hex');
    if (dedupKey.length > 255) return invalid(["'dedup_key' is too long"]);
    if (action === 'trigger') {
      const payload = body.payload ?? {};
      const errors = [
        ...(typeof payload.summary === 'string' && payload.summary ? [] : ["'payload.summary' is missing"]),
        ...(typeof payload.source === 'string' && payload.source ? [] : ["'payload.source' is missing"]),
        ...(['critical', 'error', 'warning', 'info'].includes(payload.severity) ? [] : ["'payload.severity' is invalid"]),
      ];
      if (errors.length) return invalid(errors);
      const open = alerts.get(dedupKey);
      if (open?.status === 'triggered') open.triggers += 1;
      else alerts.set(dedupKey, { dedupKey, summary: payload.summary, severity: payload.severity, status: 'triggered', triggers: 1 });
    } else if (action === 'resolve') {
      const open = alerts.get(dedupKey);
      if (open) open.status = 'resolved';
    }
    events.push({ action, dedupKey });
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  };
  const server = await startFakeServer(handle, (status) =>
    status === 429 ? { status: 'throttled', message: 'Requests for this service are arriving too quickly.' } : { status: 'error', message: 'Internal server error' },
  );
  return { url: server.url, routingKey, events, alerts, requests: server.requests, inject: server.inject, close: server.close };
}
