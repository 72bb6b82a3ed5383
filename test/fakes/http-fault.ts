import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * What the contract fakes share: a local HTTP server, a record of every request (with a monotonic
 * arrival time, so tests can assert a wait without wall-clock thresholds), and injectable faults.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The body's exact text (signatures are computed over it). */
  raw: string;
  /** Arrival time, ms on a monotonic clock. */
  at: number;
}

export interface Fault {
  /** Which requests it applies to; all when absent. */
  method?: string;
  path?: RegExp;
  /** How many matching requests it affects. */
  times: number;
  /** Let this many matching requests through first (fail the second, not the first). */
  skip?: number;
  /** Answer with this status instead of serving the request. */
  status?: number;
  /** Retry-After header sent with the status. */
  retryAfter?: string;
  /** Serve the request, but only answer after this long (a slow reply). */
  delayMs?: number;
  /** Serve the request and never answer (a request in flight when its client dies). */
  hang?: boolean;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Handler = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface FakeServer {
  url: string;
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<{ body: unknown; raw: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return { body: undefined, raw: '' };
  try {
    return { body: JSON.parse(text), raw: text };
  } catch {
    return { body: text, raw: text };
  }
}

export async function startFakeServer(
  handle: Handler,
  errorBody: (status: number) => unknown,
  basePath = '',
): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const hanging = new Set<ServerResponse>();

  // A string body is sent as text (Slack's webhooks answer `ok` / `invalid_token` as plain text).
  const send = (response: ServerResponse, reply: Reply) => {
    const text = typeof reply.body === 'string';
    response.writeHead(reply.status, { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', ...reply.headers });
    response.end(text ? reply.body : JSON.stringify(reply.body));
  };

  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname,
      query: url.searchParams,
      headers: request.headers,
      ...(await readBody(request)),
      at: performance.now(),
    };
    requests.push(recorded);
    const fault = faults.find((candidate) => {
      const matches = candidate.times > 0 && (!candidate.method || candidate.method === recorded.method) && (!candidate.path || candidate.path.test(recorded.path));
      if (matches && candidate.skip) {
        candidate.skip -= 1;
        return false;
      }
      return matches;
    });
    if (fault) fault.times -= 1;
    if (fault?.status) {
      send(response, { status: fault.status, body: errorBody(fault.status), headers: fault.retryAfter ? { 'retry-after': fault.retryAfter } : {} });
      return;
    }
    let reply: Reply;
    try {
      reply = await handle(recorded);
    } catch (error) {
      reply = { status: 500, body: { message: String(error) } };
    }
    if (fault?.hang) {
      hanging.add(response);
      return;
    }
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (!response.destroyed) send(response, reply);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    inject: (fault) => faults.push({ ...fault }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
