import { setTimeout as delay } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';

/**
 * The one retry policy for external APIs (Cloudflare, Resend). The SDKs' own retries are off so that
 * this is the only place that decides: bounded attempts, a 429's Retry-After obeyed exactly, 5xx and
 * network failures retried with backoff, every other 4xx failed at once (retrying a missing permission
 * only delays the message the operator needs).
 */

/** A failed call to an external system, classified by the adapter that made it. */
export class RequestFailure extends Error {
  override readonly name = 'RequestFailure';
  constructor(
    message: string,
    /** HTTP status, or undefined when no response came back (network error, timeout). */
    readonly status: number | undefined,
    /** Whether trying again can help (429, 5xx, network); a 4xx like 403 cannot. */
    readonly retriable: boolean,
    /** The response's Retry-After header, as sent. */
    readonly retryAfter?: string | null,
  ) {
    super(message);
  }
}

/**
 * An external system refused or kept failing. The message is written for the operator (what failed,
 * how often, what to do) and never holds a secret. `system` names the service for grouping in output.
 *
 * `retryable` is read by the engine, which retries failed actions itself: false by default, because
 * the adapters already retried up to their bound and a refusal (403, wrong zone) does not change in
 * two seconds. A step whose failure may well pass on a second look (an HTTP probe) says true.
 */
export class ExternalError extends Error {
  override readonly name = 'ExternalError';
  readonly status: number | undefined;
  readonly attempts: number | undefined;
  readonly retryable: boolean;
  constructor(
    readonly system: string,
    message: string,
    details: { status?: number; attempts?: number; retryable?: boolean } = {},
  ) {
    super(message);
    this.status = details.status;
    this.attempts = details.attempts;
    this.retryable = details.retryable ?? false;
  }
}

export interface RetryWait {
  /** The attempt that just failed (1-based). */
  attempt: number;
  waitMs: number;
  /** `retry-after` when the server said how long to wait, `backoff` otherwise. */
  reason: 'retry-after' | 'backoff';
  status: number | undefined;
}

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts?: number;
  /** First backoff wait; doubles each retry up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * The longest Retry-After obeyed. A server asking for more fails the call with that said, instead
   * of the step hanging silently for an hour; `cutover retry` later is the operator's choice.
   */
  maxRetryAfterMs?: number;
  /** How to wait (tests record the waits; production sleeps). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told before each wait (progress output, tests). */
  onRetry?: (wait: RetryWait) => void;
  signal?: AbortSignal;
}

export const defaultRetry: Required<Omit<RetryOptions, 'onRetry' | 'signal' | 'sleep'>> = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Returns ms, or undefined if absent/unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function sleepReal(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal });
}

function describeStatus(status: number | undefined): string {
  return status === undefined ? 'no response' : `HTTP ${status}`;
}

/**
 * Run `call` until it succeeds, it fails with a non-retriable RequestFailure, or the attempts run out.
 * Any other error is a bug, not weather, and is rethrown at once. `what` names the operation in
 * messages ("Cloudflare: list DNS records of freshtrackpro.com").
 */
export async function withRetry<T>(
  system: string,
  what: string,
  call: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? defaultRetry.attempts;
  const baseDelayMs = options.baseDelayMs ?? defaultRetry.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? defaultRetry.maxDelayMs;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? defaultRetry.maxRetryAfterMs;
  const sleep = options.sleep ?? sleepReal;
  let made = 0;

  try {
    return await pRetry(
      async (attempt) => {
        made = attempt;
        try {
          return await call(attempt);
        } catch (error) {
          if (error instanceof RequestFailure && error.retriable) throw error;
          // Not worth another attempt: p-retry rethrows the wrapped error as is.
          throw new AbortError(error instanceof Error ? error : new Error(String(error)));
        }
      },
      {
        retries: attempts - 1,
        // p-retry's own timer is off: the wait happens in onFailedAttempt, where Retry-After is known.
        minTimeout: 0,
        ...(options.signal ? { signal: options.signal } : {}),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft <= 0) return;
          const failure = error as RequestFailure;
          const told = parseRetryAfter(failure.retryAfter);
          if (told !== undefined && told > maxRetryAfterMs) {
            throw new ExternalError(
              system,
              `${what}: ${system} asked us to wait ${Math.ceil(told / 1000)} s before trying again ` +
                `(${describeStatus(failure.status)}), longer than the ${Math.round(maxRetryAfterMs / 1000)} s ` +
                `this step waits. Retry the step later.`,
              { status: failure.status, attempts: attemptNumber },
            );
          }
          const waitMs = told ?? Math.min(baseDelayMs * 2 ** (attemptNumber - 1), maxDelayMs);
          options.onRetry?.({
            attempt: attemptNumber,
            waitMs,
            reason: told === undefined ? 'backoff' : 'retry-after',
            status: failure.status,
          });
          await sleep(waitMs, options.signal);
        },
      },
    );
  } catch (error) {
    if (error instanceof RequestFailure && error.retriable) {
      throw new ExternalError(
        system,
        `${what} failed after ${made} attempt${made === 1 ? '' : 's'}; last: ${describeStatus(error.status)}: ${error.message}`,
        { status: error.status, attempts: made },
      );
    }
    if (error instanceof RequestFailure) {
      throw new ExternalError(system, `${what}: ${error.message}`, { status: error.status, attempts: made });
    }
    throw error;
  }
}
