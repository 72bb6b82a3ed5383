import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkExternal } from '../../src/adapters/check.js';
import { examplePlan } from '../../src/config/example.js';
import type { PlanInput } from '../../src/config/schema.js';
import { startCloudflareFake, type CloudflareFake } from '../fakes/cloudflare.js';
import { startResendFake, type ResendFake } from '../fakes/resend.js';
import { planWith } from './helpers/context.js';

/** `cutover check` against the contract fakes: each problem in words a user can act on. */

let cloudflare: CloudflareFake;
let resend: ResendFake;

beforeAll(async () => {
  cloudflare = await startCloudflareFake({
    zones: [
      {
        name: 'freshtrackpro.com',
        records: [
          { name: 'freshtrackpro.com', type: 'A', content: '203.0.113.10', ttl: 86400 },
          { name: 'api.freshtrackpro.com', type: 'A', content: '203.0.113.11', ttl: 86400 },
          { name: 'status.freshtrackpro.com', type: 'A', content: '203.0.113.12', ttl: 86400 },
        ],
      },
      { name: 'freshtrack.io', records: [] },
    ],
    tokens: {
      'cf-edit': { zones: ['freshtrackpro.com', 'freshtrack.io'], dnsRead: true, dnsEdit: true, readsTokens: true },
      'cf-read': { zones: ['freshtrackpro.com'], dnsRead: true, dnsEdit: false, readsTokens: true },
      'cf-edit-private': { zones: ['freshtrackpro.com'], dnsRead: true, dnsEdit: true },
      'cf-expired': { zones: ['freshtrackpro.com'], dnsRead: true, dnsEdit: true, status: 'expired' },
    },
  });
  resend = await startResendFake({
    keys: { 're_full': 'full', 're_send': 'sending' },
    domains: [
      { name: 'freshtrackpro.com', status: 'verified' },
      { name: 'freshtrack.io', status: 'pending' },
    ],
  });
});
afterAll(async () => {
  await cloudflare.close();
  await resend.close();
});

type CloudflareDns = Extract<PlanInput['dns'], { provider: 'cloudflare' }>;
type ResendMail = Extract<PlanInput['mail'], { provider: 'resend' }>;

function plan(dns: Partial<CloudflareDns> = {}, mail: Partial<ResendMail> = {}) {
  return planWith({
    dns: { ...(examplePlan.dns as CloudflareDns), baseUrl: cloudflare.url, ...dns },
    mail: { ...(examplePlan.mail as ResendMail), baseUrl: resend.url, ...mail },
  });
}

const env = (cf: string, key: string) => ({ CLOUDFLARE_API_TOKEN: cf, RESEND_API_KEY: key });
const problems = (findings: Array<{ ok: boolean; message: string; system: string }>) => findings.filter((finding) => !finding.ok);

describe('Cloudflare', () => {
  test('a token that may read but not edit DNS is reported as exactly that, and nothing changes', async () => {
    const findings = await checkExternal(plan(), env('cf-read', 're_full'));

    expect(problems(findings)).toEqual([
      {
        system: 'Cloudflare',
        ok: false,
        message:
          'the API token in CLOUDFLARE_API_TOKEN lacks DNS edit permission for zone freshtrackpro.com: its policies do not grant DNS Write there (add Zone → DNS → Edit to the token)',
      },
    ]);
    expect(cloudflare.record('freshtrackpro.com', 'freshtrackpro.com', 'A')).toMatchObject({ content: '203.0.113.10', ttl: 86400 });
  });

  test('a wrong zone name says so and lists the zones the token can see', async () => {
    const findings = await checkExternal(plan({ zone: 'freshtrackpro.co' }), env('cf-edit', 're_full'));

    expect(problems(findings).map((finding) => finding.message)).toEqual([
      'Cloudflare has no zone named freshtrackpro.co that the API token in CLOUDFLARE_API_TOKEN can see: check dns.zone in the plan, or give the token Zone → Zone → Read on freshtrackpro.co. The token can see: freshtrackpro.com, freshtrack.io.',
    ]);
  });

  test('an expired token, a missing record and an unset variable each get their own sentence', async () => {
    const expired = await checkExternal(plan(), env('cf-expired', 're_full'));
    expect(problems(expired)[0]?.message).toBe(
      'the API token in CLOUDFLARE_API_TOKEN is expired: create a new one with Zone → Zone → Read and Zone → DNS → Edit on freshtrackpro.com',
    );

    const records = [...(examplePlan.dns as CloudflareDns).records, { name: 'ingest.freshtrackpro.com', type: 'A' as const, oldValue: '203.0.113.13', newValue: '198.51.100.20', normalTtl: 86400, cutoverTtl: 300 }];
    const missing = await checkExternal(plan({ records }), env('cf-edit', 're_full'));
    expect(problems(missing).map((finding) => finding.message)).toEqual([
      'A ingest.freshtrackpro.com does not exist in zone freshtrackpro.com: create it (pointing at 203.0.113.13) or fix dns.records',
    ]);

    const unset = await checkExternal(plan(), { RESEND_API_KEY: 're_full' });
    expect(problems(unset)[0]?.message).toBe(
      'CLOUDFLARE_API_TOKEN is not set: set it to a Cloudflare API token with Zone → Zone → Read and Zone → DNS → Edit on freshtrackpro.com. The plan names the variable, never the value.',
    );
  });

  test('a token with every permission passes with what was confirmed', async () => {
    const findings = await checkExternal(plan(), env('cf-edit', 're_full'));

    expect(findings.map((finding) => `${finding.ok ? 'ok' : 'PROBLEM'} ${finding.system}: ${finding.message}`)).toEqual([
      'ok Cloudflare: API token accepted; zone freshtrackpro.com found',
      'ok Cloudflare: all 3 planned records exist in freshtrackpro.com',
      'ok Cloudflare: the API token may edit DNS in freshtrackpro.com (its policies grant DNS Write)',
      'ok Resend: API key accepted; sender domain freshtrackpro.com is verified',
    ]);
  });
});

describe('check writes nothing (issue 14, item 7)', () => {
  const writes = () => cloudflare.requests.filter((request) => request.method !== 'GET');

  test('the edit permission is read from the token, never tested by writing: zero writes for every kind of token', async () => {
    const before = cloudflare.requests.length;
    for (const token of ['cf-edit', 'cf-read', 'cf-expired', 'cf-edit-private', 'cf-unknown']) await checkExternal(plan(), env(token, 're_full'));
    expect(cloudflare.requests.length).toBeGreaterThan(before + 10);
    expect(writes()).toEqual([]);
  });

  test('a token that may not read its own policies: the permission is said to be unconfirmed, not guessed', async () => {
    const findings = await checkExternal(plan(), env('cf-edit-private', 're_full'));
    expect(findings.filter((finding) => finding.system === 'Cloudflare').at(-1)).toEqual({
      system: 'Cloudflare',
      ok: true,
      message:
        'DNS edit permission on freshtrackpro.com not confirmed: the token in CLOUDFLARE_API_TOKEN may not read its own policies (add User → API Tokens → Read to let check see them); check writes nothing to test it, so prep.lower-ttl is the first edit',
    });
  });
});

describe('Resend', () => {
  test('an invalid key names the variable to fix', async () => {
    const findings = await checkExternal(plan(), env('cf-edit', 're_nope'));

    expect(problems(findings).map((finding) => finding.message)).toEqual([
      'Resend: list sending domains: Resend rejected the API key in RESEND_API_KEY: set it to a valid key (Resend said: invalid_api_key: API key is invalid)',
    ]);
  });

  test('an unverified sender domain says what to do about it', async () => {
    const findings = await checkExternal(plan({}, { from: 'FreshTrack <hello@freshtrack.io>' }), env('cf-edit', 're_full'));

    expect(problems(findings).map((finding) => finding.message)).toEqual([
      'the sender domain freshtrack.io is "pending" in Resend, not verified: publish the DNS records Resend shows for it and wait for verification, or mail will be refused',
    ]);
  });

  test('a sending-only key is accepted, with the domain left to confirm by hand', async () => {
    const findings = await checkExternal(plan(), env('cf-edit', 're_send'));

    expect(findings.filter((finding) => finding.system === 'Resend')).toEqual([
      { system: 'Resend', ok: true, message: 'API key accepted (sending only): it cannot list domains, so confirm in the Resend dashboard that freshtrackpro.com is verified' },
    ]);
  });
});
