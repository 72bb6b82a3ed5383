import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allSteps } from '../../machines/runbook.js';
import { ManualClock } from '../../src/engine/clock.js';
import { verifyJournal } from '../../src/engine/journal.js';
import { Runner } from '../../src/engine/runner.js';
import { t0Of } from '../../src/config/settings.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { driveToEnd } from '../support/drive.js';
import { localPlan } from '../support/plan.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-engine-'));
  dirs.push(dir);
  const plan = localPlan(dir);
  const t0 = t0Of(plan).toMillis();
  const clock = new ManualClock(t0 - 49 * 3_600_000);
  const runs: { stepId: string; at: number }[] = [];
  const registry: StepRegistry = Object.fromEntries(
    allSteps().map((step) => [
      step.id,
      {
        dryRun: () => `would run ${step.id}`,
        run: async (ctx) => {
          runs.push({ stepId: ctx.stepId, at: ctx.clock.now() });
          return { summary: `${step.id} ok`, output: step.id === 'review.decision' ? { verdict: 'continue' } : { ran: true } };
        },
      },
    ]),
  );
  const open = () =>
    Runner.open({
      stateDir: join(dir, '.cutover'),
      plan,
      planDir: dir,
      registry,
      adapters: { dns: () => { throw new Error('no dns'); }, mail: () => { throw new Error('no mail'); } },
      clock,
      mode: 'drive',
      command: 'test',
      retries: 0,
    });
  return { dir, plan, t0, clock, runs, open };
}

describe('the whole timeline on a manual clock', () => {
  it('runs T-48h to T+7d, every gate at its time and every recurring check the right number of times', async () => {
    const { t0, clock, runs, open, dir } = setup();
    const runner = open();
    const end = await driveToEnd(runner, clock);
    expect(end.kind).toBe('ended');
    expect(end.location.ended).toBe('completed');

    const count = (id: string) => runs.filter((run) => run.stepId === id).length;
    expect(count('hypercare.check')).toBe(8); // 2 h ÷ 15 min
    expect(count('stabilize.check')).toBe(11); // 22 h ÷ 2 h
    expect(count('watch.reconcile')).toBe(24); // 6 days ÷ 6 h
    expect(count('watch.daily')).toBe(6); // 6 days ÷ 1 day

    const firstRun = (id: string) => runs.find((run) => run.stepId === id)!.at;
    const hour = 3_600_000;
    expect(firstRun('prep.preflight')).toBe(t0 - 48 * hour);
    expect(firstRun('final.health')).toBe(t0 - 24 * hour);
    expect(firstRun('window.maintenance-notice')).toBe(t0);
    const switchedAt = runner.context().switchedAt!;
    expect(switchedAt).toBe(t0); // the manual clock does not move during actions
    expect(firstRun('hypercare.check')).toBe(switchedAt + 15 * 60_000);
    expect(runs.filter((r) => r.stepId === 'hypercare.check').at(-1)!.at).toBe(switchedAt + 2 * hour);
    expect(firstRun('review.summary')).toBe(switchedAt + 24 * hour);
    expect(firstRun('close.restore-ttl')).toBe(switchedAt + 7 * 24 * hour);
    expect(clock.now()).toBe(switchedAt + 7 * 24 * hour);

    // Every main-path action ran exactly once; no branch step ran.
    for (const step of allSteps()) {
      if (step.id.startsWith('rollback.') || step.id.startsWith('abort.') || step.kind === 'signoff' || step.kind === 'recurring') continue;
      expect(count(step.id), step.id).toBe(1);
    }
    // Quorum of two for window.go, one for the others.
    expect(runner.context().steps['window.go']!.signoffs.map((s) => s.by)).toEqual(['Ana Ruiz', 'Ben Okafor']);
    runner.close();
    expect(verifyJournal(join(dir, '.cutover')).ok).toBe(true);
  });

  it('anchors the checks after the switch on the actual switch time when the window slips', async () => {
    const { t0, clock, runs, open } = setup();
    const runner = open();
    // Stop at the DNS switch, let 3 hours slip, then go on.
    const atSwitch = await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'confirm' });
    expect(atSwitch.location.stepId).toBe('dns.switch');
    clock.set(t0 + 3 * 3_600_000);
    await driveToEnd(runner, clock);
    const switchedAt = runner.context().switchedAt!;
    expect(switchedAt).toBe(t0 + 3 * 3_600_000);
    expect(runs.find((run) => run.stepId === 'hypercare.check')!.at).toBe(switchedAt + 15 * 60_000);
    expect(runs.find((run) => run.stepId === 'review.summary')!.at).toBe(switchedAt + 24 * 3_600_000);
    runner.close();
  });

  it('after an outage makes only the latest overdue run of a recurring check and counts the others as missed', async () => {
    const { clock, runs, open } = setup();
    const runner = open();
    // Run up to the first hypercare wait, then let the runner be down for an hour.
    await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'time' && b.location.phaseId === 'hypercare' });
    const switchedAt = runner.context().switchedAt!;
    clock.set(switchedAt + 61 * 60_000);
    await driveToEnd(runner, clock);
    const hypercare = runs.filter((run) => run.stepId === 'hypercare.check').map((run) => run.at - switchedAt);
    // Due at +15, +30, +45, +60 min: only +61 (the +60 run, made late) happens, then +75 … +120.
    expect(hypercare).toEqual([61, 75, 90, 105, 120].map((minutes) => minutes * 60_000));
    expect(runner.context().steps['hypercare.check']).toMatchObject({ runs: 5, missed: 3 });
    runner.close();
  });
});

