import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { openPool } from '../adapters/postgres.js';

/**
 * Small local HTTP stand-ins for what a rehearsal needs around the databases: the old application
 * (on the source), the new one (on the target, with monitoring endpoints and the TTN webhook), and
 * Supabase's auth admin API answering from the source's `auth.users`. They do real work against the
 * real databases, so a probe that passes here passed for a reason.
 */
export interface StandIn {
  url: string;
  close(): Promise<void>;
}

type Handler = (request: IncomingMessage, body: string) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;

async function serve(handler: Handler): Promise<StandIn> {
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      handler(request, body)
        .catch((error: unknown) => ({ status: 500, body: { error: error instanceof Error ? error.message : String(error) } as unknown, headers: {} as Record<string, string> }))
        .then(({ status, body: payload, headers }) => {
          const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
          response.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json', ...headers });
          response.end(text);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const ok = (body: unknown = 'ok') => ({ status: 200, body });

/** An application's pool: statements bounded like an application's, row security as the role has it. */
function standInPool(url: string, max: number): pg.Pool {
  return openPool(url, { label: 'rehearsal application database', applicationName: 'rehearsal app', statementTimeoutMs: 30_000, max });
}

async function databaseAnswers(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query('select 1');
    return true;
  } catch {
    return false;
  }
}

/** The old application: healthy while its database answers. */
export async function startOldApp(sourceUrl: string): Promise<StandIn> {
  const pool = standInPool(sourceUrl, 2);
  const app = await serve(async (request) => {
    if (request.url === '/health') return (await databaseAnswers(pool)) ? ok() : { status: 503, body: 'database unreachable' };
    return { status: 404, body: 'not found' };
  });
  return { url: app.url, close: async () => (await app.close(), await pool.end()) };
}

export interface NewApp extends StandIn {
  /** Readings written through the webhook since the app started. */
  ingested(): number;
}

/**
 * The new application on the target: health, database and auth checks, monitoring endpoints, and
 * the TTN uplink webhook that writes a reading into the target, stamped with `now()` (the
 * rehearsal's clock, so a reading arrives when the timeline says it does).
 */
export async function startNewApp(targetUrl: string, now: () => number = Date.now): Promise<NewApp> {
  const pool = standInPool(targetUrl, 3);
  let ingested = 0;
  const app = await serve(async (request, body) => {
    switch (request.url) {
      case '/health':
      case '/grafana/api/health':
      case '/status':
        return ok();
      case '/health/db':
        return (await databaseAnswers(pool)) ? ok() : { status: 503, body: 'database unreachable' };
      case '/api/auth/health':
        return ok({ status: 'ok' });
      case '/api/webhooks/ttn': {
        if (request.method !== 'POST') return { status: 405, body: 'POST only' };
        const uplink = JSON.parse(body) as { end_device_ids?: { dev_eui?: string }; uplink_message?: { decoded_payload?: { temperature?: number } } };
        const devEui = uplink.end_device_ids?.dev_eui;
        const temperature = uplink.uplink_message?.decoded_payload?.temperature;
        if (!devEui || typeof temperature !== 'number') return { status: 400, body: 'expected end_device_ids.dev_eui and a decoded temperature' };
        const { rowCount } = await pool.query(
          `insert into public.temperature_readings (sensor_id, recorded_at, temperature, received_at)
           select id, $3, $2, $3 from public.sensors where dev_eui = $1`,
          [devEui, temperature, new Date(now()).toISOString()],
        );
        if (!rowCount) return { status: 404, body: `no sensor ${devEui}` };
        ingested += rowCount;
        return { status: 202, body: { accepted: rowCount } };
      }
      default:
        return { status: 404, body: 'not found' };
    }
  });
  return { url: app.url, ingested: () => ingested, close: async () => (await app.close(), await pool.end()) };
}

/**
 * Supabase's auth admin API (`GET /auth/v1/admin/users?page=&per_page=`), answered from the source's
 * `auth.users`, as supabase-js `auth.admin.listUsers` calls it.
 */
export async function startAuthAdmin(sourceUrl: string, serviceRoleKey: string): Promise<StandIn> {
  const pool = standInPool(sourceUrl, 2);
  const app = await serve(async (request) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== '/auth/v1/admin/users') return { status: 404, body: { msg: 'not found' } };
    if (request.headers.authorization !== `Bearer ${serviceRoleKey}`) return { status: 401, body: { msg: 'invalid JWT' } };
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    const perPage = Math.min(1000, Math.max(1, Number(url.searchParams.get('per_page') ?? 50)));
    const { rows } = await pool.query(
      `select id, email, created_at, raw_user_meta_data from auth.users order by created_at, id limit $1 offset $2`,
      [perPage, (page - 1) * perPage],
    );
    const { rows: total } = await pool.query<{ count: string }>('select count(*) from auth.users');
    const users = rows.map((row) => ({
      id: row.id,
      aud: 'authenticated',
      role: 'authenticated',
      email: row.email,
      created_at: row.created_at,
      user_metadata: row.raw_user_meta_data ?? {},
      app_metadata: {},
    }));
    return { status: 200, body: { users, aud: 'authenticated' }, headers: { 'x-total-count': String(total[0]!.count) } };
  });
  return { url: app.url, close: async () => (await app.close(), await pool.end()) };
}
