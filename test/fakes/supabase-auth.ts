import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local contract fake of Supabase's GoTrue admin endpoint for listing users:
 *
 *   GET /auth/v1/admin/users?page=N&per_page=M
 *   Authorization: Bearer <service role key>   (and `apikey: <key>`, as supabase-js sends it)
 *   200 {"users": [...], "aud": "authenticated"}
 *   X-Total-Count: <all users>
 *   Link: </admin/users?page=2&per_page=M>; rel="next", </admin/users?page=K&per_page=M>; rel="last"
 *
 * Pages are 1-based; GoTrue's default page size is 50. A page past the end is empty. Faults can be
 * queued: a status (429 with Retry-After, 5xx) or a delay before answering.
 */

export interface FakeUser {
  id: string;
  aud: string;
  role: string;
  email: string;
  email_confirmed_at: string;
  phone: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export type Fault = { status: number; body?: unknown } | { delayMs: number };

export interface FakeSupabaseAuth {
  url: string;
  serviceRoleKey: string;
  users: FakeUser[];
  /** Every request received: method, path with query, and the status answered. */
  requests: { method: string; url: string; status: number }[];
  /** Answer the next requests with these faults, in order, before answering normally again. */
  injectFaults(...faults: Fault[]): void;
  close(): Promise<void>;
}

export function makeUsers(count: number): FakeUser[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const hex = n.toString(16).padStart(12, '0');
    return {
      id: `00000000-0000-4000-8000-${hex}`,
      aud: 'authenticated',
      role: 'authenticated',
      email: `user${n}@example.com`,
      email_confirmed_at: '2026-01-01T00:00:00Z',
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { full_name: `User ${n}` },
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-02T00:00:00Z',
    };
  });
}

export async function startFakeSupabaseAuth(options: { users: number; serviceRoleKey?: string }): Promise<FakeSupabaseAuth> {
  const serviceRoleKey = options.serviceRoleKey ?? 'fake-service-role-key';
  const users = makeUsers(options.users);
  const faults: Fault[] = [];
  const requests: { method: string; url: string; status: number }[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', status });
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' || url.pathname !== '/auth/v1/admin/users') {
      return answer(req, res, 404, { code: 404, error_code: 'not_found', msg: 'Not found' });
    }
    if (req.headers.authorization !== `Bearer ${serviceRoleKey}` || req.headers.apikey !== serviceRoleKey) {
      return answer(req, res, 401, { code: 401, error_code: 'no_authorization', msg: 'This endpoint requires a valid Bearer token' });
    }
    const fault = faults.shift();
    if (fault && 'delayMs' in fault) {
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (res.destroyed || req.socket.destroyed) return;
    } else if (fault) {
      const headers: Record<string, string> = fault.status === 429 ? { 'retry-after': '1' } : {};
      return answer(req, res, fault.status, fault.body ?? { code: fault.status, error_code: 'fault', msg: `injected ${fault.status}` }, headers);
    }
    const page = Math.max(1, Number(url.searchParams.get('page') || '1'));
    const perPage = Math.max(1, Number(url.searchParams.get('per_page') || '50'));
    const slice = users.slice((page - 1) * perPage, page * perPage);
    const lastPage = Math.max(1, Math.ceil(users.length / perPage));
    const links: string[] = [];
    if (page < lastPage) links.push(`</admin/users?page=${page + 1}&per_page=${perPage}>; rel="next"`);
    links.push(`</admin/users?page=${lastPage}&per_page=${perPage}>; rel="last"`);
    answer(req, res, 200, { users: slice, aud: 'authenticated' }, { 'x-total-count': String(users.length), link: links.join(', ') });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    serviceRoleKey,
    users,
    requests,
    injectFaults: (...more) => faults.push(...more),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
