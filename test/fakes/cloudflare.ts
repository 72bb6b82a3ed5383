import { randomBytes } from 'node:crypto';
import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A contract fake of the Cloudflare v4 API, as much of it as the DNS adapter and `cutover check` use:
 * GET /user/tokens/verify, GET /user/tokens/:id (the token's policies), GET /zones, GET/POST /zones/:id/dns_records, PATCH/PUT
 * /zones/:id/dns_records/:id. Every answer uses the documented envelope
 * `{ success, errors, messages, result, result_info }`. Tokens carry the permissions real ones do:
 * a zone the token may not read is simply absent from GET /zones; DNS reads and edits without the
 * permission get 403 with code 10000; an unknown token gets 403 with code 9109. A token reads its own
 * policies only with User → API Tokens → Read (`readsTokens`), as on Cloudflare. `requests` records
 * every call, so a test can count the writes (anything but GET).
 */

export interface FakeRecord {
  id: string;
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  content: string;
  ttl: number;
  proxied?: boolean;
}

export interface FakeZone {
  id: string;
  name: string;
  records: FakeRecord[];
}

export interface FakeToken {
  /** Zones the token may read (Zone → Zone → Read). */
  zones: string[];
  dnsRead: boolean;
  dnsEdit: boolean;
  status?: 'active' | 'disabled' | 'expired';
  /** User → API Tokens → Read: may GET /user/tokens/:id (its own policies). */
  readsTokens?: boolean;
}

export interface CloudflareFake {
  /** Base URL for the SDK's `baseURL` (ends in /client/v4). */
  url: string;
  zones: FakeZone[];
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  /** A zone's records by name and type (for assertions). */
  record(zone: string, name: string, type: string): FakeRecord | undefined;
  close(): Promise<void>;
}

const id = () => randomBytes(16).toString('hex');

function envelope(result: unknown, extra: Record<string, unknown> = {}): Reply {
  return { status: 200, body: { success: true, errors: [], messages: [], result, ...extra } };
}

function failure(status: number, code: number, message: string): Reply {
  return { status, body: { success: false, errors: [{ code, message }], messages: [], result: null } };
}

function recordBody(zone: FakeZone, record: FakeRecord) {
  return {
    id: record.id,
    zone_id: zone.id,
    zone_name: zone.name,
    name: record.name,
    type: record.type,
    content: record.content,
    proxiable: true,
    proxied: record.proxied ?? false,
    ttl: record.ttl,
    settings: {},
    meta: {},
    comment: null,
    tags: [],
    created_on: '2026-01-01T00:00:00Z',
    modified_on: '2026-01-01T00:00:00Z',
  };
}

function paginate<T>(items: T[], query: URLSearchParams): Reply {
  const page = Number(query.get('page') ?? 1);
  const perPage = Number(query.get('per_page') ?? 20);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return envelope(slice, {
    result_info: { page, per_page: perPage, count: slice.length, total_count: items.length, total_pages: Math.ceil(items.length / perPage) },
  });
}

export async function startCloudflareFake(options: {
  zones: Array<{ name: string; records: Array<Omit<FakeRecord, 'id'>> }>;
  tokens: Record<string, FakeToken>;
}): Promise<CloudflareFake> {
  const zones: FakeZone[] = options.zones.map((zone) => ({
    id: id(),
    name: zone.name,
    records: zone.records.map((record) => ({ ...record, id: id() })),
  }));

  const handle = (request: RecordedRequest): Reply => {
    const auth = String(request.headers.authorization ?? '');
    const secret = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const token = options.tokens[secret];
    if (!token) return failure(403, 9109, 'Invalid access token');
    const { method, path, query } = request;

    if (method === 'GET' && path === '/user/tokens/verify') {
      return {
        status: 200,
        body: { success: true, errors: [], messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }], result: { id: `token-${secret}`, status: token.status ?? 'active' } },
      };
    }
    if (token.status && token.status !== 'active') return failure(403, 9109, 'Invalid access token');
    if (method === 'GET' && path === `/user/tokens/token-${secret}`) {
      if (!token.readsTokens) return failure(403, 9109, 'Unauthorized to access requested resource');
      const group = (name: string) => ({ id: name.toLowerCase().replace(' ', '-'), name });
      const policy = (zone: FakeZone) => ({
        id: `policy-${zone.id}`,
        effect: 'allow',
        permission_groups: [group('Zone Read'), ...(token.dnsRead ? [group('DNS Read')] : []), ...(token.dnsEdit ? [group('DNS Write')] : [])],
        resources: { [`com.cloudflare.api.account.zone.${zone.id}`]: '*' },
      });
      return envelope({ id: `token-${secret}`, name: secret, status: token.status ?? 'active', policies: zones.filter((zone) => token.zones.includes(zone.name)).map(policy) });
    }

    if (method === 'GET' && path === '/zones') {
      const name = query.get('name');
      const visible = zones.filter((zone) => token.zones.includes(zone.name) && (!name || zone.name === name));
      return paginate(
        visible.map((zone) => ({ id: zone.id, name: zone.name, status: 'active', paused: false, type: 'full', name_servers: [], account: { id: 'account', name: 'Account' } })),
        query,
      );
    }

    const match = /^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(path);
    if (!match) return failure(404, 7003, 'Could not route to ' + path + ', perhaps your object identifier is invalid?');
    const zone = zones.find((candidate) => candidate.id === match[1]);
    if (!zone || !token.zones.includes(zone.name)) return failure(403, 10000, 'Authentication error');
    const recordId = match[2];

    if (method === 'GET' && !recordId) {
      if (!token.dnsRead && !token.dnsEdit) return failure(403, 10000, 'Authentication error');
      const name = (query.get('name.exact') ?? query.get('name'))?.toLowerCase();
      const type = query.get('type');
      const found = zone.records.filter((record) => (!name || record.name.toLowerCase() === name) && (!type || record.type === type));
      return paginate(found.map((record) => recordBody(zone, record)), query);
    }
    if (!token.dnsEdit) return failure(403, 10000, 'Authentication error');
    const body = (request.body ?? {}) as Partial<FakeRecord>;
    if (body.ttl !== undefined && body.ttl !== 1 && (body.ttl < 60 || body.ttl > 86400)) {
      return failure(400, 9021, 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.');
    }
    if (method === 'POST' && !recordId) {
      const record: FakeRecord = { id: id(), name: String(body.name), type: body.type as FakeRecord['type'], content: String(body.content), ttl: body.ttl ?? 1 };
      zone.records.push(record);
      return envelope(recordBody(zone, record));
    }
    const record = zone.records.find((candidate) => candidate.id === recordId);
    if (!record) return failure(404, 81044, 'Record does not exist.');
    if (method === 'PATCH' || method === 'PUT') {
      if (body.content !== undefined) record.content = body.content;
      if (body.ttl !== undefined) record.ttl = record.proxied ? 1 : body.ttl;
      if (body.name !== undefined) record.name = body.name;
      return envelope(recordBody(zone, record));
    }
    return failure(405, 10405, 'Method not allowed');
  };

  const server = await startFakeServer(handle, (status) => ({
    success: false,
    errors: [{ code: status === 429 ? 10429 : 10500, message: status === 429 ? 'Rate limited' : 'Internal server error' }],
    messages: [],
    result: null,
  }), '/client/v4');

  return {
    url: server.url,
    zones,
    requests: server.requests,
    inject: server.inject,
    record: (zoneName, name, type) =>
      zones.find((zone) => zone.name === zoneName)?.records.find((record) => record.name === name && record.type === type),
    close: server.close,
  };
}
