import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import type { PlanInput } from '../../src/config/schema.js';
import { checkResolvers } from '../../src/adapters/check-reach.js';
import { parsePlan } from '../../src/config/load.js';
import { startCloudflareFake, type CloudflareFake } from '../fakes/cloudflare.js';
import { startDnsServer, type FakeDnsServer } from '../fakes/dns-server.js';
import { startFakeSupabaseAuth, type FakeSupabaseAuth } from '../fakes/supabase-auth.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

/**
 * `cutover check` reaches everything the plan names (issue 14, item 7) and writes nothing: against
 * the contract fakes, which record every request, the only method seen is GET.
 */

let cloudflare: CloudflareFake;
let supabase: FakeSupabaseAuth;
let resolver: FakeDnsServer;
let probes: Server;
let probeUrl: string;
const probeRequests: Array<{ method: string; url: string }> = [];
const dir = mkdtempSync(join(tmpdir(), 'cutover-check-reach-'));
const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;

beforeAll(async () => {
  cloudflare = await startCloudflareFake({
    zones: [{ name: 'freshtrackpro.com', records: records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })) }],
    tokens: { 'cf-edit': { zones: ['freshtrackpro.com'], dnsRead: true, dnsEdit: true, readsTokens: true } },
  });
  supabase = await startFakeSupabaseAuth({ users: 3 });
  resolver = await startDnsServer();
  resolver.set(records[0]!.name, 'A', { values: [records[0]!.oldValue], ttl: 300 });
  probes = createServer((req, res) => {
    probeRequests.push({ method: req.method ?? '', url: req.url ?? '' });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => probes.listen(0, '127.0.0.1', resolve));
  probeUrl = `http://127.0.0.1:${(probes.address() as AddressInfo).port}`;
  const probe = (path: string) => ({ url: `${probeUrl}${path}`, bodyMatch: 'ok' });
  writeLocalPlan(dir, {
    extra: {
      source: { urlEnv: 'SOURCE_DATABASE_URL', supabase: { urlEnv: 'SUPABASE_URL', serviceRoleKeyEnv: 'SUPABASE_SERVICE_ROLE_KEY' } },
      dns: { provider: 'cloudflare', zone: 'freshtrackpro.com', apiTokenEnv: 'CLOUDFLARE_API_TOKEN', baseUrl: cloudflare.url, records, resolvers: [resolver.address] },
      probes: {
        oldHealth: probe('/old/health'),
        newHealth: probe('/new/health'),
        smoke: [probe('/new/health/db'), probe('/new/api/auth/health')],
        external: [probe('/public/health')],
        monitoring: [probe('/grafana/api/health')],
        webhook: { url: `${probeUrl}/webhooks/ttn`, payload: { test: true }, checkUrl: `${probeUrl}/readings/latest` },
      },
    } as Partial<PlanInput>,
  });
});

afterAll(async () => {
  await Promise.all([cloudflare.close(), supabase.close(), resolver.close(), new Promise((resolve) => probes.close(resolve))]);
  rmSync(dir, { recursive: true, force: true });
});

const check = (env: Record<string, string>) => cli(['--config', join(dir, 'cutover.config.ts'), 'check', '--json'], env);
const secrets = { CLOUDFLARE_API_TOKEN: 'cf-edit', SUPABASE_SERVICE_ROLE_KEY: 'fake-service-role-key' };

describe('cutover check reaches everything the plan names', () => {
  it('Supabase auth admin, every probe, every resolver, Cloudflare: each reached, and nothing but GET sent', async () => {
    const result = await check({ ...secrets, SUPABASE_URL: supabase.url });
    const { results } = JSON.parse(result.stdout) as { results: Array<{ system: string; ok: boolean; message: string }> };
    const find = (system: string) => results.filter((r) => r.system === system);

    expect(find('Supabase auth')).toEqual([{ system: 'Supabase auth', ok: true, message: expect.stringContaining('SUPABASE_SERVICE_ROLE_KEY') }]);
    expect(supabase.requests.map((r) => r.url)).toContain('/auth/v1/admin/users?page=1&per_page=1');

    for (const [system, count] of [['new system health', 1], ['smoke probe', 2], ['external probe', 1], ['monitoring', 1], ['webhook check', 1]] as const) {
      const found = find(system);
      expect(found, system).toHaveLength(count);
      for (const r of found) expect(r.message, system).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/\S+ answered 200 in \d+ ms$/);
    }
    expect(new Set(probeRequests.map((r) => r.url))).toEqual(new Set(['/old/health', '/new/health', '/new/health/db', '/new/api/auth/health', '/public/health', '/grafana/api/health', '/readings/latest']));

    expect(find(`resolver ${resolver.address}`)).toEqual([{ system: `resolver ${resolver.address}`, ok: true, message: `answered A ${records[0]!.name}: ${records[0]!.oldValue}` }]);
    expect(find('Cloudflare').every((r) => r.ok)).toBe(true);
    expect(cloudflare.requests.length).toBeGreaterThan(0);

    // Writes nothing: not to Cloudflare to test a permission, not the webhook's POST, not to Supabase.
    expect(cloudflare.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(supabase.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(probeRequests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(probeRequests.some((r) => r.url === '/webhooks/ttn')).toBe(false);
  });

  it('says so, without the key, when the key is not the service-role key', async () => {
    const result = await check({ ...secrets, SUPABASE_URL: supabase.url, SUPABASE_SERVICE_ROLE_KEY: 'anon-key' });
    expect(result.code).toBe(1);
    const { results } = JSON.parse(result.stdout) as { results: Array<{ system: string; ok: boolean; message: string }> };
    const auth = results.find((r) => r.system === 'Supabase auth')!;
    expect(auth.ok).toBe(false);
    expect(auth.message).toContain('SUPABASE_SERVICE_ROLE_KEY holds the service-role key');
    expect(auth.message).not.toContain('anon-key');
  });

  it('a resolver that does not answer is a finding naming it', async () => {
    // A UDP port nobody listens on any more.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const dead = `127.0.0.1:${socket.address().port}`;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const plan = parsePlan({ ...examplePlan, dns: { ...(examplePlan.dns as object), resolvers: [resolver.address, dead] } } as PlanInput);
    const findings = await checkResolvers(plan, 1_000);
    expect(findings.find((f) => f.system === `resolver ${resolver.address}`)?.ok).toBe(true);
    const failed = findings.find((f) => f.system === `resolver ${dead}`)!;
    expect(failed.ok).toBe(false);
    expect(failed.message).toMatch(/^no answer to A freshtrackpro\.com: /);
  });
});
