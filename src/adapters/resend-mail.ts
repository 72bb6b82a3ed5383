import { setTimeout as delay } from 'node:timers/promises';
import { Resend } from 'resend';
import { ExternalError, RequestFailure, withRetry, type RetryOptions } from './retry.js';
import { applyStagingPolicy, type StagingPolicy } from './staging.js';
import type { MailProvider, OutgoingMessage, SendBatchResult } from './types.js';

/**
 * Mail through Resend's batch endpoint. The SDK never throws for an HTTP error: it returns
 * `{ data, error, headers }`, so every result is checked here. The idempotency key goes in the
 * `Idempotency-Key` header: Resend answers a repeated key with the first response for 24 hours, which
 * is what makes re-sending an in-flight batch after a crash safe.
 */

export interface ResendMailOptions {
  apiKey: string;
  /** Name of the variable the key came from, for messages. */
  apiKeyEnv: string;
  from: string;
  /** API base URL override (contract fakes). Takes precedence over RESEND_BASE_URL. */
  baseUrl?: string;
  /**
   * API requests per second. Resend's default team limit is 2 requests per second and one batch of
   * up to 100 messages is one request, so this paces batches.
   */
  ratePerSecond: number;
  /** Staging plans: subjects marked, and only allow-listed recipients really sent to. */
  staging?: StagingPolicy;
  /** Per-request timeout; a slow reply counts as a failed attempt and is retried under the same key. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Clock for pacing (tests). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
}

const MAX_BATCH = 100;

interface ResendErrorBody {
  message: string;
  statusCode: number | null;
  name: string;
}

/** A Resend `{ error }` result as a RequestFailure for the retry loop, with a message for the operator. */
export function classifyResendError(
  error: ResendErrorBody,
  headers: Record<string, string> | null,
  apiKeyEnv: string,
): RequestFailure {
  const status = error.statusCode ?? undefined;
  const retryAfter = headers?.['retry-after'];
  const said = `Resend said: ${error.name}: ${error.message}`;
  if (status === undefined) return new RequestFailure(`could not reach Resend (${error.message})`, undefined, true);
  if (error.name === 'daily_quota_exceeded' || error.name === 'monthly_quota_exceeded') {
    return new RequestFailure(`the Resend sending quota is used up; raise it or wait for it to reset (${said})`, status, false);
  }
  if (status === 429) return new RequestFailure(`Resend rate limit reached (${said})`, status, true, retryAfter);
  if (status >= 500) return new RequestFailure(`Resend server error (${said})`, status, true, retryAfter);
  // The first request with this key is still being processed: asking again shortly gets its answer.
  if (error.name === 'concurrent_idempotent_requests') return new RequestFailure(said, status, true, retryAfter);
  if (error.name === 'invalid_idempotent_request') {
    return new RequestFailure(
      `this batch's idempotency key was already used with different content (did the template or the audience change since the first attempt?); ${said}`,
      status,
      false,
    );
  }
  if (error.name === 'invalid_api_key' || error.name === 'missing_api_key') {
    return new RequestFailure(`Resend rejected the API key in ${apiKeyEnv}: set it to a valid key (${said})`, status, false);
  }
  return new RequestFailure(`Resend refused the batch (${said})`, status, false);
}

export class ResendMailProvider implements MailProvider {
  readonly kind = 'resend';
  readonly client: Resend;
  private lastRequestAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ResendMailOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('mail.ratePerSecond must be positive');
    // The SDK reads RESEND_BASE_URL at construction; an explicit baseUrl wins so a plan can point at a fake.
    this.client = new Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : undefined);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Wait until the next request is allowed by the configured rate. */
  private async pace(): Promise<void> {
    const interval = 1000 / this.options.ratePerSecond;
    const wait = this.lastRequestAt + interval - this.now();
    if (wait > 0) await (this.options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal })))(wait, this.options.signal);
    this.lastRequestAt = this.now();
  }

  async sendBatch(messages: OutgoingMessage[], { idempotencyKey }: { idempotencyKey: string }): Promise<SendBatchResult> {
    if (messages.length > MAX_BATCH) throw new RangeError(`a batch holds at most ${MAX_BATCH} messages, got ${messages.length}`);
    if (!idempotencyKey) throw new RangeError('an idempotency key is required');
    const { send, dropped } = this.options.staging
      ? applyStagingPolicy(messages, this.options.staging)
      : { send: messages, dropped: 0 };
    if (send.length === 0) return { ids: [], dropped };

    const payload = send.map((message) => ({
      from: this.options.from,
      to: [message.to],
      subject: message.subject,
      html: message.html,
      text: message.text,
    }));
    const { signal } = this.options;
    const timeoutMs = this.options.timeoutMs ?? 30_000;

    const ids = await withRetry(
      'Resend',
      `Resend: send batch ${idempotencyKey} (${send.length} messages)`,
      async () => {
        await this.pace();
        const timeout = AbortSignal.timeout(timeoutMs);
        const result = await this.client.batch.send(payload, {
          idempotencyKey,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        // An abort by the step (not the timeout) must stop the step, not look like a network error.
        signal?.throwIfAborted();
        if (result.error) throw classifyResendError(result.error, result.headers, this.options.apiKeyEnv);
        const accepted = result.data?.data;
        if (!Array.isArray(accepted) || accepted.length !== send.length) {
          throw new ExternalError(
            'Resend',
            `Resend accepted ${Array.isArray(accepted) ? accepted.length : 'no'} of ${send.length} messages in batch ${idempotencyKey}`,
          );
        }
        return accepted.map((item) => item.id);
      },
      { ...this.options.retry, ...(signal ? { signal } : {}) },
    );
    return { ids, dropped };
  }
}
