import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { findStep } from '../../machines/runbook.js';
import { settingsFromPlan } from '../../src/config/settings.js';
import { loadState } from '../../src/engine/state-store.js';
import { localPlan } from '../support/plan.js';

/** Runners in their own processes (crash-child.ts) for the durability tests; see crash.test.ts. */

const child = join(import.meta.dirname, 'crash-child.ts');
const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const children: ChildProcess[] = [];
const dirs: string[] = [];

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let mirror: { node: string; jiti: string; child: string } | undefined;

/**
 * Where another OS account can run the child: a copy of the project made of hard links, and of node,
 * in a folder it can enter (the project may sit in a folder only root may enter, as CI's clone does).
 */
function reachable(): { node: string; jiti: string; child: string } {
  if (mirror) return mirror;
  const root = join(import.meta.dirname, '../..');
  const copy = mkdtempSync(join(tmpdir(), 'cutover-child-copy-'));
  chmodSync(copy, 0o755);
  process.once('exit', () => rmSync(copy, { recursive: true, force: true }));
  for (const part of ['machines', 'src', 'templates', 'test', 'node_modules', 'package.json']) {
    if (spawnSync('cp', ['-al', join(root, part), join(copy, part)]).status !== 0) cpSync(join(root, part), join(copy, part), { recursive: true, verbatimSymlinks: true });
  }
  const node = join(copy, 'node');
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  mirror = { node, jiti: join(copy, 'node_modules/jiti/lib/jiti-cli.mjs'), child: join(copy, 'test/engine/crash-child.ts') };
  return mirror;
}

export function start(dir: string, args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }) {
  const run = as ? reachable() : { node: process.execPath, jiti, child };
  const proc = spawn(run.node, [run.jiti, run.child, dir, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(as ?? {}) });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk) => (stdout += chunk));
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Result>((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

export const runChild = (dir: string, args: string[], env?: Record<string, string>, as?: { uid: number; gid: number }) => start(dir, args, env, as).done;

/** Poll until `predicate` holds (no fixed sleeps: wait for the thing itself). */
export async function until(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function effects(dir: string): string[] {
  const path = join(dir, 'effects.log');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

export function newDir(prefix = 'cutover-durability-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function cleanup(): void {
  for (const proc of children.splice(0)) proc.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Drive to the end as the people would: drive, sign off / confirm where it stops, repeat. With
 * `killWhen`, the driving child is SIGKILLed as soon as it holds, and this returns then.
 */
export async function finish(dir: string, env: Record<string, string> = {}, killWhen?: () => boolean): Promise<'ended' | 'killed'> {
  const settings = settingsFromPlan(localPlan(dir));
  for (let turn = 0; turn < 100; turn++) {
    const driving = start(dir, ['drive'], env);
    let killed = false;
    if (killWhen) {
      void until(() => killed || driving.proc.exitCode !== null || killWhen(), 'the kill point', 600_000).then(() => {
        if (driving.proc.exitCode === null && killWhen()) {
          killed = true;
          driving.proc.kill('SIGKILL');
        }
      });
    }
    const result = await driving.done;
    if (killed) return 'killed';
    killed = true;
    const [, kind, stepId] = result.stdout.trim().split(' ');
    if (kind === 'ended') {
      expect(stepId).toBe('completed');
      return 'ended';
    }
    expect(result.code, result.stderr).toBe(3);
    if (kind === 'signoff') {
      const state = loadState(join(dir, '.cutover'))!;
      const signed = new Set(((state.machine as any).context.steps[stepId!]?.signoffs ?? []).map((s: { by: string }) => s.by));
      const by = settings.signoff[stepId!]!.approvers.find((name) => !signed.has(name))!;
      expect((await runChild(dir, ['signoff', stepId!, by], env)).code).toBe(0);
    } else if (kind === 'confirm') {
      const phrase = findStep(stepId!)!.step.phrase === 'zone' ? settings.phrases.zone : settings.phrases.rollback;
      expect((await runChild(dir, ['confirm', stepId!, 'Ana Ruiz', phrase], env)).code).toBe(0);
    } else throw new Error(`unexpected stop: ${result.stdout} ${result.stderr}`);
  }
  throw new Error('did not finish');
}

/** How many times each action started (effects.log). */
export function startsByStep(dir: string): Map<string, number> {
  const started = new Map<string, number>();
  for (const line of effects(dir)) {
    const [kind, stepId] = line.split(' ');
    if (kind === 'start') started.set(stepId!, (started.get(stepId!) ?? 0) + 1);
  }
  return started;
}
