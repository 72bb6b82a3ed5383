import { RequestFailure } from './retry.js';

/** One POST with a timeout; any answer but 2xx becomes a RequestFailure the retry policy can judge. */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; text: string }> {
  let response: Response;
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'cutover', ...headers },
      body,
      redirect: 'error',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new RequestFailure(`no answer from ${new URL(url).host}: ${(error as Error).message}`, undefined, true);
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { status: response.status, text };
  throw failureOf(response.status, text, response.headers.get('retry-after'));
}

/** 429 and 5xx may pass on a second try; any other 4xx is the plan's or the account's to fix. */
export function failureOf(status: number, body: string, retryAfter: string | null): RequestFailure {
  const said = body.trim().slice(0, 200);
  return new RequestFailure(`HTTP ${status}${said ? `: ${said}` : ''}`, status, status === 429 || status >= 500, retryAfter);
}

/**
 * A HEAD of `url` for `cutover check`: nothing is posted, nothing changes. Returns the HTTP status of
 * any answer; throws a RequestFailure (retryable) when nothing answered (DNS, refused, TLS, timeout).
 * The message names the host only: a Slack URL's path is its secret.
 */
export async function headStatus(url: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetch(url, { method: 'HEAD', headers: { 'user-agent': 'cutover' }, redirect: 'manual', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    return response.status;
  } catch (error) {
    if (signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new RequestFailure(`no answer from ${new URL(url).host}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, undefined, true);
  }
}
