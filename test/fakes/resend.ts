import { createHash, randomUUID } from 'node:crypto';
import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A contract fake of the Resend API: POST /emails/batch (≤ 100 emails, `Idempotency-Key` semantics),
 * GET /domains and GET /api-keys. Errors use Resend's body `{ statusCode, name, message }`.
 *
 * Idempotency as documented: the same key with the same body within 24 h returns the first response
 * and sends nothing; the same key with a different body is 409 `invalid_idempotent_request`; the same
 * key while the first request is still being processed is 409 `concurrent_idempotent_requests`.
 * A batch is "delivered" (recorded in `deliveries`) when it is processed, before the reply goes out,
 * so a client that dies waiting for the reply has still sent the mail, as with the real service.
 */

export interface Delivery {
  id: string;
  from: string;
  to: string;
  subject: string;
  html?: string;
  text?: string;
  idempotencyKey?: string;
}

export interface FakeDomain {
  name: string;
  status: 'verified' | 'pending' | 'failed' | 'not_started' | 'temporary_failure';
}

export interface ResendFake {
  url: string;
  deliveries: Delivery[];
  requests: RecordedRequest[];
  domains: FakeDomain[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

function error(statusCode: number, name: string, message: string): Reply {
  return { status: statusCode, body: { statusCode, name, message } };
}

interface BatchEmail {
  from?: string;
  to?: string | string[];
  subject?: string;
  html?: string;
  text?: string;
}

export async function startResendFake(options: {
  /** API keys and their access: `full`, or `sending` (restricted to sending emails). */
  keys: Record<string, 'full' | 'sending'>;
  domains?: FakeDomain[];
}): Promise<ResendFake> {
  const deliveries: Delivery[] = [];
  const domains = options.domains ?? [];
  const seen = new Map<string, { hash: string; reply?: Reply }>();

  const handle = (request: RecordedRequest): Reply => {
    const auth = String(request.headers.authorization ?? '');
    if (!auth.startsWith('Bearer ') || auth === 'Bearer ') return error(401, 'missing_api_key', 'Missing API key in the authorization header.');
    const access = options.keys[auth.slice(7)];
    if (!access) return error(403, 'invalid_api_key', 'API key is invalid');

    if (request.method === 'GET' && (request.path === '/domains' || request.path === '/api-keys')) {
      if (access !== 'full') return error(401, 'restricted_api_key', 'This API key is restricted to only send emails');
      if (request.path === '/api-keys') {
        return { status: 200, body: { object: 'list', has_more: false, data: Object.keys(options.keys).map((_, index) => ({ id: `key-${index}`, name: `key ${index}`, created_at: '2026-01-01T00:00:00Z' })) } };
      }
      return {
        status: 200,
        body: {
          object: 'list',
          has_more: false,
          data: domains.map((domain, index) => ({ id: `domain-${index}`, name: domain.name, status: domain.status, created_at: '2026-01-01T00:00:00Z', region: 'us-east-1', capabilities: { sending: 'enabled', receiving: 'disabled' } })),
        },
      };
    }

    if (request.method === 'POST' && request.path === '/emails/batch') {
      const emails = request.body as BatchEmail[];
      if (!Array.isArray(emails) || emails.length === 0) return error(422, 'validation_error', 'The request body must be a non-empty array of emails.');
      if (emails.length > 100) return error(422, 'validation_error', 'Too many emails in the batch: the maximum is 100.');
      for (const email of emails) {
        if (!email.from || !email.to || !email.subject || (!email.html && !email.text)) {
          return error(422, 'validation_error', 'Each email needs from, to, subject and html or text.');
        }
      }
      const key = request.headers['idempotency-key'] as string | undefined;
      const hash = createHash('sha256').update(JSON.stringify(emails)).digest('hex');
      if (key !== undefined) {
        if (key.length < 1 || key.length > 256) return error(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
        const previous = seen.get(key);
        if (previous) {
          if (previous.hash !== hash) return error(409, 'invalid_idempotent_request', 'Same idempotency key used with a different request payload. Change your idempotency key or payload.');
          if (!previous.reply) return error(409, 'concurrent_idempotent_requests', 'Same idempotency key used while original request is still in progress. Try the request again later.');
          return previous.reply;
        }
        seen.set(key, { hash });
      }
      const ids: Array<{ id: string }> = [];
      for (const email of emails) {
        const delivery: Delivery = {
          id: randomUUID(),
          from: email.from as string,
          to: Array.isArray(email.to) ? (email.to[0] as string) : (email.to as string),
          subject: email.subject as string,
          ...(email.html ? { html: email.html } : {}),
          ...(email.text ? { text: email.text } : {}),
          ...(key ? { idempotencyKey: key } : {}),
        };
        deliveries.push(delivery);
        ids.push({ id: delivery.id });
      }
      const reply: Reply = { status: 200, body: { data: ids } };
      if (key !== undefined) seen.set(key, { hash, reply });
      return reply;
    }
    return error(404, 'not_found', `No route ${request.method} ${request.path}`);
  };

  const server = await startFakeServer(handle, (status) =>
    status === 429
      ? { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests. You can only make 2 requests per second.' }
      : { statusCode: status, name: 'internal_server_error', message: 'An unexpected error occurred.' },
  );
  return { url: server.url, deliveries, requests: server.requests, domains, inject: server.inject, close: server.close };
}
