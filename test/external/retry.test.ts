import { expect, test } from 'vitest';
import { parseRetryAfter, RequestFailure, withRetry } from '../../src/adapters/retry.js';

test('Retry-After is read as delay-seconds or as an HTTP date', () => {
  const now = Date.parse('2026-12-05T22:00:00Z');
  expect(parseRetryAfter('7', now)).toBe(7000);
  expect(parseRetryAfter('Sat, 05 Dec 2026 22:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('Sat, 05 Dec 2026 21:59:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});

test('an HTTP-date Retry-After is waited out like a number of seconds', async () => {
  const waits: number[] = [];
  let calls = 0;
  const inTwoSeconds = new Date(Date.now() + 2_000).toUTCString();

  await withRetry('Example', 'Example: call', async () => {
    calls += 1;
    if (calls === 1) throw new RequestFailure('rate limited', 429, true, inTwoSeconds);
    return 'done';
  }, { sleep: async (ms) => void waits.push(ms) });

  expect(waits).toHaveLength(1);
  expect(waits[0]).toBeGreaterThan(0);
  expect(waits[0]).toBeLessThanOrEqual(2_000);
});

test('a Retry-After longer than the step will wait fails with that said, instead of hanging', async () => {
  let calls = 0;
  await expect(
    withRetry('Resend', 'Resend: send batch k', async () => {
      calls += 1;
      throw new RequestFailure('rate limited', 429, true, '3600');
    }, { maxRetryAfterMs: 60_000, sleep: async () => {} }),
  ).rejects.toThrow('Resend: send batch k: Resend asked us to wait 3600 s before trying again (HTTP 429), longer than the 60 s this step waits. Retry the step later.');
  expect(calls).toBe(1);
});

test('errors that are not request failures are bugs, not weather: they are not retried', async () => {
  let calls = 0;
  await expect(
    withRetry('Example', 'Example: call', async () => {
      calls += 1;
      throw new TypeError('undefined is not a function');
    }, { sleep: async () => {} }),
  ).rejects.toThrow(TypeError);
  expect(calls).toBe(1);
});
