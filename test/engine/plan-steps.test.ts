import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanInput } from '../../src/config/schema.js';
import { Journal, verifyJournal, type JournalEntry } from '../../src/engine/journal.js';
import { startStatusPageFake, type StatusPageFake } from '../fakes/status-page.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';
import { usePostgres } from '../support/postgres.js';
import { until } from './child.js';

/**
 * Issue 9, item 6: steps a user adds in the plan. A status-page HTTP call (to a contract fake), a
 * read-only SQL check on the target (a real PostgreSQL) and a sign-off of its own, added to the prep
 * phase after preflight: in `cutover plan` with their dry-run text, in the checklist for that plan,
 * run in order by a real runner process and journaled; a SIGKILL while the status page holds its
 * reply gives "outcome unknown" on resume, and the operator's answer is journaled.
 */

const pg = usePostgres();
let statusPage: StatusPageFake;
beforeAll(async () => {
  statusPage = await startStatusPageFake();
});
afterAll(async () => {
  await statusPage.close();
});

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  statusPage.incidents.length = 0;
  statusPage.requests.length = 0;
});

function planSteps(): NonNullable<PlanInput['steps']> {
  return [
    {
      kind: 'http',
      id: 'custom.status-page',
      title: 'Status page: maintenance scheduled',
      description: 'Users following the status page see the window coming.',
      phase: 'prep',
      after: 'prep.preflight',
      method: 'POST',
      url: `${statusPage.url}/v1/pages/${statusPage.page}/incidents`,
      headers: { Authorization: { valueEnv: 'STATUS_PAGE_AUTH' } },
      body: { incident: { name: 'Database move', status: 'scheduled' } },
      expectStatus: 201,
      undo: { kind: 'http', method: 'PATCH', url: `${statusPage.url}/v1/pages/${statusPage.page}/incidents/inc1`, headers: { Authorization: { valueEnv: 'STATUS_PAGE_AUTH' } }, body: { incident: { status: 'resolved' } } },
    },
    {
      kind: 'sql',
      id: 'custom.target-check',
      title: 'Target answers read-only',
      phase: 'prep',
      after: 'custom.status-page',
      database: 'target',
      sql: "select current_setting('transaction_read_only') as read_only",
      expect: 'rows',
    },
    { kind: 'signoff', id: 'custom.ops-ok', title: 'On-call briefed', phase: 'prep', after: 'custom.target-check', approvers: ['Ben Okafor'] },
  ];
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-plan-steps-'));
  dirs.push(dir);
  const planFile = writeLocalPlan(dir, { extra: { steps: planSteps() } });
  const env = { STATUS_PAGE_AUTH: `OAuth ${statusPage.key}`, TARGET_DATABASE_URL: pg().url };
  return { dir, planFile, env };
}

const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const childScript = join(import.meta.dirname, 'plan-steps-child.ts');

function startChild(dir: string, args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, [jiti, childScript, dir, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk) => (stdout += chunk));
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.on('exit', (code) => resolve({ code, stdout: stdout.trim(), stderr })));
  return { proc, done };
}
const runChild = (dir: string, args: string[], env: Record<string, string>) => startChild(dir, args, env).done;

const journalOf = (dir: string): readonly JournalEntry[] => Journal.open(join(dir, '.cutover')).entries;
/** The journal as "type step" lines, for the steps this test is about. */
const stepLines = (dir: string) =>
  journalOf(dir)
    .filter((entry) => /^step\.(started|finished|failed|outcome-unknown)$/.test(entry.type) || entry.type === 'event')
    .map((entry) => (entry.type === 'event' ? `${(entry.event as { type: string }).type} ${(entry.event as { stepId?: string }).stepId}` : `${entry.type} ${String(entry.stepId)}`))
    .filter((line) => /prep\.preflight|custom\.|prep\.lower-ttl/.test(line));

describe('steps a plan adds', () => {
  it('appear in `cutover plan` with their dry-run text and in the checklist for that plan', async () => {
    const { dir, planFile, env } = setup();
    const plan = await cli(['plan', '--config', planFile], env);
    expect(plan.code, plan.stderr).toBe(0);
    const lines = plan.stdout.split('\n');
    const dryRunOf = (id: string) => lines[lines.findIndex((line) => line.includes(` ${id} [`)) + 1]!.trim();
    // In the prep phase, after preflight, in the plan's order.
    const order = ['prep.preflight', 'custom.status-page', 'custom.target-check', 'custom.ops-ok', 'prep.replicate'].map((id) => lines.findIndex((line) => line.includes(` ${id} [`)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(dryRunOf('custom.status-page')).toBe(
      `POST ${statusPage.url}/v1/pages/freshtrack/incidents (headers: Authorization from $STATUS_PAGE_AUTH) with body {"incident":{"name":"Database move","status":"scheduled"}}; expects HTTP 201`,
    );
    expect(dryRunOf('custom.target-check')).toBe("run read-only on the target: select current_setting('transaction_read_only') as read_only; expects at least one row");
    expect(dryRunOf('custom.ops-ok')).toBe('wait for 1 sign-off(s) from Ben Okafor');
    // The undo sits in the rollback and (the step is before the freeze) the abort branch.
    expect(dryRunOf('custom.status-page.undo-on-rollback')).toBe(`if custom.status-page finished: PATCH ${statusPage.url}/v1/pages/freshtrack/incidents/inc1 (headers: Authorization from $STATUS_PAGE_AUTH) with body {"incident":{"status":"resolved"}}; expects HTTP 200`);
    expect(plan.stdout).toContain('custom.status-page.undo-on-abort [action]');
    expect(plan.stdout).not.toContain(statusPage.key);

    const out = join(dir, 'CHECKLIST.md');
    const checklist = await cli(['checklist', '--config', planFile, '--out', out], env);
    expect(checklist.code, checklist.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('- [ ] **`custom.status-page`** Status page: maintenance scheduled [action]');
    expect(text).toContain(`  Does: POST ${statusPage.url}/v1/pages/freshtrack/incidents (headers: Authorization from $STATUS_PAGE_AUTH)`);
    expect(text).toContain('  Undone by `custom.status-page.undo-on-rollback`, `custom.status-page.undo-on-abort`.');
    expect(text).toContain('- [ ] **`custom.target-check`** Target answers read-only [action]');
    // Without a description of its own, a step is described by what it does.
    expect(text).toContain("  run read-only on the target: select current_setting('transaction_read_only') as read_only; expects at least one row\n  Added by the plan; not idempotent");
    expect(text).toContain('- [ ] **`custom.ops-ok`** On-call briefed [signoff]');
    expect(text).toMatch(/custom\.ops-ok`\*\* On-call briefed \[signoff\].* — sign-off: Ben Okafor/);
    expect(text.indexOf('custom.status-page`**')).toBeLessThan(text.indexOf('custom.target-check`**'));
  }, 120_000);

  it('run in order, for real, and are journaled; the sign-off is Ben\'s to give; an abort undoes the status page; the report lists them', async () => {
    const { dir, planFile, env } = setup();
    const first = await runChild(dir, ['drive'], env);
    expect(first.stdout, first.stderr).toBe('BLOCKED signoff custom.ops-ok');
    expect(statusPage.incidents).toEqual([{ id: 'inc1', name: 'Database move', status: 'scheduled' }]);
    // The SQL ran in a read-only transaction on the real target.
    const sql = journalOf(dir).findLast((entry) => entry.type === 'step.finished' && entry.stepId === 'custom.target-check')!;
    expect(sql.summary).toBe('target: SELECT returned 1 row(s)');
    expect((sql.result as { output: { firstRows: unknown[] } }).output.firstRows).toEqual([{ read_only: 'on' }]);

    // Ana is no approver of this sign-off; Ben is.
    const refused = await runChild(dir, ['signoff', 'custom.ops-ok', 'Chen Wei'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Chen Wei');
    expect((await runChild(dir, ['signoff', 'custom.ops-ok', 'Ben Okafor'], env)).code).toBe(0);
    const next = await runChild(dir, ['drive'], env);
    expect(next.stdout, next.stderr).toBe('BLOCKED signoff prep.staging-rehearsal');
    expect(stepLines(dir)).toEqual([
      'step.started prep.preflight',
      'step.finished prep.preflight',
      'step.started custom.status-page',
      'step.finished custom.status-page',
      'step.started custom.target-check',
      'step.finished custom.target-check',
      'SIGNOFF custom.ops-ok',
      'step.started prep.lower-ttl',
      'step.finished prep.lower-ttl',
    ]);
    // The header's value (a secret) is in no file the run wrote.
    for (const file of ['journal.ndjson', 'state.json']) expect(readFileSync(join(dir, '.cutover', file), 'utf8')).not.toContain(statusPage.key);
    expect(verifyJournal(join(dir, '.cutover'))).toMatchObject({ ok: true });

    // Called off before the freeze: the abort branch undoes the status page (the step finished).
    expect((await runChild(dir, ['abort', 'Ana Ruiz', 'the target is not ready'], env)).code).toBe(0);
    const aborted = await runChild(dir, ['drive'], env);
    expect(aborted.stdout, aborted.stderr).toBe('BLOCKED ended aborted');
    expect(statusPage.incidents).toEqual([{ id: 'inc1', name: 'Database move', status: 'resolved' }]);
    const branch = journalOf(dir)
      .filter((entry) => entry.type === 'step.finished' && /^abort\.|undo/.test(String(entry.stepId)))
      .map((entry) => `${String(entry.stepId)}: ${String(entry.summary)}`);
    expect(branch).toEqual([
      'abort.restore-ttl: ok',
      `custom.status-page.undo-on-abort: PATCH ${statusPage.url}/v1/pages/freshtrack/incidents/inc1: HTTP 200`,
      'abort.notice: ok',
    ]);

    const report = await cli(['report', '--config', planFile], env);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/\| `custom\.status-page` \| done \|.*POST .*incidents: HTTP 201/);
    expect(report.stdout).toMatch(/\| `custom\.target-check` \| done \|.*SELECT returned 1 row/);
    expect(report.stdout).toMatch(/\| `custom\.ops-ok` \| done \|.*signed by Ben Okafor/);
    expect(report.stdout).toMatch(/\| `custom\.status-page\.undo-on-abort` \| done \|.*PATCH .*HTTP 200/);
  }, 180_000);

  it('killed while the status page holds its reply: the resumed run asks ("outcome unknown") instead of posting again; the operator\'s answer is journaled', async () => {
    const { dir, env } = setup();
    statusPage.inject({ method: 'POST', path: /incidents$/, times: 1, hang: true });
    const driving = startChild(dir, ['drive'], env);
    await until(() => statusPage.requests.length === 1, 'the status page to receive the request', 120_000);
    driving.proc.kill('SIGKILL');
    await driving.done;

    const resumed = await runChild(dir, ['drive'], env);
    expect(resumed.stdout, resumed.stderr).toBe('BLOCKED unknown custom.status-page');
    expect(resumed.code).toBe(3);
    expect(statusPage.requests).toHaveLength(1);
    expect(journalOf(dir).filter((entry) => entry.type === 'step.outcome-unknown').map((entry) => entry.stepId)).toEqual(['custom.status-page']);
    // Asking again does not guess either.
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED unknown custom.status-page');
    expect(statusPage.requests).toHaveLength(1);

    // The operator looks at the status page, finds the incident open, and says so.
    expect(statusPage.incidents).toHaveLength(1);
    const answer = await runChild(dir, ['skip', 'custom.status-page', 'Ana Ruiz', 'incident inc1 is open on the status page'], env);
    expect(answer.code, answer.stderr).toBe(0);
    const recorded = journalOf(dir).findLast((entry) => entry.type === 'event')!;
    expect(recorded.event).toMatchObject({ type: 'SKIP', stepId: 'custom.status-page', by: 'Ana Ruiz', reason: 'incident inc1 is open on the status page' });

    const after = await runChild(dir, ['drive'], env);
    expect(after.stdout, after.stderr).toBe('BLOCKED signoff custom.ops-ok');
    expect(statusPage.requests).toHaveLength(1);
    expect(stepLines(dir)).toEqual([
      'step.started prep.preflight',
      'step.finished prep.preflight',
      'step.started custom.status-page',
      'step.outcome-unknown custom.status-page',
      'SKIP custom.status-page',
      'step.started custom.target-check',
      'step.finished custom.target-check',
    ]);
  }, 180_000);

  it('a step removed from the plan while the run stands at it is refused with what to do, not a crash', async () => {
    const { dir, planFile, env } = setup();
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED signoff custom.ops-ok');
    writeLocalPlan(dir, { extra: { steps: planSteps().filter((step) => step.id !== 'custom.ops-ok') } });
    const message = "The run stands at custom.ops-ok, which the plan no longer has. Put the step back in the plan's steps to resume there";
    const driving = await runChild(dir, ['drive'], env);
    expect(driving.code).toBe(2);
    expect(driving.stderr).toContain(message);
    const status = await cli(['status', '--config', planFile], env);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain(message);
    // Put back, the run resumes where it stood.
    writeLocalPlan(dir, { extra: { steps: planSteps() } });
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED signoff custom.ops-ok');
  }, 120_000);

  it('steps added behind where the run stands are named once in the journal: they will not run', async () => {
    const { dir, planFile, env } = setup();
    writeLocalPlan(dir, { extra: { steps: [] } });
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED signoff prep.staging-rehearsal');
    writeLocalPlan(dir, { extra: { steps: planSteps() } });
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED signoff prep.staging-rehearsal');
    expect((await runChild(dir, ['drive'], env)).stdout).toBe('BLOCKED signoff prep.staging-rehearsal');
    const notes = journalOf(dir).filter((entry) => entry.type === 'plan.steps-passed');
    expect(notes.map((entry) => entry.steps)).toEqual([['custom.status-page', 'custom.target-check', 'custom.ops-ok']]);
    expect(statusPage.requests).toHaveLength(0);
    const log = await cli(['log', '--config', planFile], env);
    expect(log.stdout).toContain('the plan adds custom.status-page, custom.target-check, custom.ops-ok behind where the run stands: they will not run');
  }, 120_000);
});
