import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan, PlanInput } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { checkCustomSteps, customStepActions } from '../../src/steps/custom/index.js';
import type { StepContext } from '../../src/steps/types.js';
import { startStatusPageFake, type StatusPageFake } from '../fakes/status-page.js';
import { localPlan } from '../support/plan.js';
import { usePostgres } from '../support/postgres.js';

/**
 * The actions behind the steps a plan adds, each against the real thing: SQL on a real PostgreSQL
 * (read-only unless the step says it writes), programs run without a shell, HTTP to a contract fake.
 */

const server = usePostgres();
const dir = mkdtempSync(join(tmpdir(), 'cutover-custom-actions-'));
let statusPage: StatusPageFake;
let targetUrl: string;
beforeAll(async () => {
  statusPage = await startStatusPageFake();
  targetUrl = await server().createDatabase('custom_actions');
  const client = new pg.Client({ connectionString: targetUrl });
  await client.connect();
  await client.query('create table notes (id int primary key)');
  await client.end();
});
afterAll(async () => {
  await statusPage.close();
  rmSync(dir, { recursive: true, force: true });
});

const place = { phase: 'window', after: 'validate.monitoring' } as const;

function planWith(steps: NonNullable<PlanInput['steps']>): Plan {
  return localPlan(dir, { steps });
}

const notes: { message: string; data?: Record<string, unknown> }[] = [];
function context(plan: Plan, stepId: string, outputs: Record<string, unknown> = {}, signal = new AbortController().signal): StepContext {
  return {
    plan,
    planDir: dir,
    runId: 'test-run',
    stepId,
    attempt: 1,
    clock: new ManualClock(Date.parse('2026-12-05T22:00:00Z')),
    stateDir: join(dir, '.cutover'),
    outputs,
    adapters: { dns: () => { throw new Error('no DNS'); }, mail: () => { throw new Error('no mail'); } },
    progress: () => {},
    note: (message, data) => notes.push({ message, ...(data ? { data } : {}) }),
    signal,
    env: { PATH: process.env.PATH, TARGET_DATABASE_URL: targetUrl, STATUS_PAGE_AUTH: `OAuth ${statusPage.key}` },
  };
}

async function count(): Promise<number> {
  const client = new pg.Client({ connectionString: targetUrl });
  await client.connect();
  try {
    return Number((await client.query('select count(*) from notes')).rows[0].count);
  } finally {
    await client.end();
  }
}

const run = (plan: Plan, id: string, outputs?: Record<string, unknown>) => customStepActions(plan)[id]!.run(context(plan, id, outputs));

describe('SQL steps', () => {
  it('run read-only unless they declare writes: the database refuses the write, nothing is changed, and the engine does not retry', async () => {
    const plan = planWith([{ kind: 'sql', id: 'custom.note', title: 'Note', ...place, database: 'target', sql: 'insert into notes values (1)' }]);
    const error = await run(plan, 'custom.note').catch((caught: unknown) => caught as Error & { retryable?: boolean });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/read-only transaction/);
    expect((error as { retryable?: boolean }).retryable).toBe(false);
    expect(await count()).toBe(0);
  });

  it('write when they declare it', async () => {
    const plan = planWith([{ kind: 'sql', id: 'custom.note', title: 'Note', ...place, database: 'target', sql: 'insert into notes values (2)', writes: true }]);
    const result = await run(plan, 'custom.note');
    expect(result.summary).toBe('target: INSERT 1 row(s) affected');
    expect(await count()).toBe(1);
  });

  it('fail a check that expects no row when the query lists one', async () => {
    const plan = planWith([{ kind: 'sql', id: 'custom.no-notes', title: 'No notes', ...place, database: 'target', sql: 'select id from notes', expect: 'no-rows' }]);
    await expect(run(plan, 'custom.no-notes')).rejects.toThrow('custom.no-notes: the query returned 1 row(s) (expected none); first: {"id":2}');
  });
});

describe('command steps', () => {
  it('run the program with its arguments as written, no shell between, and journal its output', async () => {
    const plan = planWith([{ kind: 'command', id: 'custom.echo', title: 'Echo', ...place, argv: [process.execPath, '-e', 'console.log(process.argv[1])', '$HOME; echo hi > pwned'] }]);
    const result = await run(plan, 'custom.echo');
    expect(result.output).toEqual({ exitCode: 0, stdout: '$HOME; echo hi > pwned\n' });
    expect(notes.at(-1)?.data).toMatchObject({ exitCode: 0, stdout: '$HOME; echo hi > pwned\n' });
  });

  it('fail with the last line of what the program said when it exits non-zero', async () => {
    const plan = planWith([{ kind: 'command', id: 'custom.fail', title: 'Fail', ...place, argv: [process.execPath, '-e', 'console.error("cache purge refused: token expired"); process.exit(4)'] }]);
    await expect(run(plan, 'custom.fail')).rejects.toThrow(/exited with 4: cache purge refused: token expired/);
  });

  it('stop a program that runs past its timeout, even one that ignores SIGTERM', async () => {
    const plan = planWith([{ kind: 'command', id: 'custom.slow', title: 'Slow', ...place, argv: [process.execPath, '-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], timeout: '1s' }]);
    await expect(run(plan, 'custom.slow')).rejects.toThrow(/ran longer than 1s and was stopped/);
  });
});

describe('HTTP steps', () => {
  const incident = (extra: Partial<Extract<NonNullable<PlanInput['steps']>[number], { kind: 'http' }>> = {}) =>
    planWith([
      {
        kind: 'http',
        id: 'custom.status-page',
        title: 'Status page',
        ...place,
        url: `${statusPage.url}/v1/pages/${statusPage.page}/incidents`,
        headers: { Authorization: { valueEnv: 'STATUS_PAGE_AUTH' } },
        body: { incident: { name: 'Database move' } },
        expectStatus: 201,
        undo: { kind: 'http', method: 'PATCH', url: `${statusPage.url}/v1/pages/${statusPage.page}/incidents/inc1`, headers: { Authorization: { valueEnv: 'STATUS_PAGE_AUTH' } }, body: { incident: { status: 'resolved' } } },
        ...extra,
      },
    ]);

  it('send the header from the environment and the body as JSON, and fail on another status than expected', async () => {
    const result = await run(incident(), 'custom.status-page');
    expect(result.summary).toBe(`POST ${statusPage.url}/v1/pages/freshtrack/incidents: HTTP 201`);
    expect(statusPage.requests.at(-1)).toMatchObject({ method: 'POST', headers: { authorization: `OAuth ${statusPage.key}`, 'content-type': 'application/json' } });
    const error = (await run(incident({ expectStatus: 200 }), 'custom.status-page').catch((caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(/answered HTTP 201 \(expected 200\)/);
    // Not declared idempotent: the engine must not post it again on its own.
    expect((error as { retryable?: boolean }).retryable).toBe(false);
  });

  it('undo only what finished: nothing when the step has no recorded output, the PATCH when it has', async () => {
    const plan = incident();
    statusPage.incidents.length = 0;
    await run(plan, 'custom.status-page');
    const before = statusPage.requests.length;
    expect((await run(plan, 'custom.status-page.undo-on-rollback')).summary).toBe('nothing to undo: custom.status-page did not finish');
    expect(statusPage.requests).toHaveLength(before);
    expect((await run(plan, 'custom.status-page.undo-on-rollback', { 'custom.status-page': { status: 201 } })).summary).toMatch(/^PATCH .*inc1: HTTP 200$/);
    expect(statusPage.incidents[0]).toMatchObject({ id: 'inc1', status: 'resolved' });
  });

  it('are checked by `cutover check` for the variables their headers need, without a request being made', () => {
    const plan = incident();
    const before = statusPage.requests.length;
    expect(checkCustomSteps(plan, {})).toEqual([
      {
        system: 'plan steps',
        ok: false,
        message: 'STATUS_PAGE_AUTH is not set: set it to the Authorization header of custom.status-page, the Authorization header of custom.status-page (undo). The plan names the variable, never the value.',
      },
    ]);
    expect(checkCustomSteps(plan, { STATUS_PAGE_AUTH: 'OAuth x' })).toMatchObject([{ ok: true, message: 'STATUS_PAGE_AUTH is set (the Authorization header of custom.status-page, the Authorization header of custom.status-page (undo))' }]);
    expect(statusPage.requests).toHaveLength(before);
  });

  it('say which variable to set when the header\'s is missing', async () => {
    const plan = incident();
    const ctx = { ...context(plan, 'custom.status-page'), env: {} };
    await expect(customStepActions(plan)['custom.status-page']!.run(ctx)).rejects.toThrow(/STATUS_PAGE_AUTH is not set: set it to the Authorization header of custom\.status-page/);
  });
});
