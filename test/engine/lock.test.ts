import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { ExitError } from '../../src/engine/errors.js';
import { Journal } from '../../src/engine/journal.js';
import { acquireLock, processStartTicks, readLock, type LockHolder } from '../../src/engine/lock.js';
import { cli } from '../support/cli.js';

/** Issue 13: the driver's lock — exactly one winner, reused pids, another host's lock. */

const root = mkdtempSync(join(tmpdir(), 'cutover-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const child = join(import.meta.dirname, 'lock-child.mjs');

let counter = 0;
function stateDir(): string {
  const dir = join(root, `state-${++counter}`);
  spawnSync('mkdir', ['-m', '700', '-p', dir]);
  return dir;
}

/** A pid that certainly belongs to no process any more: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function plantLock(dir: string, holder: Partial<LockHolder>): void {
  const full: LockHolder = { pid: deadPid(), host: hostname(), user: userInfo().username, command: 'cutover run', since: '2026-11-30T08:00:00.000Z', ...holder };
  writeFileSync(join(dir, 'lock.1'), JSON.stringify(full), { mode: 0o600 });
}

function contender(dir: string, barrier: string, done: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, barrier, done], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.endsWith('\n')) resolve(out.trim());
    });
    proc.on('error', reject);
    proc.on('exit', () => resolve(out.trim()));
  });
}

describe('the driver lock', () => {
  it('100 rounds of two processes racing for a stale lock: exactly one winner every round', async () => {
    const tally = { rounds: 0, oneWinner: 0 };
    for (let round = 0; round < 100; round++) {
      const dir = stateDir();
      plantLock(dir, {});
      const barrier = join(dir, '..', `barrier-${counter}`);
      const done = join(dir, '..', `done-${counter}`);
      const results = Promise.all([contender(dir, barrier, done), contender(dir, barrier, done)]);
      writeFileSync(barrier, '');
      const outcomes = await results;
      writeFileSync(done, '');
      tally.rounds++;
      expect(outcomes.filter((o) => o.startsWith('WON')), `round ${round}: ${outcomes.join(', ')}`).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'LOCKED'), `round ${round}`).toHaveLength(1);
      tally.oneWinner++;
    }
    expect(tally).toEqual({ rounds: 100, oneWinner: 100 });
  }, 600_000);

  it('a holder whose pid now belongs to another process (pid reuse) is recognised as dead and taken over', () => {
    const dir = stateDir();
    const ticks = processStartTicks(process.pid)!;
    expect(ticks).toBeGreaterThan(0);
    // The pid is alive (it is this very test process) but started at another time: not the holder.
    plantLock(dir, { pid: process.pid, startTicks: ticks - 1 });
    const lock = acquireLock(dir, 'test');
    expect(lock.tookOverFrom?.pid).toBe(process.pid);
    lock.release();
    // The same pid with its real start time is a live holder: refused.
    const live = stateDir();
    plantLock(live, { pid: process.pid, startTicks: ticks });
    expect(() => acquireLock(live, 'test')).toThrow(ExitError);
  });

  it('another host\'s lock: exit 4 says how to release it; `cutover unlock` releases it, journaled', async () => {
    const dir = join(root, 'plan');
    spawnSync('mkdir', ['-p', dir]);
    const planFile = join(dir, 'cutover.config.ts');
    writeFileSync(planFile, renderPlanFile(examplePlan));
    const state = join(dir, '.cutover');
    spawnSync('mkdir', ['-m', '700', '-p', state]);
    plantLock(state, { host: 'ops-2.example.net', pid: 4242, user: 'ben' });
    let refusal: ExitError | undefined;
    try {
      acquireLock(state, 'cutover run');
    } catch (error) {
      refusal = error as ExitError;
    }
    expect(refusal?.exitCode).toBe(4);
    expect(refusal?.message).toContain('ben@ops-2.example.net (pid 4242)');
    expect(refusal?.message).toContain('cutover unlock --reason TEXT');

    const missingReason = await cli(['--config', planFile, 'unlock', '--by', 'Ana Ruiz'], {}, 'ana');
    expect(missingReason.code).toBe(2);
    // Who releases it is the OS account running the command (issue 12): a --by naming someone else is refused.
    const notHer = await cli(['--config', planFile, 'unlock', '--by', 'Ana Ruiz', '--reason', 'x'], { HOME: process.env.HOME }, 'ben');
    expect(notHer.code).toBe(2);
    expect(notHer.stderr).toContain('--by "Ana Ruiz" is not who runs this command');
    expect(readLock(state)?.host).toBe('ops-2.example.net');
    const result = await cli(['--config', planFile, 'unlock', '--by', 'Ana Ruiz', '--reason', 'ops-2 was decommissioned mid-run'], { HOME: process.env.HOME }, 'ana');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Released the lock of ben@ops-2.example.net (pid 4242');
    expect(readLock(state)).toBeUndefined();
    expect(Journal.open(state).entries.at(-1)).toMatchObject({
      type: 'lock.released',
      by: 'Ana Ruiz',
      identity: { name: 'Ana Ruiz', account: 'ana', via: 'os-account' },
      reason: 'ops-2 was decommissioned mid-run',
      holder: 'ben@ops-2.example.net pid 4242',
    });
    const lock = acquireLock(state, 'cutover run');
    expect(lock.tookOverFrom).toBeUndefined();
    lock.release();
    expect(existsSync(join(state, 'lock.1'))).toBe(false);
  });

  it('`cutover unlock` refuses to release a live runner on this host', async () => {
    const dir = stateDir();
    const lock = acquireLock(dir, 'cutover run');
    try {
      const { unlockRun } = await import('../../src/engine/unlock.js');
      expect(() => unlockRun(dir, { by: 'Ana Ruiz', reason: 'x', at: Date.now() })).toThrow(/still running on this host/);
    } finally {
      lock.release();
    }
  });
});
