import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Plan } from '../config/schema.js';
import { CloudflareDnsProvider } from './cloudflare-dns.js';
import { readZoneFile, sameContent, sameName } from './local-dns.js';
import { ResendMailProvider, classifyResendError } from './resend-mail.js';
import { ExternalError, withRetry, type RetryOptions } from './retry.js';
import { MissingSecretError, readSecret } from './secrets.js';

/**
 * `cutover check`'s reach into DNS and mail: does the token work, is the zone the right one, may we
 * edit it, are the records there, is the sender domain verified. Each finding is a sentence for the
 * person who has to fix it. Read-only: nothing is written anywhere, not even to test a permission
 * (issue 14, item 7); see `readEditPermission`.
 */

export interface ExternalCheck {
  system: 'Cloudflare' | 'Resend' | 'local DNS' | 'outbox';
  ok: boolean;
  message: string;
}

export interface CheckOptions {
  /** Folder of the plan file, for the local providers' paths. */
  planDir?: string;
  retry?: RetryOptions;
  timeoutMs?: number;
}

/** `cutover check` should answer in seconds: two attempts, short waits. */
const CHECK_RETRY: RetryOptions = { attempts: 2, baseDelayMs: 500, maxRetryAfterMs: 10_000 };

/** A secret read the one way (readSecret); a missing one is a finding of `check`, not a failure of it. */
function secretOrFinding(env: Record<string, string | undefined>, name: string, purpose: string): string | { missing: string } {
  try {
    return readSecret(env, name, purpose);
  } catch (error) {
    if (error instanceof MissingSecretError) return { missing: error.message };
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The permission group a token needs to edit records (Zone → DNS → Edit in the dashboard). */
const DNS_WRITE = 'DNS Write';

/** Whether a policy's resources cover the zone: the zone itself, every zone, or an account's zones. */
function coversZone(resources: Record<string, unknown>, zoneId: string): boolean {
  return Object.entries(resources).some(([key, value]) =>
    key === `com.cloudflare.api.account.zone.${zoneId}` || key === 'com.cloudflare.api.account.zone.*' || (typeof value === 'object' && value !== null && coversZone(value as Record<string, unknown>, zoneId)),
  );
}

/**
 * May the token edit DNS in the zone? Read from the token's own policies (GET /user/tokens/:id),
 * never tested by writing. A token may not be allowed to read itself (that takes User → API Tokens →
 * Read): then the permission is unknown, said so, and the first edit (prep.lower-ttl at T-48h) names
 * it if it is missing.
 */
async function readEditPermission(provider: CloudflareDnsProvider, tokenId: string | undefined, zoneId: string, tokenEnv: string): Promise<ExternalCheck> {
  const zone = provider.zone;
  let policies: Array<{ effect: string; permission_groups: Array<{ name?: string }>; resources: Record<string, unknown> }>;
  try {
    if (!tokenId) throw new Error('no token id');
    policies = ((await provider.client.user.tokens.get(tokenId)).policies ?? []) as typeof policies;
  } catch {
    return {
      system: 'Cloudflare',
      ok: true,
      message: `DNS edit permission on ${zone} not confirmed: the token in ${tokenEnv} may not read its own policies (add User → API Tokens → Read to let check see them); check writes nothing to test it, so prep.lower-ttl is the first edit`,
    };
  }
  const grants = (effect: string) => policies.some((p) => p.effect === effect && p.permission_groups.some((g) => g.name === DNS_WRITE) && coversZone(p.resources, zoneId));
  if (grants('allow') && !grants('deny')) return { system: 'Cloudflare', ok: true, message: `the API token may edit DNS in ${zone} (its policies grant ${DNS_WRITE})` };
  return { system: 'Cloudflare', ok: false, message: `the API token in ${tokenEnv} lacks DNS edit permission for zone ${zone}: its policies do not grant ${DNS_WRITE} there (add Zone → DNS → Edit to the token)` };
}

async function checkCloudflare(plan: Plan, env: Record<string, string | undefined>, options: CheckOptions): Promise<ExternalCheck[]> {
  const dns = plan.dns;
  if (dns.provider !== 'cloudflare') return [];
  const token = secretOrFinding(env, dns.apiTokenEnv, `a Cloudflare API token with Zone → Zone → Read and Zone → DNS → Edit on ${dns.zone}`);
  if (typeof token !== 'string') return [{ system: 'Cloudflare', ok: false, message: token.missing }];
  const provider = new CloudflareDnsProvider({
    zone: dns.zone,
    apiToken: token,
    tokenEnv: dns.apiTokenEnv,
    ...(dns.baseUrl ? { baseUrl: dns.baseUrl } : {}),
    timeoutMs: options.timeoutMs ?? 10_000,
    retry: options.retry ?? CHECK_RETRY,
  });
  const findings: ExternalCheck[] = [];

  // User tokens answer /user/tokens/verify; account-owned tokens do not, so only a definite
  // "disabled" or "expired" is reported from here. The zone lookup below judges the rest.
  let tokenId: string | undefined;
  try {
    const verified = await provider.call('verify', 'Cloudflare: verify the API token', () => provider.client.user.tokens.verify());
    tokenId = verified.id;
    if (verified.status !== 'active') {
      return [{ system: 'Cloudflare', ok: false, message: `the API token in ${dns.apiTokenEnv} is ${verified.status}: create a new one with Zone → Zone → Read and Zone → DNS → Edit on ${dns.zone}` }];
    }
  } catch {
    // Judged by the zone lookup.
  }

  let zoneId: string;
  try {
    zoneId = await provider.findZoneId();
  } catch (error) {
    if (error instanceof ExternalError && /has no zone named/.test(error.message)) {
      let visible = '';
      try {
        const page = await provider.call('find zone', 'Cloudflare: list zones', () => provider.client.zones.list({ per_page: 50 }));
        const names = page.result.map((zone) => zone.name);
        visible = names.length ? ` The token can see: ${names.join(', ')}.` : ' The token cannot see any zone.';
      } catch {
        // The suggestion is a courtesy; the finding stands without it.
      }
      return [{ system: 'Cloudflare', ok: false, message: `${error.message}.${visible}` }];
    }
    return [{ system: 'Cloudflare', ok: false, message: messageOf(error) }];
  }
  findings.push({ system: 'Cloudflare', ok: true, message: `API token accepted; zone ${dns.zone} found` });

  const present: Array<{ id: string; name: string; type: string; content: string; ttl: number }> = [];
  for (const record of dns.records) {
    if (!sameName(record.name, dns.zone) && !record.name.toLowerCase().replace(/\.$/, '').endsWith(`.${dns.zone.toLowerCase()}`)) {
      findings.push({ system: 'Cloudflare', ok: false, message: `${record.type} ${record.name} is not inside zone ${dns.zone}: fix dns.records or dns.zone in the plan` });
      continue;
    }
    try {
      const found = await provider.find(record);
      if (!found) {
        findings.push({ system: 'Cloudflare', ok: false, message: `${record.type} ${record.name} does not exist in zone ${dns.zone}: create it (pointing at ${record.oldValue}) or fix dns.records` });
      } else if (!sameContent(record.type, found.content, record.oldValue) && !sameContent(record.type, found.content, record.newValue)) {
        findings.push({ system: 'Cloudflare', ok: false, message: `${record.type} ${record.name} points at ${found.content}, but the plan says it points at ${record.oldValue} (old) or ${record.newValue} (new)` });
      } else {
        present.push({ id: found.id, name: found.name, type: found.type, content: found.content, ttl: found.ttl });
        if (found.proxied) {
          findings.push({ system: 'Cloudflare', ok: true, message: `${record.type} ${record.name} is proxied by Cloudflare: its TTL is automatic, and resolvers answer Cloudflare's addresses, not ${record.newValue}` });
        }
      }
    } catch (error) {
      findings.push({ system: 'Cloudflare', ok: false, message: messageOf(error) });
      return findings;
    }
  }
  if (present.length === dns.records.length) {
    findings.push({ system: 'Cloudflare', ok: true, message: `all ${present.length} planned records exist in ${dns.zone}` });
  }

  findings.push(await readEditPermission(provider, tokenId, zoneId, dns.apiTokenEnv));
  return findings;
}

/** The domain part of `Name <user@domain>` or `user@domain`. */
export function senderDomain(from: string): string | undefined {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).trim().toLowerCase() : undefined;
}

async function checkResend(plan: Plan, env: Record<string, string | undefined>, options: CheckOptions): Promise<ExternalCheck[]> {
  const mail = plan.mail;
  if (mail.provider !== 'resend') return [];
  const key = secretOrFinding(env, mail.apiKeyEnv, 'a Resend API key (a sending-only key is enough to send)');
  if (typeof key !== 'string') return [{ system: 'Resend', ok: false, message: key.missing }];
  const domain = senderDomain(mail.from);
  if (!domain) return [{ system: 'Resend', ok: false, message: `mail.from (${mail.from}) has no email address to send from` }];
  const { client } = new ResendMailProvider({ apiKey: key, apiKeyEnv: mail.apiKeyEnv, from: mail.from, ratePerSecond: mail.ratePerSecond, ...(mail.baseUrl ? { baseUrl: mail.baseUrl } : {}) });

  let domains: Array<{ name: string; status: string }> | undefined;
  try {
    domains = await withRetry<Array<{ name: string; status: string }> | undefined>(
      'Resend',
      'Resend: list sending domains',
      async () => {
        const { data, error, headers } = await client.domains.list();
        if (error) {
          // A sending-only key is valid and enough to send; it just may not list domains.
          if (error.name === 'restricted_api_key') return undefined;
          throw classifyResendError(error, headers, mail.apiKeyEnv);
        }
        return data.data;
      },
      options.retry ?? CHECK_RETRY,
    );
  } catch (error) {
    return [{ system: 'Resend', ok: false, message: messageOf(error) }];
  }
  if (domains === undefined) {
    return [
      {
        system: 'Resend',
        ok: true,
        message: `API key accepted (sending only): it cannot list domains, so confirm in the Resend dashboard that ${domain} is verified`,
      },
    ];
  }
  const found = domains.find((candidate) => candidate.name.toLowerCase() === domain);
  if (!found) {
    const names = domains.map((candidate) => candidate.name);
    return [
      {
        system: 'Resend',
        ok: false,
        message: `the sender domain ${domain} (from mail.from) is not set up in this Resend account${names.length ? ` (it has: ${names.join(', ')})` : ''}: add and verify it, or change mail.from`,
      },
    ];
  }
  if (found.status !== 'verified') {
    return [
      {
        system: 'Resend',
        ok: false,
        message: `the sender domain ${domain} is "${found.status}" in Resend, not verified: publish the DNS records Resend shows for it and wait for verification, or mail will be refused`,
      },
    ];
  }
  return [{ system: 'Resend', ok: true, message: `API key accepted; sender domain ${domain} is verified` }];
}

async function checkLocal(plan: Plan, options: CheckOptions): Promise<ExternalCheck[]> {
  const findings: ExternalCheck[] = [];
  const planDir = options.planDir ?? process.cwd();
  if (plan.dns.provider === 'local') {
    try {
      const zone = await readZoneFile(resolve(planDir, plan.dns.file));
      const missing = plan.dns.records.filter((record) => !zone.records.some((candidate) => candidate.type === record.type && sameName(candidate.name, record.name)));
      findings.push(
        missing.length
          ? { system: 'local DNS', ok: false, message: `zone file ${plan.dns.file} lacks ${missing.map((record) => `${record.type} ${record.name}`).join(', ')}` }
          : { system: 'local DNS', ok: true, message: `zone file ${plan.dns.file} holds all ${plan.dns.records.length} planned records` },
      );
    } catch (error) {
      findings.push({ system: 'local DNS', ok: false, message: messageOf(error) });
    }
  }
  if (plan.mail.provider === 'outbox') {
    const dir = resolve(planDir, plan.mail.dir);
    try {
      await access(dir, constants.W_OK);
      findings.push({ system: 'outbox', ok: true, message: `folder ${plan.mail.dir} is writable` });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      findings.push(
        code === 'ENOENT'
          ? { system: 'outbox', ok: true, message: `folder ${plan.mail.dir} will be created on first send` }
          : { system: 'outbox', ok: false, message: `folder ${plan.mail.dir} is not writable (${code})` },
      );
    }
  }
  return findings;
}

export async function checkExternal(plan: Plan, env: Record<string, string | undefined>, options: CheckOptions = {}): Promise<ExternalCheck[]> {
  const [cloudflare, resend, local] = await Promise.all([checkCloudflare(plan, env, options), checkResend(plan, env, options), checkLocal(plan, options)]);
  return [...cloudflare, ...resend, ...local];
}
