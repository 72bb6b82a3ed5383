import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { loadState } from '../../src/engine/state-store.js';
import { findStep } from '../../machines/runbook.js';
import { localPlan } from '../support/plan.js';
import { settingsFromPlan } from '../../src/config/settings.js';
import { usePostgres } from '../support/postgres.js';
import { storesUnderTest, type StoreUnderTest } from '../support/stores.js';

const server = usePostgres();
const stores = storesUnderTest(server);
const child = join(import.meta.dirname, 'crash-child.ts');
const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const proc of children.splice(0)) proc.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Per run folder: what its children need to reach the same state store. */
const storeEnv = new Map<string, Record<string, string>>();

function start(dir: string, args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [jiti, child, dir, ...args], { env: { ...process.env, ...storeEnv.get(dir), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk) => (stdout += chunk));
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Result>((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { proc, done, output: () => stdout };
}

const run = (dir: string, args: string[], env?: Record<string, string>) => start(dir, args, env).done;

/** Poll until `predicate` holds (no fixed sleeps: wait for the thing itself). */
async function until(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function effects(dir: string): string[] {
  const path = join(dir, 'effects.log');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n') : [];
}

function countOf(dir: string, line: string): number {
  return effects(dir).filter((entry) => entry.startsWith(line)).length;
}

/** Drive to the end as the people would: drive, sign off / confirm where it stops, repeat. */
async function finish(dir: string): Promise<void> {
  const plan = localPlan(dir);
  const settings = settingsFromPlan(plan);
  for (let turn = 0; turn < 100; turn++) {
    const result = await run(dir, ['drive']);
    const [, kind, stepId] = result.stdout.trim().split(' ');
    if (kind === 'ended') {
      expect(stepId).toBe('completed');
      return;
    }
    expect(result.code, result.stderr).toBe(3);
    if (kind === 'signoff') {
      const state = loadState(join(dir, '.cutover'))!;
      const signed = new Set(((state.machine as any).context.steps[stepId!]?.signoffs ?? []).map((s: { by: string }) => s.by));
      const by = settings.signoff[stepId!]!.approvers.find((name) => !signed.has(name))!;
      expect((await run(dir, ['signoff', stepId!, by])).code).toBe(0);
    } else if (kind === 'confirm') {
      const phrase = findStep(stepId!)!.step.phrase === 'zone' ? settings.phrases.zone : settings.phrases.rollback;
      expect((await run(dir, ['confirm', stepId!, 'Ana Ruiz', phrase])).code).toBe(0);
    } else throw new Error(`unexpected stop: ${result.stdout} ${result.stderr}`);
  }
  throw new Error('did not finish');
}

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-crash-'));
  dirs.push(dir);
  return dir;
}

/** A run folder whose run lives in `store` (for this process and its children). */
async function newRun(store: StoreUnderTest): Promise<string> {
  const dir = newDir();
  await store.attach(join(dir, '.cutover'), localPlan(dir));
  storeEnv.set(dir, store.childEnv(join(dir, '.cutover')));
  return dir;
}

const hasState = (dir: string) => {
  try {
    return loadState(join(dir, '.cutover')) !== undefined;
  } catch {
    return false;
  }
};

function expectEveryActionOnce(dir: string, except: string[] = []) {
  const started = new Map<string, number>();
  for (const line of effects(dir)) {
    const [kind, stepId] = line.split(' ');
    if (kind === 'start') started.set(stepId!, (started.get(stepId!) ?? 0) + 1);
  }
  for (const [stepId, count] of started) {
    if (except.includes(stepId) || stepId.endsWith('.check') || stepId.startsWith('watch.')) continue;
    expect(count, stepId).toBe(1);
  }
}

describe.each(stores)('a runner killed with SIGKILL resumes without losing or repeating work ($name)', (store) => {
  it('killed while waiting at a time gate: the resumed run waits out the rest and completes', async () => {
    const dir = await newRun(store);
    const first = start(dir, ['drive'], { SPEED: '20000' });
    // The clock starts 3 virtual days before the first gate: about 13 s of real waiting at 20,000×.
    await until(() => hasState(dir), 'the first saved state');
    const stateBefore = loadState(join(dir, '.cutover'))!;
    expect(JSON.stringify((stateBefore.machine as any).value)).toContain('gate');
    first.proc.kill('SIGKILL');
    await first.done;
    expect(effects(dir)).toEqual([]);
    await finish(dir);
    expectEveryActionOnce(dir);
    expect(countOf(dir, 'end hypercare.check')).toBe(8);
    expect(verifyJournal(join(dir, '.cutover'))).toMatchObject({ ok: true });
  });

  it('killed during an action: that action runs exactly once more, nothing else twice', async () => {
    const dir = await newRun(store);
    // Get to the window, then hang inside export.tables and kill there.
    for (let turn = 0; turn < 20 && !effects(dir).includes('start export.tables 1'); turn++) {
      const driving = start(dir, ['drive'], { HANG_AT: 'export.tables' });
      const outcome = await Promise.race([
        driving.done.then((result) => ({ result })),
        until(() => effects(dir).includes('start export.tables 1'), 'export.tables to start', 60_000).then(() => ({ result: undefined })),
      ]);
      if (!outcome.result) {
        driving.proc.kill('SIGKILL');
        await driving.done;
        break;
      }
      const [, kind, stepId] = outcome.result.stdout.trim().split(' ');
      const settings = settingsFromPlan(localPlan(dir));
      if (kind === 'signoff') {
        const state = loadState(join(dir, '.cutover'))!;
        const signed = new Set(((state.machine as any).context.steps[stepId!]?.signoffs ?? []).map((s: { by: string }) => s.by));
        await run(dir, ['signoff', stepId!, settings.signoff[stepId!]!.approvers.find((name) => !signed.has(name))!]);
      }
    }
    expect(countOf(dir, 'start export.tables')).toBe(1);
    expect(countOf(dir, 'end export.tables')).toBe(0);

    await finish(dir);
    expect(effects(dir).filter((line) => line.includes('export.tables'))).toEqual(['start export.tables 1', 'start export.tables 1', 'end export.tables 1']);
    expectEveryActionOnce(dir, ['export.tables']);
    const journal = Journal.open(join(dir, '.cutover'));
    expect(journal.entries.some((entry) => entry.type === 'step.resumed' && entry.stepId === 'export.tables')).toBe(true);
    expect(verifyJournal(join(dir, '.cutover')).ok).toBe(true);
  });

  it('killed right after a sign-off: the sign-off is kept and counts toward the quorum', async () => {
    const dir = await newRun(store);
    // Drive to window.go (quorum 2).
    for (;;) {
      const result = await run(dir, ['drive']);
      const [, kind, stepId] = result.stdout.trim().split(' ');
      if (stepId === 'window.go') break;
      const settings = settingsFromPlan(localPlan(dir));
      expect(kind).toBe('signoff');
      await run(dir, ['signoff', stepId!, settings.signoff[stepId!]!.approvers[0]!]);
    }
    const signing = start(dir, ['signoff', 'window.go', 'Ana Ruiz'], { HANG_AFTER_SIGNOFF: '1' });
    await until(() => signing.output().includes('SIGNED'), 'the sign-off');
    signing.proc.kill('SIGKILL');
    await signing.done;

    const state = loadState(join(dir, '.cutover'))!;
    expect((state.machine as any).context.steps['window.go'].signoffs.map((s: { by: string }) => s.by)).toEqual(['Ana Ruiz']);
    // One more approver reaches the quorum of two: the first sign-off was not lost.
    expect((await run(dir, ['signoff', 'window.go', 'Ben Okafor'])).code).toBe(0);
    await finish(dir);
    const finalState = loadState(join(dir, '.cutover'))!;
    expect((finalState.machine as any).context.steps['window.go'].signoffs.map((s: { by: string }) => s.by)).toEqual(['Ana Ruiz', 'Ben Okafor']);
    expectEveryActionOnce(dir);
    expect(verifyJournal(join(dir, '.cutover')).ok).toBe(true);
  });

  it('a sign-off journaled but not yet in the state (killed between the two) is applied on resume', async () => {
    const dir = await newRun(store);
    for (;;) {
      const result = await run(dir, ['drive']);
      const [, , stepId] = result.stdout.trim().split(' ');
      if (stepId === 'prep.staging-rehearsal') break;
    }
    // Exactly what a kill between the journal's fsync and the state's rename leaves behind.
    const journal = Journal.open(join(dir, '.cutover'));
    journal.append(Date.now(), 'event', { event: { type: 'SIGNOFF', stepId: 'prep.staging-rehearsal', by: 'Chen Wei', at: Date.now() } });
    const result = await run(dir, ['drive']);
    expect(result.stdout).toContain('prep.critical-workflows');
    const state = loadState(join(dir, '.cutover'))!;
    expect((state.machine as any).context.steps['prep.staging-rehearsal'].signoffs[0].by).toBe('Chen Wei');
    expect(verifyJournal(join(dir, '.cutover')).ok).toBe(true);
    expect(store.journalLines(join(dir, '.cutover'))).toBe(Journal.open(join(dir, '.cutover')).entries.length);
  });

  it('a second runner gets exit 4 naming the holder', async () => {
    const dir = await newRun(store);
    const holder = start(dir, ['drive'], { HANG_AT: 'prep.preflight' });
    await until(() => effects(dir).includes('start prep.preflight 1'), 'the first runner to start');
    const second = await run(dir, ['drive']);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`Another runner holds this cutover: .*\\(pid ${holder.proc.pid}\\) running "crash-child drive"`));
  });
});

describe('the state files refuse what was changed by hand', () => {
  it('refuses a hand-corrupted or truncated state file with a clear message', async () => {
    const dir = newDir();
    await run(dir, ['drive']);
    const path = join(dir, '.cutover', 'state.json');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace('"frozen":false', '"frozen":true'));
    const tampered = await run(dir, ['drive']);
    expect(tampered.code).toBe(2);
    expect(tampered.stderr).toMatch(/state file .*state\.json does not match its checksum/);
    writeFileSync(path, original.slice(0, original.length / 2));
    const truncated = await run(dir, ['drive']);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/corrupt or truncated/);
  });

  it('refuses an edited journal line, naming the line', async () => {
    const dir = newDir();
    await run(dir, ['drive']);
    const path = join(dir, '.cutover', 'journal.ndjson');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('prep.preflight', 'prep.lower-ttl');
    writeFileSync(path, lines.join('\n'));
    const result = await run(dir, ['drive']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/journal .* is damaged at line 2/);
  });
});
