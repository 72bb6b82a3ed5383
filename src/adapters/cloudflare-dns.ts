import Cloudflare, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'cloudflare';
import { normalizeName, sameContent, sameName } from './local-dns.js';
import { ExternalError, RequestFailure, withRetry, type RetryOptions } from './retry.js';
import type { DnsProvider, DnsRecord, DnsRecordRef } from './types.js';

/**
 * DNS on Cloudflare through the official SDK. Zone and record ids are always looked up by name (a
 * hand-copied id is how the wrong zone gets edited). The SDK's retries are off (`maxRetries: 0`) so
 * retry.ts alone decides; writes touch only records whose content or TTL differ.
 */

export interface CloudflareDnsOptions {
  zone: string;
  apiToken: string;
  /** Name of the variable the token came from, so messages can say which one to fix. */
  tokenEnv: string;
  /** API base URL override (contract fakes in tests). */
  baseUrl?: string;
  /** Per-request timeout; a slow reply counts as a failed attempt. */
  timeoutMs?: number;
  retry?: RetryOptions;
}

/** What a call was doing, so a 403 can say which permission is missing. */
export type CloudflareOperation = 'verify' | 'find zone' | 'read records' | 'edit records';

/** Cloudflare answers a bad token with these codes (9109 invalid token, 6003/6111 malformed header, 1000 invalid API token). */
const BAD_TOKEN_CODES = new Set([1000, 6003, 6111, 9109]);

export interface FoundRecord extends DnsRecord {
  id: string;
}

function describeErrors(error: APIError): string {
  const parts = error.errors.map((item) => `${item.message ?? 'error'} (code ${item.code ?? '?'})`);
  return parts.length > 0 ? parts.join('; ') : error.message;
}

/**
 * Turn what the SDK threw into a RequestFailure the retry loop understands, with a message for the
 * operator. Never includes the token (the SDK's errors don't carry request headers).
 */
export function classifyCloudflareError(
  error: unknown,
  operation: CloudflareOperation,
  zone: string,
  tokenEnv: string,
): unknown {
  if (error instanceof APIConnectionTimeoutError) {
    return new RequestFailure('Cloudflare did not answer in time', undefined, true);
  }
  if (error instanceof APIConnectionError) {
    return new RequestFailure(`could not reach Cloudflare (${error.message})`, undefined, true);
  }
  if (!(error instanceof APIError)) return error;
  const status = error.status;
  const retryAfter = error.headers?.get('retry-after');
  if (status === 429) return new RequestFailure('Cloudflare rate limit reached', status, true, retryAfter);
  if (status !== undefined && status >= 500) {
    return new RequestFailure(`Cloudflare server error: ${describeErrors(error)}`, status, true, retryAfter);
  }
  const codes = error.errors.map((item) => item.code);
  if (status === 401 || codes.some((code) => code !== undefined && BAD_TOKEN_CODES.has(code))) {
    return new RequestFailure(
      `Cloudflare rejected the API token in ${tokenEnv}: it is invalid, expired or revoked (${describeErrors(error)}). ` +
        `Create a token with Zone → Zone → Read and Zone → DNS → Edit for ${zone}.`,
      status,
      false,
    );
  }
  if (status === 403) {
    const need =
      operation === 'edit records'
        ? `the API token in ${tokenEnv} lacks DNS edit permission for zone ${zone} (add Zone → DNS → Edit to the token)`
        : operation === 'read records'
          ? `the API token in ${tokenEnv} lacks DNS read permission for zone ${zone} (add Zone → DNS → Edit, which includes read)`
          : `the API token in ${tokenEnv} may not ${operation} for ${zone} (add Zone → Zone → Read for this zone)`;
    return new RequestFailure(`${need}; Cloudflare said: ${describeErrors(error)}`, status, false);
  }
  return new RequestFailure(`Cloudflare refused to ${operation} in zone ${zone}: ${describeErrors(error)}`, status, false);
}

export class CloudflareDnsProvider implements DnsProvider {
  readonly kind = 'cloudflare';
  readonly client: Cloudflare;
  private zoneId?: Promise<string>;

  constructor(private readonly options: CloudflareDnsOptions) {
    this.client = new Cloudflare({
      apiToken: options.apiToken,
      // The SDK would otherwise pick up CLOUDFLARE_API_KEY / CLOUDFLARE_EMAIL from the environment and
      // send them too; only the plan's token may be used.
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
      maxRetries: 0,
      timeout: options.timeoutMs ?? 30_000,
      logLevel: 'off',
    });
  }

  get zone(): string {
    return this.options.zone;
  }

  /** One SDK call under the shared retry policy, its errors classified. */
  call<T>(operation: CloudflareOperation, what: string, run: () => Promise<T>): Promise<T> {
    return withRetry(
      'Cloudflare',
      what,
      async () => {
        try {
          return await run();
        } catch (error) {
          throw classifyCloudflareError(error, operation, this.options.zone, this.options.tokenEnv);
        }
      },
      this.options.retry,
    );
  }

  /** The zone's id, found by its name. A token that cannot see the zone sees an empty list, not a 403. */
  findZoneId(): Promise<string> {
    this.zoneId ??= (async () => {
      const { zone } = this.options;
      const page = await this.call('find zone', `Cloudflare: find zone ${zone}`, () =>
        this.client.zones.list({ name: zone, per_page: 50 }),
      );
      const found = page.result.find((candidate) => sameName(candidate.name, zone));
      if (!found) {
        throw new ExternalError(
          'Cloudflare',
          `Cloudflare has no zone named ${zone} that the API token in ${this.options.tokenEnv} can see: ` +
            `check dns.zone in the plan, or give the token Zone → Zone → Read on ${zone}`,
        );
      }
      return found.id;
    })();
    // A failed lookup is not cached: the next call asks again.
    this.zoneId.catch(() => {
      this.zoneId = undefined;
    });
    return this.zoneId;
  }

  /** The record with this name and type, with its id; undefined when the zone has none. */
  async find(ref: DnsRecordRef): Promise<FoundRecord | undefined> {
    const zoneId = await this.findZoneId();
    // One page with an exact-name filter: a name holds a handful of records at most. Iterating the
    // SDK's paginator instead costs an extra request per lookup (it stops only on an empty page).
    const page = await this.call('read records', `Cloudflare: read ${ref.type} ${ref.name}`, () =>
      this.client.dns.records.list({
        zone_id: zoneId,
        name: { exact: normalizeName(ref.name) },
        type: ref.type,
        per_page: 100,
      }),
    );
    const records = page.result.filter((record) => record.type === ref.type && sameName(record.name, ref.name));
    if (records.length > 1) {
      throw new ExternalError(
        'Cloudflare',
        `${ref.name} has ${records.length} ${ref.type} records in zone ${this.options.zone}; ` +
          `cutover manages exactly one value per name and type. Remove the extra records, then retry.`,
      );
    }
    const record = records[0];
    if (!record) return undefined;
    return {
      id: record.id,
      name: ref.name,
      type: ref.type,
      content: String(record.content ?? ''),
      ttl: Number(record.ttl),
      ...(record.proxied ? { proxied: true } : {}),
    };
  }

  async read(refs: DnsRecordRef[]): Promise<DnsRecord[]> {
    const found: DnsRecord[] = [];
    for (const ref of refs) {
      const record = await this.find(ref);
      if (record) {
        const { id: _id, ...plain } = record;
        found.push(plain);
      }
    }
    return found;
  }

  async write(desired: DnsRecord[]): Promise<void> {
    const zoneId = await this.findZoneId();
    for (const want of desired) {
      const current = await this.find(want);
      // Proxied records have an automatic TTL (1) that Cloudflare will not change; only content counts.
      const ttl = current?.proxied ? 1 : want.ttl;
      if (current && sameContent(want.type, current.content, want.content) && current.ttl === ttl) continue;
      const body = { zone_id: zoneId, name: normalizeName(want.name), type: want.type, content: want.content, ttl };
      if (current) {
        // PATCH (edit) rather than PUT (update): it leaves proxied, comment and tags as they are.
        await this.call('edit records', `Cloudflare: set ${want.type} ${want.name}`, () =>
          this.client.dns.records.edit(current.id, body as Cloudflare.DNS.RecordEditParams),
        );
      } else {
        await this.call('edit records', `Cloudflare: create ${want.type} ${want.name}`, () =>
          this.client.dns.records.create(body as Cloudflare.DNS.RecordCreateParams),
        );
      }
    }
  }
}
