import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSteps } from '../../machines/runbook.js';
import { renderPlanFile } from '../../src/config/example.js';
import { t0Of } from '../../src/config/settings.js';
import { ManualClock } from '../../src/engine/clock.js';
import { ExitError } from '../../src/engine/errors.js';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { describeRunner } from '../../src/engine/peek.js';
import { PostgresStore } from '../../src/engine/postgres-store.js';
import { forgetStore, useStore } from '../../src/engine/run-store.js';
import { Runner } from '../../src/engine/runner.js';
import { runReport } from '../../src/services/report.js';
import { attachStateStore } from '../../src/services/session.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { cli } from '../support/cli.js';
import { driveToEnd } from '../support/drive.js';
import { localPlanInput } from '../support/plan.js';
import { usePostgres } from '../support/postgres.js';
import { storesUnderTest } from '../support/stores.js';
import { createTeamLogins, TEAM_ROLE, teamOverrides, teamPlan, urlAs } from '../support/team.js';

/**
 * The engine on both state stores (DESIGN §2): a run driven to the end on a state database reads and
 * reports exactly as on files; a request landing in the database wakes the driver by NOTIFY; a
 * missing, pooled or unreachable state database is a clear exit 2.
 */
const server = usePostgres();
const stores = storesUnderTest(server);
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-stores-'));
  dirs.push(dir);
  return dir;
}

/** A team-mode run on a fresh state database `name`: its folder, plan, first store, and a runner opener at T-48h. */
async function teamRun(name: string, command = 'test driver') {
  const url = await server().createDatabase(name);
  const dir = newDir();
  const stateDir = join(dir, '.cutover');
  const plan = teamPlan(dir);
  const store = new PostgresStore({ plan, urlEnv: 'URL', env: { URL: url } });
  useStore(stateDir, store);
  const clock = new ManualClock(t0Of(plan).toMillis() - 48 * 3_600_000);
  const open = () => Runner.open({ stateDir, plan, planDir: dir, registry, adapters, clock, mode: 'drive', command, retries: 0 });
  return { url, dir, stateDir, plan, store, open };
}

const registry: StepRegistry = Object.fromEntries(
  allSteps().map((step) => [step.id, { dryRun: () => '', run: async (ctx) => ({ summary: `${ctx.stepId} ok`, output: ctx.stepId === 'review.decision' ? { verdict: 'continue' } : { ran: true } }) }]),
);
const adapters = { dns: () => { throw new Error('unused'); }, mail: () => { throw new Error('unused'); } };

/** Drive the team plan's run to the end on a manual clock that starts at T-48h (the same run on any store). */
async function driveRun(stateDir: string, dir: string) {
  const plan = teamPlan(dir);
  const clock = new ManualClock(t0Of(plan).toMillis() - 48 * 3_600_000);
  const runner = Runner.open({ stateDir, plan, planDir: dir, registry, adapters, clock, mode: 'drive', command: 'test', retries: 0 });
  const blocked = await driveToEnd(runner, clock);
  runner.close();
  return { plan, clock, blocked };
}

/** The report with what differs between any two runs masked: the run id and the times of day. */
const masked = (report: string) => report.replace(/`\d{8}-\d{4}-[0-9a-f]{4}`/g, '`RUN`').replace(/\d{2}:\d{2}:\d{2}/g, 'HH:MM:SS');

describe.each(stores)('a run on the $name store', (store) => {
  it('is driven to the end, its journal verifies, and its report is the one files give', async () => {
    const dir = newDir();
    const stateDir = join(dir, '.cutover');
    await store.attach(stateDir, teamPlan(dir));
    const { plan, clock, blocked } = await driveRun(stateDir, dir);
    expect(blocked.kind).toBe('ended');
    const entries = Journal.open(stateDir).entries;
    expect(verifyJournal(stateDir)).toEqual({ ok: true, entries: entries.length });
    expect(store.journalLines(stateDir)).toBe(entries.length);
    const report = runReport({ stateDir, plan, clock });

    // The same run on files, for comparison.
    const filesDir = newDir();
    const files = await driveRun(join(filesDir, '.cutover'), filesDir);
    const expected = runReport({ stateDir: join(filesDir, '.cutover'), plan: files.plan, clock: files.clock });
    expect(masked(report)).toBe(masked(expected));
    expect(report).toContain('| `close.signoff` | done |');
  });
});

describe('the state database wakes the driver', () => {
  let stateUrl = '';
  beforeAll(async () => {
    await createTeamLogins(server().url, { ana: 'ana-secret' });
    stateUrl = await server().createDatabase('wake_state');
  });

  it('a sign-off handed in by another login is applied on NOTIFY, without waiting for the poll, as that login', async () => {
    const dir = newDir();
    const stateDir = join(dir, '.cutover');
    const plan = teamPlan(dir);
    // Polling once an hour: only the NOTIFY can wake this driver in time.
    const driverStore = new PostgresStore({ plan, urlEnv: 'URL', teamRole: TEAM_ROLE, env: { URL: stateUrl }, pollMs: 3_600_000 });
    useStore(stateDir, driverStore);
    const clock = new ManualClock(t0Of(plan).toMillis() - 48 * 3_600_000);
    const runner = Runner.open({ stateDir, plan, planDir: dir, registry, adapters, clock, mode: 'drive', command: 'test driver', retries: 0 });
    const blocked = await runner.drive({ waitGates: false });
    expect(blocked).toMatchObject({ kind: 'signoff', location: { stepId: 'prep.staging-rehearsal' } });

    // Another machine: its own connection, as Ana.
    const ana = new PostgresStore({ plan, urlEnv: 'URL', env: { URL: urlAs(stateUrl, 'ana', 'ana-secret') } });
    ana.connect();
    const posted = Date.now();
    const id = ana.postRequest({ event: { type: 'SIGNOFF', stepId: 'prep.staging-rehearsal', by: '', at: 0 }, command: 'cutover signoff prep.staging-rehearsal', postedAt: new Date().toISOString() });
    let answer: ReturnType<PostgresStore['readAnswer']>;
    const deadline = Date.now() + 30_000;
    while (!(answer = ana.readAnswer(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const wakeMs = Date.now() - posted;
    expect(answer, 'no answer: the NOTIFY did not wake the driver').toMatchObject({ ok: true, message: expect.stringContaining('Recorded as Ana Ruiz') });
    const line = runner.journal.entries.findLast((entry) => entry.type === 'event')!;
    expect(line).toMatchObject({ inbox: id, identity: { name: 'Ana Ruiz', account: 'ana', via: 'postgres-login' } });
    runner.close();
    ana.close();
    forgetStore(stateDir);
    driverStore.close();
    console.log(`NOTIFY wake: a sign-off from another connection was applied and answered ${wakeMs} ms after it was posted`);
  });
});

describe('a driver that loses its session', () => {
  it('stops at once with a message (its lock went with the session), and the next driver takes over', async () => {
    const { url, stateDir, plan, store: first, open } = await teamRun('lost_state');
    const runner = open();
    expect((await runner.drive({ waitGates: false })).kind).toBe('signoff');
    // `cutover status` on any machine: the holder is known alive (its session holds the lock).
    expect(describeRunner(stateDir, false)).toMatchObject({ alive: true, text: expect.stringMatching(/^Driven now by .*"test driver".*, PostgreSQL login postgres\.$/) });

    // The network drops, or a DBA ends the session: here, pg_terminate_backend.
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cutover state' AND datname = 'lost_state'`);
    await admin.end();
    let stopped: unknown;
    const deadline = Date.now() + 30_000;
    while (!stopped && Date.now() < deadline) {
      stopped = await runner.drive({ waitGates: false }).then(() => undefined, (error: unknown) => error);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(stopped).toBeInstanceOf(ExitError);
    expect((stopped as ExitError).exitCode).toBe(1);
    expect((stopped as ExitError).message).toMatch(/The connection to the state database \(URL\), run key \w+ was lost: this process no longer holds the run/);
    runner.close();
    forgetStore(stateDir);
    first.close();
    // The lock is free without anyone unlocking it.
    const looker = new PostgresStore({ plan, urlEnv: 'URL', env: { URL: url } });
    useStore(stateDir, looker);
    expect(describeRunner(stateDir, false)?.text).toMatch(/^No runner is driving it now/);
    forgetStore(stateDir);
    looker.close();

    // Another process (here: another connection) takes over and resumes; nothing recorded is lost.
    const second = new PostgresStore({ plan, urlEnv: 'URL', env: { URL: url } });
    useStore(stateDir, second);
    const next = open();
    expect(next.journal.entries.at(-1)).toMatchObject({ type: 'lock.taken-over' });
    expect((await next.drive({ waitGates: false })).location.stepId).toBe('prep.staging-rehearsal');
    next.close();
    expect(verifyJournal(stateDir)).toMatchObject({ ok: true });
    forgetStore(stateDir);
    second.close();
  });
});

describe('a record changed behind cutover\'s back in the state database', () => {
  it('is refused as the files are: rows removed past the trigger, or the snapshot gone', async () => {
    const { url, stateDir, store, open } = await teamRun('tampered_state', 'test');
    const runner = open();
    await runner.drive({ waitGates: false });
    runner.close();
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query('ALTER TABLE cutover_state.events DISABLE TRIGGER append_only');
    await admin.query('DELETE FROM cutover_state.events WHERE seq > 3');
    expect(open).toThrow(/is shorter than the state has seen: it ends at line 3/);
    await admin.query('DELETE FROM cutover_state.snapshots');
    await admin.query('ALTER TABLE cutover_state.events ENABLE TRIGGER append_only');
    await admin.end();
    expect(open).toThrow(/holds the record of run \S+ .* but there is no state/);
    forgetStore(stateDir);
    store.close();
  });
});

describe('cutover unlock in team mode', () => {
  it('ends the session of a driver on another machine, which stops; the release is journaled', async () => {
    const { url, dir, stateDir, plan, store, open } = await teamRun('unlock_state');
    const runner = open();
    expect((await runner.drive({ waitGates: false })).kind).toBe('signoff');
    // As if that driver ran on another machine (this host cannot see its process).
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query(`UPDATE cutover_state.drivers SET holder = holder || '{"host": "laptop-of-dana"}'`);
    await admin.end();

    // Another machine: the same plan, its own state folder, the same state database.
    const file = join(dir, 'cutover.config.ts');
    writeFileSync(file, renderPlanFile(localPlanInput(dir, teamOverrides)));
    const result = await cli(['--config', file, '--state', join(dir, 'elsewhere'), 'unlock', '--reason', 'laptop lost at the airport'], { CUTOVER_STATE_URL: url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Released the lock of .*@laptop-of-dana/);
    let stopped: unknown;
    const deadline = Date.now() + 30_000;
    while (!stopped && Date.now() < deadline) {
      stopped = await runner.drive({ waitGates: false }).then(() => undefined, (error: unknown) => error);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(String(stopped)).toMatch(/was lost: this process no longer holds the run/);
    runner.close();
    forgetStore(stateDir);
    store.close();
    const reader = new PostgresStore({ plan, urlEnv: 'URL', env: { URL: url } });
    useStore(stateDir, reader);
    expect(Journal.open(stateDir).entries.at(-1)).toMatchObject({ type: 'lock.released', reason: 'laptop lost at the airport', identity: { account: 'postgres', via: 'postgres-login' } });
    expect(verifyJournal(stateDir)).toMatchObject({ ok: true });
    // `cutover log` and `cutover status` read the same run from any machine.
    const elsewhere = ['--config', file, '--state', join(dir, 'elsewhere')];
    const log = await cli([...elsewhere, 'log', '--json'], { CUTOVER_STATE_URL: url });
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout.trim().split('\n').map((line) => JSON.parse(line).type)).toEqual(Journal.open(stateDir).entries.map((entry) => entry.type));
    const status = await cli([...elsewhere, 'status'], { CUTOVER_STATE_URL: url });
    expect(status.stdout).toContain('prep.staging-rehearsal');
    expect(status.stdout).toContain('No runner is driving it now');
    forgetStore(stateDir);
    reader.close();
  });
});

describe('a state database that cannot be used is a clear exit 2', () => {
  function planFile(dir: string): string {
    const file = join(dir, 'cutover.config.ts');
    writeFileSync(file, renderPlanFile(localPlanInput(dir, teamOverrides)));
    return file;
  }

  it.each([
    ['the variable is not set', {}, /CUTOVER_STATE_URL is not set/],
    ['it names a transaction pooler', { CUTOVER_STATE_URL: 'postgres://ana:pw@aws-0-eu.pooler.supabase.com:6543/postgres' }, /points at a connection pooler .*needs a direct connection/],
    ['the database is unreachable', { CUTOVER_STATE_URL: 'postgres://ana:pw@127.0.0.1:1/none' }, /Cannot reach the state database \(CUTOVER_STATE_URL\)/],
  ])('when %s', async (_why, env, message) => {
    const dir = newDir();
    const result = await cli(['--config', planFile(dir), 'status'], env as Record<string, string>);
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr + result.stdout).not.toContain(':pw@');
  });

  it('cutover check creates the schema once and says who the login is', async () => {
    const dir = newDir();
    const url = await server().createDatabase('check_state');
    const first = await cli(['--config', planFile(dir), 'check'], { CUTOVER_STATE_URL: url });
    expect(first.stdout).toContain('✓ state database (CUTOVER_STATE_URL): reached as PostgreSQL login postgres, which no person of the plan has');
    expect(first.stdout).toContain('schema cutover_state created');
    const again = await cli(['--config', planFile(dir), 'check'], { CUTOVER_STATE_URL: url });
    expect(again.stdout).toContain('schema cutover_state ready');
  });
});

describe('side files in team mode', () => {
  it('what a step keeps in the state folder on one machine is in the state folder of the next driver, and the latest write wins', async () => {
    await createTeamLogins(server().url, {});
    const url = await server().createDatabase('side_files_state');
    const env = { CUTOVER_STATE_URL: url };
    const machineA = newDir();
    const machineB = newDir();
    const plan = teamPlan(machineA);
    const stateA = join(machineA, '.cutover');
    const stateB = join(machineB, '.cutover');
    const grants = `${JSON.stringify({ revoked: [{ table: 'public.readings', role: 'authenticated', privilege: 'INSERT' }] })}\n`;

    const storeA = attachStateStore(plan, machineA, stateA, env)!;
    // As freeze.enable and dns.switch write them: through the durable write every step uses.
    await writeFileAtomic(join(stateA, 'freeze-grants.run1.json'), grants, { mode: 0o600 });
    await writeFileAtomic(join(stateA, 'external', 'dns', 'dns.switch.before.json'), '{"records":[]}\n', { mode: 0o600 });
    // The engine's own records are the store's already, and files outside the state folder are not the run's.
    await writeFileAtomic(join(stateA, 'state.json'), '{}\n');
    await writeFileAtomic(join(machineA, 'elsewhere.json'), '{}\n');
    forgetStore(stateA);
    storeA.close();

    // Machine A is gone; another machine attaches to the same run.
    const storeB = attachStateStore(plan, machineB, stateB, env)!;
    expect(readFileSync(join(stateB, 'freeze-grants.run1.json'), 'utf8')).toBe(grants);
    expect(statSync(join(stateB, 'freeze-grants.run1.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(stateB, 'external', 'dns', 'dns.switch.before.json'), 'utf8')).toBe('{"records":[]}\n');
    expect(existsSync(join(stateB, 'state.json'))).toBe(false);
    expect(existsSync(join(machineB, 'elsewhere.json'))).toBe(false);
    // B rewrites a record; A, back later with its stale copy, gets B's.
    await writeFileAtomic(join(stateB, 'external', 'dns', 'dns.switch.before.json'), '{"records":["B"]}\n', { mode: 0o600 });
    forgetStore(stateB);
    storeB.close();
    const again = attachStateStore(plan, machineA, stateA, env)!;
    expect(readFileSync(join(stateA, 'external', 'dns', 'dns.switch.before.json'), 'utf8')).toBe('{"records":["B"]}\n');

    // A record that cannot reach the state database is a failed write: the step does not act on it.
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'side_files_state' AND pid <> pg_backend_pid()`);
    await admin.end();
    await expect(writeFileAtomic(join(stateA, 'freeze-target-grants.run1.json'), grants, { mode: 0o600 })).rejects.toThrow(/state database/);
    forgetStore(stateA);
    again.close();
  });
});
