import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { Journal } from '../../src/engine/journal.js';
import { cli } from '../support/cli.js';
import { cleanup, effects, newDir, runChild, start, until } from './child.js';

/** Issue 13: `status` tells the truth after a crash — it replays the journal like the runner, and says when the runner is gone. */

afterEach(cleanup);

function status(dir: string, json = false) {
  const planFile = join(dir, 'cutover.config.ts');
  writeFileSync(planFile, renderPlanFile(examplePlan));
  return cli(['--config', planFile, 'status', ...(json ? ['--json'] : [])], { HOME: process.env.HOME });
}

describe('cutover status after a crash', () => {
  it('a sign-off journaled but not yet in the state file shows, and counts toward the quorum', async () => {
    const dir = newDir();
    for (let turn = 0; turn < 5; turn++) {
      const result = await runChild(dir, ['drive']);
      if (result.stdout.includes('prep.staging-rehearsal')) break;
    }
    // What a kill between the journal's fsync and the state's rename leaves behind.
    Journal.open(join(dir, '.cutover')).append(Date.now(), 'event', { event: { type: 'SIGNOFF', stepId: 'prep.staging-rehearsal', by: 'Chen Wei', at: Date.now() } });
    const text = await status(dir);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/prep\.staging-rehearsal .* signed by Chen Wei/);
    const json = JSON.parse((await status(dir, true)).stdout);
    const step = json.phases.flatMap((phase: { steps: Array<{ id: string }> }) => phase.steps).find((s: { id: string }) => s.id === 'prep.staging-rehearsal');
    expect(step.signoffs.map((s: { by: string }) => s.by)).toEqual(['Chen Wei']);
    expect(json.runner.text).toContain('No runner is driving it now: `cutover run` resumes it');
  }, 120_000);

  it('after a kill, status says the runner is gone and that `cutover run` resumes it', async () => {
    const dir = newDir();
    const running = start(dir, ['drive'], { HANG_AT: 'prep.preflight' });
    await until(() => effects(dir).includes('start prep.preflight 1'), 'prep.preflight to start');
    const live = await status(dir);
    expect(live.stdout).toContain(`Driven now by`);
    expect(live.stdout).toContain(`pid ${running.proc.pid}`);
    running.proc.kill('SIGKILL');
    await running.done;
    const gone = await status(dir);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toContain(`(pid ${running.proc.pid}, "crash-child drive"`);
    expect(gone.stdout).toContain('is gone (it stopped without releasing the lock). `cutover run` takes over and resumes it from here.');
  }, 120_000);
});
