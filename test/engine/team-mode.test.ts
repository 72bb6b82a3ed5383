import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFromPlan } from '../../src/config/settings.js';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { PostgresStore } from '../../src/engine/postgres-store.js';
import { forgetStore, useStore } from '../../src/engine/run-store.js';
import { usePostgres } from '../support/postgres.js';
import { localPlanInput } from '../support/plan.js';
import { createTeamLogins, TEAM_ROLE, teamOverrides, teamPlan, urlAs } from '../support/team.js';

const planInput = (dir: string) => localPlanInput(dir, teamOverrides);

/**
 * Issue 12 item 4, "what it must show" 3: team mode across machines. Every operator is a process of
 * its own with its own PostgreSQL login (what two machines amount to for the state database): two
 * logins sign a 2-of-2 quorum while a third process drives; the driver is SIGKILLed and another
 * process takes over through the advisory lock; the journal's chain verifies; the events table
 * refuses changes.
 */
const server = usePostgres();
const child = join(import.meta.dirname, 'team-child.mjs');
const children: ChildProcess[] = [];
const dirs: string[] = [];
const logins = { ana: 'ana-secret', ben: 'ben-secret', ops: 'ops-secret' } as const;
let stateUrl = '';

beforeAll(async () => {
  await createTeamLogins(server().url, logins);
  stateUrl = await server().createDatabase('team_state');
});

afterAll(() => {
  for (const proc of children) proc.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function start(dir: string, login: keyof typeof logins, args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [child, dir, ...args], {
    env: { ...process.env, ...env, TEAM_PLAN: JSON.stringify(planInput(dir)), CUTOVER_STATE_URL: urlAs(stateUrl, login, logins[login]) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout!.on('data', (chunk) => (out.stdout += chunk));
  proc.stderr!.on('data', (chunk) => (out.stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.on('exit', (code) => resolve({ code, ...out })));
  return { proc, out, done };
}

async function until<T>(look: () => T | undefined | false, what: string | (() => string), timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = look();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The last WAITING line of a driver that has not moved on since. */
function waitingAt(stdout: string): { kind: string; stepId: string } | undefined {
  const lines = stdout.trim().split('\n');
  const last = lines.at(-1)?.split(' ');
  return last?.[0] === 'WAITING' ? { kind: last[1]!, stepId: last[2]! } : undefined;
}

describe('team mode on PostgreSQL, several processes and logins', () => {
  it('two logins sign a 2-of-2 quorum, a SIGKILLed driver is taken over through the advisory lock, the chain verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-team-'));
    dirs.push(dir);
    const plan = teamPlan(dir);
    const stateDir = join(dir, '.cutover');
    // The database's owner prepares the schema once (what `cutover check` does), granting the team role.
    const owner = new PostgresStore({ plan, urlEnv: 'CUTOVER_STATE_URL', teamRole: TEAM_ROLE, env: { CUTOVER_STATE_URL: stateUrl } });
    expect(owner.connect().created).toBe(true);
    useStore(stateDir, owner);
    const effects = () => (existsSync(join(dir, 'effects.log')) ? readFileSync(join(dir, 'effects.log'), 'utf8') : '');
    const settings = settingsFromPlan(plan);
    const measured: Record<string, number> = {};

    let driver = start(dir, 'ops', ['drive'], { PAUSE_AT: 'freeze.enable' });
    let killed = false;
    for (let turn = 0; turn < 60; turn++) {
      const at = await until(() => (driver.proc.exitCode !== null ? { kind: 'exited', stepId: '' } : waitingAt(driver.out.stdout)), 'the driver to stop at a gate');
      if (at.kind === 'exited') break;
      const before = driver.out.stdout.length;
      if (at.stepId === 'window.go') {
        // A second driver (another machine) is told who drives, with the login, and steps aside.
        const second = await start(dir, 'ben', ['drive']).done;
        expect(second.code, second.stderr).toBe(4);
        expect(second.stderr).toMatch(/Another runner holds this cutover: .*team-child drive.*PostgreSQL login ops/);
        // Two people, two logins, two processes at once.
        const [ana, ben] = await Promise.all([start(dir, 'ana', ['signoff', 'window.go']).done, start(dir, 'ben', ['signoff', 'window.go']).done]);
        expect(ana.code, ana.stderr).toBe(0);
        expect(ben.code, ben.stderr).toBe(0);
        expect(ana.stdout).toContain('Recorded as Ana Ruiz');
        expect(ben.stdout).toContain('Recorded as Ben Okafor');
        // One login cannot be the second person of the quorum: Ana again is refused.
        const again = await start(dir, 'ana', ['signoff', 'window.go']).done;
        expect(again.code).toBe(2);
      } else if (at.kind === 'signoff') {
        const signer = settings.signoff[at.stepId]!.approvers[0] === 'Ben Okafor' ? 'ben' : 'ana';
        const signed = await start(dir, signer, ['signoff', at.stepId]).done;
        expect(signed.code, signed.stderr).toBe(0);
      } else {
        const phrase = at.stepId.startsWith('dns') ? settings.phrases.zone : settings.phrases.rollback;
        const confirmed = await start(dir, 'ana', ['confirm', at.stepId, phrase]).done;
        expect(confirmed.code, confirmed.stderr).toBe(0);
      }
      await until(() => driver.out.stdout.length > before, () => `the driver to apply the event at ${at.stepId} (driver: ${driver.out.stdout.slice(-300)} ${driver.out.stderr})`);

      if (!killed && at.stepId === 'window.go') {
        await until(() => effects().includes('start freeze.enable'), 'freeze.enable to start');
        driver.proc.kill('SIGKILL');
        const killedAt = Date.now();
        killed = true;
        await driver.done;
        // The session died with the process: the advisory lock is free without anyone unlocking it.
        await until(() => owner.readLock() === undefined, 'the lock to be free');
        measured.lockFreeMs = Date.now() - killedAt;
        driver = start(dir, 'ben', ['drive']);
        await until(() => Journal.open(stateDir).entries.some((entry) => entry.type === 'lock.taken-over'), 'the takeover');
        measured.takeoverMs = Date.now() - killedAt;
      }
    }
    const ended = await driver.done;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stdout).toContain('ENDED completed');
    expect(killed).toBe(true);

    const entries = Journal.open(stateDir).entries;
    expect(verifyJournal(stateDir)).toEqual({ ok: true, entries: entries.length });
    // Who signed is the login the server authenticated, mapped to the plan's person.
    const quorum = entries.filter((entry) => entry.type === 'event' && (entry.event as { stepId?: string }).stepId === 'window.go');
    expect(quorum.map((entry) => entry.identity)).toEqual(
      expect.arrayContaining([
        { name: 'Ana Ruiz', account: 'ana', via: 'postgres-login' },
        { name: 'Ben Okafor', account: 'ben', via: 'postgres-login' },
      ]),
    );
    expect(quorum).toHaveLength(2);
    const takeover = entries.find((entry) => entry.type === 'lock.taken-over')!;
    expect(String(takeover.from)).toMatch(/pid \d+/);
    // freeze.enable was in flight at the kill: resumed once by the new driver, not lost.
    expect(entries.filter((entry) => entry.type === 'step.resumed').map((entry) => entry.stepId)).toEqual(['freeze.enable']);
    expect(existsSync(join(stateDir, 'journal.ndjson'))).toBe(false);

    // Append-only: a team login may not change or remove a line (no grant, and the trigger)…
    const ana = new pg.Client({ connectionString: urlAs(stateUrl, 'ana', logins.ana) });
    ana.on('error', () => {});
    await ana.connect();
    await expect(ana.query(`UPDATE cutover_state.events SET type = 'x' WHERE seq = 1`)).rejects.toThrow(/permission denied|append-only/);
    await expect(ana.query('DELETE FROM cutover_state.events')).rejects.toThrow(/permission denied|append-only/);
    // …nor file a request in someone else's name: the row says who inserted it.
    const row = await ana.query(`INSERT INTO cutover_state.inbox (run_key, login, request) VALUES ('nothing', 'ben', '{}') RETURNING login`);
    expect(row.rows[0].login).toBe('ana');
    await ana.end();
    // Even the schema's owner meets the trigger…
    const admin = new pg.Client({ connectionString: stateUrl });
    admin.on('error', () => {});
    await admin.connect();
    await expect(admin.query(`UPDATE cutover_state.events SET type = 'x' WHERE seq = 1`)).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(admin.query('DELETE FROM cutover_state.events')).rejects.toThrow(/append-only: DELETE refused/);
    await expect(admin.query('TRUNCATE cutover_state.events')).rejects.toThrow(/append-only: TRUNCATE refused/);
    // …and what gets past it (the owner disabling the trigger) is caught by the chain.
    await admin.query('ALTER TABLE cutover_state.events DISABLE TRIGGER append_only');
    await admin.query(`UPDATE cutover_state.events SET line = replace(line, '"type":"run.created"', '"type":"run.created","x":1') WHERE seq = 1`);
    await admin.query('ALTER TABLE cutover_state.events ENABLE TRIGGER append_only');
    await admin.end();
    expect(verifyJournal(stateDir)).toMatchObject({ ok: false, brokenAt: 1, problem: 'the line was changed after it was written' });
    forgetStore(stateDir);
    owner.close();
    console.log(`team mode: lock free ${measured.lockFreeMs} ms after SIGKILL; a new driver took over ${measured.takeoverMs} ms after it (process start included)`);
  }, 600_000);
});
