import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ResendMailProvider } from '../../src/adapters/resend-mail.js';
import type { RetryWait } from '../../src/adapters/retry.js';
import type { Plan } from '../../src/config/schema.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { startResendFake, type ResendFake } from '../fakes/resend.js';
import { makeContext, planWith, recordingRetry, tempDir } from './helpers/context.js';

const KEY = 're_test_full';
let fake: ResendFake;
let dir: { path: string; remove: () => Promise<void> };

beforeEach(async () => {
  fake = await startResendFake({ keys: { [KEY]: 'full' }, domains: [{ name: 'freshtrackpro.com', status: 'verified' }] });
  dir = await tempDir('resend');
});
afterEach(async () => {
  await fake.close();
  await dir.remove();
});

const users = (count: number) => Array.from({ length: count }, (_, index) => `user${String(index).padStart(3, '0')}@example.com`);

function resendPlan(overrides: { environment?: 'staging' | 'production'; allowList?: string[]; ratePerSecond?: number } = {}): Plan {
  return planWith({
    environment: overrides.environment ?? 'production',
    mail: {
      provider: 'resend',
      apiKeyEnv: 'RESEND_API_KEY',
      baseUrl: fake.url,
      from: 'FreshTrack Pro <notices@freshtrackpro.com>',
      audience: { source: 'file', file: 'users.csv' },
      ratePerSecond: overrides.ratePerSecond ?? 1000,
      allowList: overrides.allowList ?? [],
    },
  });
}

function provider(options: Partial<ConstructorParameters<typeof ResendMailProvider>[0]> = {}) {
  return new ResendMailProvider({ apiKey: KEY, apiKeyEnv: 'RESEND_API_KEY', from: 'Ops <ops@freshtrackpro.com>', baseUrl: fake.url, ratePerSecond: 1000, ...options });
}

const batchRequests = () => fake.requests.filter((request) => request.path === '/emails/batch');
const one = [{ to: 'ana@example.com', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi' }];

describe('the notice step', () => {
  test('sends every valid recipient exactly once, in batches of 100 keyed by run, template and batch', async () => {
    const rows = ['email,name', ...users(250).map((address) => `${address},Someone`), 'USER000@EXAMPLE.COM,Dup', 'jane.doe@', 'not-an-address'];
    await writeFile(join(dir.path, 'users.csv'), `${rows.join('\n')}\n`);
    const ctx = makeContext({ plan: resendPlan(), planDir: dir.path, stateDir: join(dir.path, 'state'), stepId: 'prep.advance-notice', env: { RESEND_API_KEY: KEY } });

    const result = await externalSteps['prep.advance-notice']!.run(ctx);

    expect(batchRequests().map((request) => [request.headers['idempotency-key'], (request.body as unknown[]).length])).toEqual([
      ['run-1:advance-notice:0', 100],
      ['run-1:advance-notice:1', 100],
      ['run-1:advance-notice:2', 50],
    ]);
    expect(fake.deliveries.map((delivery) => delivery.to).sort()).toEqual(users(250));
    expect(fake.deliveries.every((delivery) => delivery.html?.includes('<html') && delivery.text?.includes('reset your password'))).toBe(true);
    expect(result.summary).toBe(
      'advance-notice sent to 250 recipients in 3 batches via resend; 1 duplicate merged; 2 invalid addresses skipped (j***@, n***)',
    );
    // Invalid addresses are reported masked, never in full.
    expect(JSON.stringify(ctx.notes)).not.toContain('jane.doe');
    expect(JSON.stringify(ctx.notes)).not.toContain('not-an-address');
    expect(ctx.notes.filter((note) => /batch \d of 3 sent/.test(note.message))).toHaveLength(3);
  });

  test('a staging plan marks every subject and really sends only to the allow-list', async () => {
    await writeFile(join(dir.path, 'users.csv'), `${users(5).join('\n')}\n`);
    const plan = resendPlan({ environment: 'staging', allowList: ['user001@example.com', 'USER003@example.com'] });
    const ctx = makeContext({ plan, planDir: dir.path, stateDir: join(dir.path, 'state'), stepId: 'final.reminder', env: { RESEND_API_KEY: KEY } });

    const result = await externalSteps['final.reminder']!.run(ctx);

    expect(fake.deliveries.map((delivery) => [delivery.to, delivery.subject])).toEqual([
      ['user001@example.com', '[STAGING] Reminder: FreshTrack Pro maintenance on Saturday, December 5'],
      ['user003@example.com', '[STAGING] Reminder: FreshTrack Pro maintenance on Saturday, December 5'],
    ]);
    expect(result.output).toMatchObject({ recipients: 5, dropped: 3 });
    expect(result.summary).toMatch(/sent to 2 recipients .*staging: 3 recipients not on the allow-list were not sent to/);
  });
});

describe('the Resend provider', () => {
  test('a 429 waits as long as its Retry-After says, then the same batch goes through once', async () => {
    fake.inject({ path: /^\/emails\/batch$/, status: 429, retryAfter: '1', times: 1 });
    const told: RetryWait[] = [];

    await provider({ retry: { onRetry: (wait) => told.push(wait) } }).sendBatch(one, { idempotencyKey: 'k-429' });

    expect(told).toEqual([{ attempt: 1, waitMs: 1000, reason: 'retry-after', status: 429 }]);
    const [limited, retried] = batchRequests();
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(1000);
    expect(fake.deliveries).toHaveLength(1);
  });

  test('retries stop at the bound with an error naming the attempts and the last status', async () => {
    fake.inject({ path: /^\/emails\/batch$/, status: 500, times: 99 });
    const { retry, waits } = recordingRetry(3);

    await expect(provider({ retry }).sendBatch(one, { idempotencyKey: 'k-500' })).rejects.toThrow(
      /Resend: send batch k-500 \(1 messages\) failed after 3 attempts; last: HTTP 500/,
    );
    expect(batchRequests()).toHaveLength(3);
    expect(waits).toEqual([500, 1000]);
    expect(fake.deliveries).toHaveLength(0);
  });

  test('a reply slower than the timeout is retried under the same key and delivers once', async () => {
    fake.inject({ path: /^\/emails\/batch$/, delayMs: 1500, times: 1 });
    const { retry } = recordingRetry(3);

    const { ids } = await provider({ retry, timeoutMs: 200 }).sendBatch(one, { idempotencyKey: 'k-slow' });

    expect(batchRequests().map((request) => request.headers['idempotency-key'])).toEqual(['k-slow', 'k-slow']);
    expect(fake.deliveries).toHaveLength(1);
    expect(ids).toEqual([fake.deliveries[0]!.id]);
  });

  test('a rejected key fails at once, naming the variable to fix', async () => {
    const { retry, waits } = recordingRetry(3);

    await expect(provider({ apiKey: 're_wrong', retry }).sendBatch(one, { idempotencyKey: 'k-key' })).rejects.toThrow(
      /Resend rejected the API key in RESEND_API_KEY/,
    );
    expect(batchRequests()).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  test('batches are paced at the configured rate', async () => {
    let now = 0;
    const slept: number[] = [];
    const paced = provider({
      ratePerSecond: 2,
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });

    for (const index of [0, 1, 2]) await paced.sendBatch(one, { idempotencyKey: `k-rate-${index}` });

    expect(slept).toEqual([500, 500]);
  });
});
