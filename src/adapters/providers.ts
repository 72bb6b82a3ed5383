import { resolve } from 'node:path';
import type { Plan } from '../config/schema.js';
import type { Adapters } from '../steps/types.js';
import { CloudflareDnsProvider } from './cloudflare-dns.js';
import { LocalDnsProvider } from './local-dns.js';
import { OutboxMailProvider } from './outbox-mail.js';
import { ResendMailProvider } from './resend-mail.js';
import type { RetryOptions } from './retry.js';
import { readSecret } from './secrets.js';

export { readSecret } from './secrets.js';
import type { DnsProvider, MailProvider } from './types.js';

/**
 * The one place that turns the plan's choices (cloudflare | local, resend | outbox) into providers.
 * Secrets are read from the environment here, when a provider is first used, and only here: a plan
 * with local providers needs no secrets at all, and `cutover plan` never asks for one it does not use.
 */

export interface AdapterOptions {
  /** Retry policy for the HTTP providers (tests shorten the waits). */
  retry?: RetryOptions;
  /** Per-request timeout for the HTTP providers. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function createDnsProvider(plan: Plan, planDir: string, env: Record<string, string | undefined>, options: AdapterOptions = {}): DnsProvider {
  const dns = plan.dns;
  if (dns.provider === 'local') return new LocalDnsProvider(resolve(planDir, dns.file), dns.zone);
  return new CloudflareDnsProvider({
    zone: dns.zone,
    apiToken: readSecret(env, dns.apiTokenEnv, `a Cloudflare API token with Zone → Zone → Read and Zone → DNS → Edit on ${dns.zone}`),
    tokenEnv: dns.apiTokenEnv,
    ...(dns.baseUrl ? { baseUrl: dns.baseUrl } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retry || options.signal ? { retry: { ...options.retry, ...(options.signal ? { signal: options.signal } : {}) } } : {}),
  });
}

export function createMailProvider(plan: Plan, planDir: string, env: Record<string, string | undefined>, options: AdapterOptions = {}): MailProvider {
  const mail = plan.mail;
  const staging = plan.environment === 'staging';
  if (mail.provider === 'outbox') return new OutboxMailProvider({ dir: resolve(planDir, mail.dir), from: mail.from, staging });
  return new ResendMailProvider({
    apiKey: readSecret(env, mail.apiKeyEnv, 'a Resend API key (a sending-only key is enough to send)'),
    apiKeyEnv: mail.apiKeyEnv,
    from: mail.from,
    ratePerSecond: mail.ratePerSecond,
    ...(mail.baseUrl ? { baseUrl: mail.baseUrl } : {}),
    ...(staging ? { staging: { allowList: mail.allowList } } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The adapters steps receive. Each provider is built on first use and then reused (Resend pacing is per provider). */
export function createAdapters(
  plan: Plan,
  planDir: string,
  env: Record<string, string | undefined>,
  options: AdapterOptions = {},
): Adapters {
  let dns: DnsProvider | undefined;
  let mail: MailProvider | undefined;
  return {
    dns: () => (dns ??= createDnsProvider(plan, planDir, env, options)),
    mail: () => (mail ??= createMailProvider(plan, planDir, env, options)),
  };
}
