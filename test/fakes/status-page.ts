import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A contract fake of a hosted status page's API (Atlassian Statuspage's shape): POST
 * /v1/pages/PAGE/incidents with `Authorization: OAuth KEY` opens an incident (201 with its id),
 * PATCH /v1/pages/PAGE/incidents/ID changes its status (200); a wrong key is 401, an unknown page or
 * incident 404, a body without `incident.name` 422.
 */

export interface Incident {
  id: string;
  name: string;
  status: string;
}

export interface StatusPageFake {
  url: string;
  page: string;
  key: string;
  incidents: Incident[];
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

export async function startStatusPageFake(key = 'sp-key-7c1f0a9e2b'): Promise<StatusPageFake> {
  const page = 'freshtrack';
  const incidents: Incident[] = [];
  const handle = (request: RecordedRequest): Reply => {
    if (request.headers.authorization !== `OAuth ${key}`) return { status: 401, body: { error: 'Could not authenticate' } };
    const match = /^\/v1\/pages\/([^/]+)\/incidents(?:\/([^/]+))?$/.exec(request.path);
    if (!match || match[1] !== page) return { status: 404, body: { error: 'Not found' } };
    const fields = (request.body as { incident?: { name?: string; status?: string } } | undefined)?.incident;
    if (request.method === 'POST' && !match[2]) {
      if (!fields?.name) return { status: 422, body: { error: 'incident.name is required' } };
      const incident = { id: `inc${incidents.length + 1}`, name: fields.name, status: fields.status ?? 'investigating' };
      incidents.push(incident);
      return { status: 201, body: incident };
    }
    if (request.method === 'PATCH' && match[2]) {
      const incident = incidents.find((candidate) => candidate.id === match[2]);
      if (!incident) return { status: 404, body: { error: 'Not found' } };
      if (fields?.status) incident.status = fields.status;
      return { status: 200, body: incident };
    }
    return { status: 405, body: { error: 'Method not allowed' } };
  };
  const server = await startFakeServer(handle, (status) => ({ error: `HTTP ${status}` }));
  return { url: server.url, page, key, incidents, requests: server.requests, inject: server.inject, close: server.close };
}
