import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/config/load.js';
import { peekRun } from '../../src/engine/peek.js';
import { summarizeStop, summaryLines } from '../../src/services/summary.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';
import { voiceDefects } from '../support/voice.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const planFile = writeLocalPlan(dir);
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
const at = (ms: number) => ({ CUTOVER_CLOCK: `manual:${new Date(ms).toISOString()}` });
const run = (args: string[], env: Record<string, string>, as?: string) => cli(['--config', planFile, ...args], env, as);

/** The closing block: from the summary's rule to the end of what the command printed. */
const closing = (stdout: string) => stdout.slice(stdout.indexOf('── Summary ──'));

/** Issue 14 item 3: a closing summary at each stop of `cutover run` — what was done, where it stands, what next. */
describe('the closing summary of cutover run', () => {
  it('at a time gate: nothing done, the phase, the first step and when it is due, and the command', async () => {
    const result = await run(['run', '--non-interactive'], at(T0 - 72 * 3_600_000));
    expect(result.code).toBe(3);
    expect(closing(result.stdout).split('\n').filter(Boolean)).toEqual([
      '── Summary ──',
      'This run: 0 steps done, 0 failed, 0 skipped.',
      'Where it stands: phase prep (Preparation). Waiting until Dec 03 22:00:00 -05:00 (in 24h): phase prep opens.',
      'Next step: prep.preflight (Preflight), due Dec 03 22:00:00 -05:00.',
      'Next: cutover run at or after Dec 03 22:00:00 -05:00 (or cutover run --wait now, which sleeps until then)',
    ]);
  });

  it('after a failure: the failed step named once (its error above, not repeated), and retry or skip', async () => {
    const result = await run(['run', '--non-interactive'], at(T0 - 48 * 3_600_000));
    expect(result.code).toBe(1);
    const block = closing(result.stdout);
    expect(block).toContain('This run: 0 steps done, 1 failed, 0 skipped.');
    expect(block).toContain('  ✗ failed: prep.preflight (Preflight)');
    expect(block).toContain('Where it stands: phase prep (Preparation). prep.preflight failed (the error is above).');
    expect(block).toContain('Next: cutover retry prep.preflight (or cutover skip prep.preflight --reason TEXT)');
    // The findings are on the ✗ line above, once.
    expect(result.stdout.match(/SOURCE_DATABASE_URL is not set/g)).toHaveLength(1);
    expect(voiceDefects(result.stdout)).toEqual([]);
  });

  it('at a sign-off gate: the steps done, the sign-offs recorded, who must sign and the exact command', async () => {
    expect((await run(['skip', 'prep.preflight', '--reason', 'databases checked by hand'], at(T0 - 48 * 3_600_000), 'ana')).code).toBe(0);
    const result = await run(['run', '--non-interactive'], at(T0 - 48 * 3_600_000));
    expect(result.code).toBe(3);
    const lines = closing(result.stdout).split('\n').filter(Boolean);
    expect(lines[1]).toBe('This run: 3 steps done, 0 failed, 0 skipped.');
    expect(lines[2]).toBe('Where it stands: phase prep (Preparation). Waiting for sign-off of prep.staging-rehearsal by 1 of Ana Ruiz, Ben Okafor, Chen Wei (0 so far).');
    expect(lines[3]).toMatch(/^Next step: prep\.staging-rehearsal \(.+\), due Dec 03 22:00:00 -05:00\.$/);
    expect(lines[4]).toBe('Next: cutover signoff prep.staging-rehearsal [--note TEXT] [--reject]');
    // The command is said once, on the Next line.
    expect(result.stdout.match(/cutover signoff prep\.staging-rehearsal/g)).toHaveLength(1);
  });

  it('--json: the summary is a field of the last event, times with the plan offset', async () => {
    const result = await run(['run', '--json'], at(T0 - 48 * 3_600_000));
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const last = events.at(-1)!;
    expect(last.type).toBe('run.stopped');
    expect(last.summary).toMatchObject({
      done: [],
      failed: [],
      skipped: [],
      phase: { id: 'prep', title: 'Preparation' },
      next: { stepId: 'prep.staging-rehearsal', due: '2026-12-03T22:00:00-05:00' },
      command: 'cutover signoff prep.staging-rehearsal [--note TEXT] [--reject]',
    });
  });

  it('names every skip and failure of the journal it is given (here the whole run so far)', async () => {
    const { plan } = await loadPlan(planFile);
    const { snapshot, journal } = peekRun(join(dir, '.cutover'), plan);
    const summary = summarizeStop({ entries: journal.entries, after: snapshot }, T0 - 48 * 3_600_000, plan.t0.zone);
    expect(summary.skipped).toEqual([{ stepId: 'prep.preflight', title: 'Preflight', by: 'Ana Ruiz', reason: 'databases checked by hand' }]);
    // Failed, then skipped: both are on the record.
    expect(summary.failed.map((step) => step.stepId)).toEqual(['prep.preflight']);
    expect(summaryLines(summary, plan.t0.zone)).toContain('  ↷ failed, then skipped: prep.preflight (Preflight) by Ana Ruiz: databases checked by hand');
  });

  it('on Ctrl-C: the summary of what this run did, then how to resume (exit 130)', async () => {
    // The built CLI in a child process, so a real SIGINT reaches it: `npx tsc -p tsconfig.json` first.
    const cliJs = join(import.meta.dirname, '../../dist/src/cli/main.js');
    const own = join(dir, 'interrupted');
    mkdirSync(own);
    const plan = writeLocalPlan(own);
    // Real speed, 24 h before the prep gate: `--wait` sleeps there until it is interrupted.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CUTOVER_CLOCK: `compressed:1@${new Date(T0 - 72 * 3_600_000).toISOString()}` };
    const child = spawn(process.execPath, [cliJs, '--config', plan, 'run', '--non-interactive', '--wait'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The state file is first written when the run starts, after the signal handlers are in place.
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(own, '.cutover', 'state.json'))) {
      if (Date.now() > deadline) throw new Error(`the run never started: ${stderr}`);
      await delay(50);
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const lines = closing(stdout).split('\n').filter(Boolean);
    expect(lines[1]).toBe('This run: 0 steps done, 0 failed, 0 skipped.');
    expect(lines[2]).toMatch(/^Where it stands: phase prep \(Preparation\)\. Waiting until Dec 03 22:00:00 -05:00 \(in \d+h( \d+m)?\): phase prep opens\.$/);
    expect(lines[4]).toBe('Next: cutover run at or after Dec 03 22:00:00 -05:00 (or cutover run --wait now, which sleeps until then)');
    expect(stderr).toContain('Stopped. The state is saved; resume with: cutover run');
  }, 90_000);
});
