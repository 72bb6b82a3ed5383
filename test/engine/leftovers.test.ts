import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxMailProvider } from '../../src/adapters/outbox-mail.js';
import { archiveExports } from '../../src/steps/core/archive.js';
import type { StepContext } from '../../src/steps/types.js';
import { localPlan } from '../support/plan.js';
import { cleanup, newDir, runChild, until } from './child.js';

/** Issue 13: no temp file or child process outlives its step. */

afterEach(cleanup);
const jiti = join(import.meta.dirname, '../../node_modules/jiti/lib/jiti-cli.mjs');
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

function exportsFolder(planDir: string, runId: string, bigBytes: number): string {
  const folder = join(planDir, 'exports', runId);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  writeFileSync(join(folder, 'manifest.json'), '{"tables":{}}\n');
  // Longer than tar's 100-character name field: needs the pax header.
  writeFileSync(join(folder, `public.${'a_very_long_table_name_'.repeat(5)}.copy`), '1\tx\n2\ty\n');
  writeFileSync(join(folder, 'public.temperature_readings.copy'), randomBytes(bigBytes));
  return folder;
}

describe('leftovers', () => {
  it('temp files of a state save killed mid-write are removed by the next runner', async () => {
    const dir = newDir();
    expect((await runChild(dir, ['drive'])).code).toBe(3);
    const stateDir = join(dir, '.cutover');
    writeFileSync(join(stateDir, `.state.json.${deadPid()}.tmp`), '{"half');
    writeFileSync(join(stateDir, `.state.json.${deadPid()}.0badc0de.tmp`), '{"half');
    expect((await runChild(dir, ['drive'])).code).toBe(3);
    expect(readdirSync(stateDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('outbox temp folders of a killed writer (they hold addresses) are removed by the next batch; a live writer\'s stay', async () => {
    const dir = newDir();
    const outbox = join(dir, 'outbox');
    const dead = join(outbox, `.tmp-run%2Enotice-${deadPid()}-0badc0de`);
    mkdirSync(dead, { recursive: true });
    writeFileSync(join(dead, '0.json'), '{"to":["ana@example.com"]}');
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const liveTemp = join(outbox, `.tmp-other-${live.pid}-0badc0de`);
    mkdirSync(liveTemp);
    try {
      const mail = new OutboxMailProvider({ dir: outbox, from: 'FreshTrack <n@example.com>' } as never);
      await mail.sendBatch([{ to: 'ben@example.com', subject: 'x', html: '<p>x</p>', text: 'x' } as never], { idempotencyKey: 'run.notice.0' });
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(liveTemp)).toBe(true);
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('close.archive writes a tarball any tar reads (long names included) without a child process', async () => {
    const planDir = newDir();
    const folder = exportsFolder(planDir, 'run-a', 100_000);
    const ctx = { plan: { ...localPlan(planDir), exportsDir: 'exports' }, planDir, runId: 'run-a', signal: new AbortController().signal } as unknown as StepContext;
    const result = await archiveExports.run(ctx);
    const archive = join(planDir, 'exports', 'run-a.tar.gz');
    expect(result.output).toMatchObject({ archive, files: 3 });
    const listed = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listed).toEqual(['run-a/', ...readdirSync(folder).map((name) => `run-a/${name}`)].sort());
    const out = join(planDir, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', archive, '-C', out]);
    for (const name of readdirSync(folder)) expect(readFileSync(join(out, 'run-a', name)).equals(readFileSync(join(folder, name))), name).toBe(true);
  });

  it('a runner killed during close.archive leaves no tar or gzip running, and the next attempt makes the whole archive', async () => {
    const planDir = newDir();
    exportsFolder(planDir, 'run-k', 200 * 1024 * 1024);
    const proc = spawn(process.execPath, [jiti, join(import.meta.dirname, 'archive-child.ts'), planDir, 'run-k'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk) => (out += chunk));
    const partial = join(planDir, 'exports', 'run-k.tar.gz.part');
    await until(() => existsSync(partial), 'the archive to be written', 120_000);
    const children = () => spawnSync('ps', ['--ppid', String(proc.pid), '-o', 'comm=']).stdout.toString().trim();
    expect(children()).toBe('');
    expect(out).not.toContain('done');
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
    expect(spawnSync('pgrep', ['-f', `run-k.tar.gz.part`]).stdout.toString().trim()).toBe('');
    const ctx = { plan: { ...localPlan(planDir), exportsDir: 'exports' }, planDir, runId: 'run-k', signal: new AbortController().signal } as unknown as StepContext;
    await archiveExports.run(ctx);
    expect(existsSync(partial)).toBe(false);
    execFileSync('tar', ['-tzf', join(planDir, 'exports', 'run-k.tar.gz')]);
  }, 240_000);
});
