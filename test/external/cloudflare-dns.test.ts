import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CloudflareDnsProvider } from '../../src/adapters/cloudflare-dns.js';
import type { RetryWait } from '../../src/adapters/retry.js';
import { examplePlan } from '../../src/config/example.js';
import type { Plan, PlanInput } from '../../src/config/schema.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { startCloudflareFake, type CloudflareFake } from '../fakes/cloudflare.js';
import { makeContext, planWith, recordingRetry, tempDir } from './helpers/context.js';

const ZONE = 'freshtrackpro.com';
const TOKEN = 'cf-token-edit';
const READ_ONLY = 'cf-token-read';
const refs = examplePlan.dns.records.map(({ name, type }) => ({ name, type }));

let fake: CloudflareFake;
let state: { path: string; remove: () => Promise<void> };

beforeEach(async () => {
  fake = await startCloudflareFake({
    zones: [
      {
        name: ZONE,
        records: [
          // As live after prep.lower-ttl, except api: someone set 600 by hand. Revert must restore 600, not the plan's TTL.
          { name: 'freshtrackpro.com', type: 'A', content: '203.0.113.10', ttl: 300 },
          { name: 'api.freshtrackpro.com', type: 'A', content: '203.0.113.11', ttl: 600 },
          { name: 'status.freshtrackpro.com', type: 'A', content: '203.0.113.12', ttl: 300 },
          { name: 'www.freshtrackpro.com', type: 'CNAME', content: 'freshtrackpro.com', ttl: 3600 },
        ],
      },
      { name: 'other.example', records: [] },
    ],
    tokens: {
      [TOKEN]: { zones: [ZONE, 'other.example'], dnsRead: true, dnsEdit: true },
      [READ_ONLY]: { zones: [ZONE], dnsRead: true, dnsEdit: false },
    },
  });
  state = await tempDir('cf-state');
});

afterEach(async () => {
  await fake.close();
  await state.remove();
});

function cloudflarePlan(): Plan {
  return planWith({ dns: { ...(examplePlan.dns as Extract<PlanInput['dns'], { provider: 'cloudflare' }>), baseUrl: fake.url } });
}

function provider(token = TOKEN, options: Partial<ConstructorParameters<typeof CloudflareDnsProvider>[0]> = {}) {
  return new CloudflareDnsProvider({ zone: ZONE, apiToken: token, tokenEnv: 'CLOUDFLARE_API_TOKEN', baseUrl: fake.url, ...options });
}

const zoneLookups = () => fake.requests.filter((request) => request.method === 'GET' && request.path === '/zones');
const edits = () => fake.requests.filter((request) => request.method === 'PATCH');
const live = () => fake.zones[0]!.records.map(({ name, type, content, ttl }) => ({ name, type, content, ttl }));

describe('retries', () => {
  test('a server that keeps failing is tried exactly up to the bound, and the error says how often and what came back', async () => {
    fake.inject({ path: /^\/zones$/, status: 500, times: 99 });
    const { retry, waits } = recordingRetry(3);

    await expect(provider(TOKEN, { retry }).read(refs)).rejects.toThrow(
      /Cloudflare: find zone freshtrackpro\.com failed after 3 attempts; last: HTTP 500/,
    );
    expect(zoneLookups()).toHaveLength(3);
    expect(waits).toEqual([500, 1000]);
  });

  test('a 429 waits as long as its Retry-After says before the next request', async () => {
    fake.inject({ path: /^\/zones$/, status: 429, retryAfter: '1', times: 1 });
    const told: RetryWait[] = [];

    const records = await provider(TOKEN, { retry: { onRetry: (wait) => told.push(wait) } }).read(refs);

    expect(records).toHaveLength(3);
    expect(told).toEqual([{ attempt: 1, waitMs: 1000, reason: 'retry-after', status: 429 }]);
    const [limited, retried] = zoneLookups();
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(1000);
  });

  test('a reply slower than the timeout counts as a failed attempt and is asked again', async () => {
    fake.inject({ path: /^\/zones$/, delayMs: 1500, times: 1 });
    const { retry } = recordingRetry(3);

    const records = await provider(TOKEN, { retry, timeoutMs: 200 }).read(refs);

    expect(records.map((record) => record.content)).toEqual(['203.0.113.10', '203.0.113.11', '203.0.113.12']);
    expect(zoneLookups()).toHaveLength(2);
  });

  test('a 403 on an edit fails at once and names the missing permission', async () => {
    const { retry, waits } = recordingRetry(5);

    await expect(
      provider(READ_ONLY, { retry }).write([{ name: 'api.freshtrackpro.com', type: 'A', content: '198.51.100.20', ttl: 300 }]),
    ).rejects.toThrow(/the API token in CLOUDFLARE_API_TOKEN lacks DNS edit permission for zone freshtrackpro\.com/);
    expect(edits()).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(fake.record(ZONE, 'api.freshtrackpro.com', 'A')?.content).toBe('203.0.113.11');
  });
});

describe('switch and revert', () => {
  const env = { CLOUDFLARE_API_TOKEN: TOKEN, RESEND_API_KEY: 'unused' };

  function context(stepId: string, outputs: Record<string, unknown> = {}) {
    return makeContext({ plan: cloudflarePlan(), planDir: state.path, stateDir: state.path, stepId, env, outputs });
  }

  test('the dry run shows each record old → new with TTLs and changes nothing', async () => {
    const text = await externalSteps['dns.switch']!.dryRun(context('dns.switch'));

    expect(text).toMatchInlineSnapshot(`
      "DNS zone freshtrackpro.com (cloudflare): 3 of 3 records change
        A freshtrackpro.com         203.0.113.10 (TTL 300) → 198.51.100.20 (TTL 300)
        A api.freshtrackpro.com     203.0.113.11 (TTL 600) → 198.51.100.20 (TTL 300)
        A status.freshtrackpro.com  203.0.113.12 (TTL 300) → 198.51.100.20 (TTL 300)"
    `);
    expect(edits()).toHaveLength(0);
  });

  test('switch then revert leaves exactly the records that were live before the switch', async () => {
    const original = live();

    const switched = await externalSteps['dns.switch']!.run(context('dns.switch'));
    expect(live().filter((record) => record.type === 'A').map((record) => record.content)).toEqual(['198.51.100.20', '198.51.100.20', '198.51.100.20']);
    expect(edits()).toHaveLength(3);

    const reverted = await externalSteps['rollback.dns-revert']!.run(context('rollback.dns-revert', { 'dns.switch': switched.output }));

    expect(live()).toEqual(original);
    expect(edits()).toHaveLength(6);
    expect(reverted.summary).toMatch(/3 of 3 records changed/);
  });

  test('applying the same switch again changes nothing', async () => {
    await externalSteps['dns.switch']!.run(context('dns.switch'));
    const again = await externalSteps['dns.switch']!.run(context('dns.switch', {}));

    expect(edits()).toHaveLength(3);
    expect(again.summary).toMatch(/switch DNS: 3 of 3 records changed/);
    // The second attempt reports the values captured before the first one, so a revert stays exact.
    expect((again.output as { changes: Array<{ before: { content: string } }> }).changes.map((change) => change.before.content)).toEqual([
      '203.0.113.10',
      '203.0.113.11',
      '203.0.113.12',
    ]);
  });

  test('a switch that failed half way is reverted to the values from before it started', async () => {
    const original = live();
    const api = fake.record(ZONE, 'api.freshtrackpro.com', 'A')!;
    fake.inject({ method: 'PATCH', path: new RegExp(`/dns_records/${api.id}$`), status: 500, times: 99 });
    const failing = makeContext({
      plan: cloudflarePlan(),
      planDir: state.path,
      stateDir: state.path,
      stepId: 'dns.switch',
      env,
      adapterOptions: { retry: { attempts: 1 } },
    });

    await expect(externalSteps['dns.switch']!.run(failing)).rejects.toThrow(/set A api\.freshtrackpro\.com failed after 1 attempt; last: HTTP 500/);
    expect(fake.record(ZONE, 'freshtrackpro.com', 'A')!.content).toBe('198.51.100.20');

    const reverted = await externalSteps['rollback.dns-revert']!.run(context('rollback.dns-revert', {}));

    expect(reverted.summary).toMatch(/captured when dns\.switch started/);
    expect(live()).toEqual(original);
  });

  test('revert says so and passes when DNS was never switched', async () => {
    const result = await externalSteps['rollback.dns-revert']!.run(context('rollback.dns-revert'));

    expect(result.summary).toBe('DNS was never switched in this run: nothing to revert');
    expect(edits()).toHaveLength(0);
  });

  test('refuses to switch a record that points somewhere the plan does not know', async () => {
    fake.record(ZONE, 'status.freshtrackpro.com', 'A')!.content = '192.0.2.99';

    await expect(externalSteps['dns.switch']!.run(context('dns.switch'))).rejects.toThrow(
      /A status\.freshtrackpro\.com points at 192\.0\.2\.99, which is neither the plan's old value \(203\.0\.113\.12\) nor its new value/,
    );
    expect(edits()).toHaveLength(0);
  });
});
