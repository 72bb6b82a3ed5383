import { createHmac, timingSafeEqual } from 'node:crypto';
import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A receiver of the generic JSON webhook that does what a careful receiver does: it verifies the
 * HMAC-SHA256 signature of the exact body (401 when it does not match), and treats the delivery id
 * as an idempotency key (a repeat is answered 200 and not processed again).
 */

export interface WebhookFake {
  url: string;
  /** Verified, first-time deliveries, in order. */
  received: Record<string, unknown>[];
  /** Deliveries that arrived again under an id already processed. */
  repeats: string[];
  /** Requests refused for their signature. */
  badSignatures: number;
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

export async function startWebhookFake(options: { secret: string; header?: string }): Promise<WebhookFake> {
  const header = (options.header ?? 'X-Cutover-Signature').toLowerCase();
  const received: Record<string, unknown>[] = [];
  const repeats: string[] = [];
  const seen = new Set<string>();
  const fake = { badSignatures: 0 };
  const handle = (request: RecordedRequest): Reply => {
    // A HEAD/GET carries nothing to verify or process: the receiver just answers.
    if (request.method === 'HEAD' || request.method === 'GET') return { status: 405, body: { error: 'POST only' } };
    const expected = Buffer.from(`sha256=${createHmac('sha256', options.secret).update(request.raw).digest('hex')}`);
    const given = Buffer.from(String(request.headers[header] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      fake.badSignatures += 1;
      return { status: 401, body: { error: 'bad signature' } };
    }
    const body = request.body as Record<string, unknown>;
    const id = String(body.id);
    if (seen.has(id)) {
      repeats.push(id);
      return { status: 200, body: { ok: true, duplicate: true } };
    }
    seen.add(id);
    if (body.type !== 'ping') received.push(body);
    return { status: 200, body: { ok: true } };
  };
  const server = await startFakeServer(handle, (status) => ({ error: `HTTP ${status}` }));
  return {
    url: `${server.url}/hooks/cutover`,
    received,
    repeats,
    get badSignatures() {
      return fake.badSignatures;
    },
    requests: server.requests,
    inject: server.inject,
    close: server.close,
  };
}
