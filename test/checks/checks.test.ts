import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type Plan } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { ExitError } from '../../src/engine/errors.js';
import { freePort } from '../../src/rehearsal/embedded.js';
import { checkSteps, type CheckOutput } from '../../src/steps/checks/index.js';
import { reconcileSteps } from '../../src/steps/reconcile/index.js';
import type { StepContext } from '../../src/steps/types.js';
import { makeContext, tempDir, type TestContext } from '../external/helpers/context.js';
import { usePostgres } from '../support/postgres.js';
import { createPair, fixtureTables, FREEZE, ingestAfterSwitch, MINUTE, NOW, sensor, SWITCH, type Pair } from '../reconcile/fixture.js';

/**
 * The recurring checks after the switch against a real target database (the reconcile fixture: six
 * sensors, five of them reporting at the freeze) and a local stand-in for the new system whose
 * answers each test sets: some 500s, slow replies, a broken auth endpoint.
 */

const server = usePostgres();

/** How the stand-in answers: every `failEvery`-th health request fails, each reply waits `delayMs`. */
const app = { failEvery: 0, delayMs: 0, authStatus: 200, count: 0 };
let http: Server;
let base = '';
let pair: Pair;
let dir: { path: string; remove: () => Promise<void> };

// Sensor 5 stops 60 minutes after the switch; the others keep reporting every 5 minutes until NOW.
const QUIET_AT = new Date(Date.parse(SWITCH) + 50 * MINUTE).getTime();

beforeAll(async () => {
  http = createServer((request, response) => {
    const reply = (status: number, body: string) => {
      setTimeout(() => {
        response.writeHead(status, { 'content-type': 'text/plain' });
        response.end(body);
      }, app.delayMs);
    };
    if (request.url === '/api/auth/health') return reply(app.authStatus, app.authStatus === 200 ? 'ok' : 'auth down');
    if (request.url === '/health/db') return reply(200, 'ok');
    app.count += 1;
    return app.failEvery > 0 && app.count % app.failEvery === 0 ? reply(500, 'boom') : reply(200, 'ok');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  pair = await createPair(server());
  await ingestAfterSwitch(pair.target, [1, 2, 3, 4, 5], (s, minutes) => s === 5 && minutes > 60);
  dir = await tempDir('checks');
});

afterAll(async () => {
  await new Promise((resolve) => http.close(resolve));
  await pair.close();
  await dir.remove();
});

function plan(): Plan {
  return planSchema.parse({
    ...examplePlan,
    tables: fixtureTables,
    probes: {
      oldHealth: { url: `${base}/old/health` },
      newHealth: { url: `${base}/health`, bodyMatch: 'ok' },
      smoke: [{ url: `${base}/health/db`, bodyMatch: 'ok' }, { url: `${base}/api/auth/health` }],
      baselineRequests: 20,
    },
  });
}

const outputs = (baselineP95Ms: number) => ({
  'freeze.snapshot': { at: FREEZE, lsn: '0/3000060', counts: {} },
  'final.baseline': { p50Ms: baselineP95Ms / 2, p95Ms: baselineP95Ms, errorRate: 0, requests: 50 },
});

function context(stepId: string, options: { at?: number; baselineP95Ms?: number; env?: Record<string, string>; outputs?: Record<string, unknown> } = {}): TestContext {
  app.count = 0;
  const p = plan();
  const ctx = makeContext({
    plan: p,
    planDir: dir.path,
    stateDir: dir.path,
    stepId,
    clock: new ManualClock(options.at ?? QUIET_AT),
    outputs: { ...outputs(options.baselineP95Ms ?? 1000), ...options.outputs },
    env: options.env ?? { [p.source.urlEnv]: pair.sourceUrl, [p.target.urlEnv]: pair.targetUrl },
  });
  return Object.assign(ctx, { switchedAt: SWITCH });
}

function reset(changes: Partial<typeof app> = {}) {
  Object.assign(app, { failEvery: 0, delayMs: 0, authStatus: 200 }, changes);
}

describe('hypercare.check', () => {
  it('passes on a healthy system: no attention, a one-line summary, and the measurement noted for the review', async () => {
    reset();
    const ctx = context('hypercare.check');
    const result = await checkSteps['hypercare.check']!.run(ctx);
    expect(result.attention).toBeUndefined();
    expect(result.summary).toMatch(/^clean: error rate 0 % of 20 requests, p95 \d+ ms \([\d.]+× baseline 1000 ms\); database up \(\d+ ms\); 2 smoke probes ok; ingestion: 5 active groups reporting; Reconciled 3 tables, [\d,]+ buckets: clean \(\d+ new rows after the cutover point\)$/);
    const output = result.output as CheckOutput;
    expect(output).toMatchObject({ requests: 20, failures: 0, errorRate: 0, baselineP95Ms: 1000, breaches: [], checkedAt: new Date(QUIET_AT).toISOString() });
    // Sensor 6 went quiet 3 h before the freeze: not active, not counted.
    expect(output.ingestion).toEqual({ status: 'checked', tables: [{ table: 'public.readings', activeGroups: 5, silent: [], silentCount: 0 }] });
    expect(ctx.notes).toEqual([expect.objectContaining({ message: result.summary, data: { check: expect.objectContaining({ requests: 20, failures: 0, breaches: [] }) } })]);
  });

  it('is not breached at exactly the error-rate threshold (1 of 20 = 5 %)', async () => {
    reset({ failEvery: 20 });
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check'));
    expect((result.output as CheckOutput).errorRate).toBe(0.05);
    expect(result.attention).toBeUndefined();
  });

  it('raises attention above the error-rate threshold, with the failures as evidence', async () => {
    reset({ failEvery: 4 });
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check'));
    expect(result.attention?.reason).toBe(`error rate 25 % of 20 requests to ${base}/health is above the 5 % threshold (status 500, expected 200; body does not contain ok (×5))`);
    expect(result.summary).toMatch(/^1 breach: error rate 25 % of 20 requests/);
    expect((result.attention?.evidence as CheckOutput).failures).toBe(5);
  });

  it('raises attention when p95 is above 1.5× the baseline', async () => {
    reset({ delayMs: 160 });
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check', { baselineP95Ms: 80 }));
    expect(result.attention?.reason).toMatch(/^p95 \d+ ms is [\d.]+× the baseline 80 ms, above the 1\.5× threshold$/);
    expect((result.output as CheckOutput).p95Multiple).toBeGreaterThan(1.5);
  });

  it('compares a baseline faster than the latency floor as the floor: 4 ms becoming 40 ms is not a slowdown', async () => {
    reset({ delayMs: 40 });
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check', { baselineP95Ms: 4 }));
    expect(result.attention).toBeUndefined();
    expect((result.output as CheckOutput).baselineP95Ms).toBe(50);
  });

  it('raises attention when the auth endpoint fails', async () => {
    reset({ authStatus: 503 });
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check'));
    expect(result.attention?.reason).toBe(`smoke probe ${base}/api/auth/health failed: status 503, expected 200`);
    expect(result.summary).toContain('1 of 2 smoke probes FAILED');
  });

  it('names the active sensor that stopped sending readings for longer than the gap threshold', async () => {
    reset();
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check', { at: NOW.getTime() }));
    // Sensor 5's last reading was 57 minutes after the switch; NOW is 180 minutes after it.
    expect(result.attention?.reason).toBe(
      `readings ingestion: 1 of 5 active groups in public.readings sent nothing for more than 30m: sensor_id=${sensor(5)} (last 2026-12-06T00:44:30.000Z, silent 123 min)`,
    );
  });

  it('raises attention when the target database is unreachable, without printing its password', async () => {
    reset();
    const p = plan();
    const url = `postgres://cutover:s3cret-pw@127.0.0.1:${await freePort()}/nowhere`;
    const result = await checkSteps['hypercare.check']!.run(context('hypercare.check', { env: { [p.target.urlEnv]: url } }));
    expect(result.attention?.reason).toMatch(/^target database \(TARGET_DATABASE_URL\) unreachable: .*ECONNREFUSED/);
    expect(JSON.stringify(result)).not.toContain('s3cret-pw');
    expect((result.output as CheckOutput).ingestion.status).toBe('failed');
  });

  it('refuses to run without the target database configured (a plan mistake, not a finding)', async () => {
    reset();
    await expect(checkSteps['hypercare.check']!.run(context('hypercare.check', { env: {} }))).rejects.toThrow(ExitError);
  });
});

describe('stabilize.check', () => {
  it('reports the target database size and WAL archiving as facts', async () => {
    reset();
    const result = await checkSteps['stabilize.check']!.run(context('stabilize.check'));
    expect(result.attention).toBeUndefined();
    const facts = (result.output as CheckOutput).facts as { databaseBytes: number; archiver: { mode: string; failing: boolean } };
    expect(facts.databaseBytes).toBeGreaterThan(1_000_000);
    expect(facts.archiver).toMatchObject({ mode: 'off', failing: false });
    expect(result.summary).toMatch(/target database [\d.]+ MB, WAL archiving off$/);
  });
});

describe('watch.daily', () => {
  it('re-evaluates the rollback criteria: continue on clean evidence', async () => {
    reset();
    const reconciled = await reconcileSteps['watch.reconcile']!.run({ ...context('watch.reconcile'), clock: new ManualClock(QUIET_AT) } as StepContext);
    const result = await checkSteps['watch.daily']!.run(context('watch.daily', { baselineP95Ms: 1000, outputs: { 'watch.reconcile': reconciled.output } }));
    expect(result.attention).toBeUndefined();
    const output = result.output as CheckOutput;
    expect(output.decision?.verdict).toBe('continue');
    expect(output.decision?.missing).toEqual([]);
    expect(result.summary).toMatch(/; rollback criteria: CONTINUE$/);
  });

  it('raises attention when the verdict is rollback (a migrated reading lost in the target)', async () => {
    reset();
    await pair.target.query('delete from public.readings where id = 100042');
    try {
      const reconciled = await reconcileSteps['watch.reconcile']!.run({ ...context('watch.reconcile'), clock: new ManualClock(QUIET_AT) } as StepContext);
      const result = await checkSteps['watch.daily']!.run(context('watch.daily', { outputs: { 'watch.reconcile': reconciled.output } }));
      expect(result.attention?.reason).toMatch(/^rollback criteria met: roll back now: critical data loss — 1 source row missing from the target \(reconciliation at /);
      expect((result.output as CheckOutput).decision?.path[1]).toMatchObject({ node: 'data-loss', answer: 'yes' });
      expect((result.attention?.evidence as { decisionText: string }).decisionText).toContain('Verdict: ROLLBACK');
    } finally {
      // Put the row back exactly as the source has it, for the tests after this one.
      const { rows } = await pair.source.query('select id, sensor_id, recorded_at, temperature from public.readings where id = 100042');
      const row = rows[0]!;
      await pair.target.query('insert into public.readings (id, sensor_id, recorded_at, temperature) values ($1, $2, $3, $4)', [row.id, row.sensor_id, row.recorded_at, row.temperature]);
    }
  });
});
