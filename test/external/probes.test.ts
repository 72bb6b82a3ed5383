import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { probeHttp } from '../../src/adapters/probes.js';
import type { ManualClock } from '../../src/engine/clock.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { usePostgres } from '../support/postgres.js';
import { makeContext, manualClock, planWith, tempDir } from './helpers/context.js';

/** Probes against a small local stand-in for the old and new application. */

let server: Server;
let base = '';
let healthCalls = 0;
const received: unknown[] = [];
let database: string | undefined;
const postgres = usePostgres();

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = request.url ?? '/';
    if (url === '/health') {
      response.end('{"status":"ok"}');
    } else if (url === '/flaky') {
      // Every fifth request fails: a 20 % error rate.
      healthCalls += 1;
      response.statusCode = healthCalls % 5 === 0 ? 503 : 200;
      response.end('ok');
    } else if (url === '/degraded') {
      response.end('{"status":"degraded"}');
    } else if (url === '/slow') {
      setTimeout(() => response.end('ok'), 1_000);
    } else if (url === '/webhook' && request.method === 'POST') {
      const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { end_device_ids: { dev_eui: string } };
      received.push(payload);
      if (database) {
        const client = new pg.Client({ connectionString: database });
        await client.connect();
        await client.query('insert into readings (dev_eui) values ($1)', [payload.end_device_ids.dev_eui]);
        await client.end();
      }
      response.statusCode = 202;
      response.end();
    } else if (url === '/webhook/arrived') {
      response.statusCode = received.length > 0 ? 200 : 404;
      response.end();
    } else if (url === '/webhook/never') {
      response.statusCode = 404;
      response.end();
    } else {
      response.statusCode = 404;
      response.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const probe = (path: string, extra: Record<string, unknown> = {}) => ({ url: `${base}${path}`, method: 'GET' as const, expectStatus: 200, timeoutMs: 5_000, ...extra });

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((remove) => remove()));
});

async function context(stepId: string, probes: Record<string, unknown>, options: { clock?: ManualClock; env?: Record<string, string> } = {}) {
  const dir = await tempDir('probes');
  cleanups.push(dir.remove);
  const plan = planWith({ probes: { oldHealth: { url: `${base}/health` }, newHealth: { url: `${base}/health` }, ...probes } });
  return makeContext({ plan, planDir: dir.path, stateDir: dir.path, stepId, ...options });
}

describe('an HTTP probe', () => {
  test('checks status, body (substring or /regex/) and reports latency', async () => {
    expect(await probeHttp(probe('/health', { bodyMatch: '"ok"' }))).toMatchObject({ ok: true, status: 200, bodyMatched: true, latencyMs: expect.any(Number) });
    expect(await probeHttp(probe('/degraded', { bodyMatch: '/"status":\\s*"ok"/' }))).toMatchObject({ ok: false, problem: 'body does not contain /"status":\\s*"ok"/' });
    expect(await probeHttp(probe('/missing'))).toMatchObject({ ok: false, status: 404, problem: 'status 404, expected 200' });
    expect(await probeHttp(probe('/slow', { timeoutMs: 100 }))).toMatchObject({ ok: false, problem: 'no answer within 100 ms' });
  });
});

describe('probe steps', () => {
  test('deploy.smoke lists every failing URL and why', async () => {
    const ctx = await context('deploy.smoke', { smoke: [{ url: `${base}/health` }, { url: `${base}/degraded`, bodyMatch: 'ok' }, { url: `${base}/missing` }] });

    await expect(externalSteps['deploy.smoke']!.run(ctx)).rejects.toThrow(
      [
        'smoke tests of the new system: 2 of 4 checks failed:',
        `  GET ${base}/degraded: body does not contain ok`,
        `  GET ${base}/missing: status 404, expected 200`,
      ].join('\n'),
    );
  });

  test('final.baseline records p50, p95 and the error rate, and flags an old system already failing', async () => {
    healthCalls = 0;
    const ctx = await context('final.baseline', { oldHealth: { url: `${base}/flaky` }, baselineRequests: 20 });

    const result = await externalSteps['final.baseline']!.run(ctx);

    expect(result.output).toEqual({ p50Ms: expect.any(Number), p95Ms: expect.any(Number), errorRate: 0.2, requests: 20 });
    const { p50Ms, p95Ms } = result.output as { p50Ms: number; p95Ms: number };
    expect(p95Ms).toBeGreaterThanOrEqual(p50Ms);
    expect(result.attention?.reason).toMatch(/already fails 20\.0 % of requests, above the 5\.0 % threshold/);
  });

  test('validate.webhook posts the test payload and confirms it arrived through checkUrl', async () => {
    received.length = 0;
    const payload = { end_device_ids: { dev_eui: 'CUTOVER-TEST' } };
    const ctx = await context('validate.webhook', { webhook: { url: `${base}/webhook`, payload, checkUrl: `${base}/webhook/arrived` } });

    const result = await externalSteps['validate.webhook']!.run(ctx);

    expect(received).toEqual([payload]);
    expect(result.summary).toBe(`webhook test payload accepted (202) and found by ${base}/webhook/arrived after 1 look`);
  });

  test('validate.webhook fails when the payload never shows up', async () => {
    const clock = manualClock();
    const ctx = await context('validate.webhook', { webhook: { url: `${base}/webhook`, payload: { end_device_ids: { dev_eui: 'X' } }, checkUrl: `${base}/webhook/never` } }, { clock });

    const running = externalSteps['validate.webhook']!.run(ctx);
    let settled = false;
    running.catch(() => {}).finally(() => (settled = true));
    while (!settled) {
      await vi.waitFor(() => {
        if (!settled && clock.nextDeadline() === undefined) throw new Error('not waiting yet');
      });
      if (!settled) clock.set(clock.nextDeadline()!);
    }

    await expect(running).rejects.toThrow(`webhook: the test payload was accepted (202) but not found by ${base}/webhook/never within 60 s; ingestion on the new system may be broken`);
  });

  test('validate.webhook confirms arrival with checkSql run on the target database', async () => {
    database = await postgres().createDatabase('webhook_target');
    const setup = new pg.Client({ connectionString: database });
    await setup.connect();
    await setup.query('create table readings (id serial primary key, dev_eui text not null)');
    await setup.end();
    const ctx = await context(
      'validate.webhook',
      { webhook: { url: `${base}/webhook`, payload: { end_device_ids: { dev_eui: 'CUTOVER-TEST' } }, checkSql: "select 1 from readings where dev_eui = 'CUTOVER-TEST'" } },
      { env: { TARGET_DATABASE_URL: database } },
    );

    const result = await externalSteps['validate.webhook']!.run(ctx);
    database = undefined;

    expect(result.summary).toBe('webhook test payload accepted (202) and found by the check query on the target after 1 look');
  });
});
