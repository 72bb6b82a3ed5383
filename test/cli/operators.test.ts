import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { timingOf, type RunContext } from '../../machines/machine.js';
import { allSteps, findStep } from '../../machines/runbook.js';
import { occurrences } from '../../machines/schedule.js';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import type { PlanInput } from '../../src/config/schema.js';
import { settingsFromPlan, t0Of } from '../../src/config/settings.js';
import { openRunner, type Session } from '../../src/services/session.js';
import { ManualClock } from '../../src/engine/clock.js';
import { awaitAnswer, inboxDir, postRequest, type InboxRequest } from '../../src/engine/inbox.js';
import type { Runner } from '../../src/engine/runner.js';
import type { StepAction } from '../../src/steps/types.js';
import { cli } from '../support/cli.js';
import { driveToEnd } from '../support/drive.js';

/**
 * Several operators, one run, one host (issue 12 item 3), in one test process: a runner drives (as the
 * UI does) while commands from "other terminals" run in-process. The inbox trusts the OS owner of a
 * request file, and every file this process writes is owned by the account running the tests, so
 * that account is Ana Ruiz here; two real OS accounts are in test/ui/operators-pty.test.ts.
 */
const HOUR = 3_600_000;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-operators-'));
  dirs.push(dir);
  const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
  const input: PlanInput = {
    ...examplePlan,
    dns: { provider: 'local', zone: 'freshtrackpro.com', file: join(dir, 'zone.json'), records, resolvers: [] },
    mail: { provider: 'outbox', dir: join(dir, 'outbox'), from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: join(dir, 'audience.txt') } },
    approvers: {
      ...examplePlan.approvers,
      default: [{ name: 'Ana Ruiz', os: userInfo().username }, { name: 'Ben Okafor', os: 'ben' }, { name: 'Chen Wei', os: 'chen' }],
    },
  };
  const planFile = join(dir, 'cutover.config.ts');
  writeFileSync(planFile, renderPlanFile(input));
  const plan = parsePlan(input);
  const clock = new ManualClock(t0Of(plan).toMillis() - 48 * HOUR);
  // Every action succeeds at once; decisions read "continue".
  const registry = Object.fromEntries(
    allSteps()
      .filter((step) => step.kind !== 'signoff')
      .map((step): [string, StepAction] => [
        step.id,
        { dryRun: () => step.id, run: async () => ({ summary: `${step.id} ok`, output: step.kind === 'decision' ? { verdict: 'continue' } : { ran: true } }) },
      ]),
  );
  const session: Session = {
    plan,
    planFile,
    planDir: dir,
    stateDir: join(dir, '.cutover'),
    clock,
    registry,
    adapters: { dns: () => { throw new Error('no DNS here'); }, mail: () => { throw new Error('no mail here'); } },
    env: {},
  };
  const env = () => ({ CUTOVER_CLOCK: `manual:${new Date(clock.now()).toISOString()}` });
  const run = (args: string[], as?: string) => cli(['--config', planFile, ...args], env(), as);
  return { dir, session, clock, run };
}

/** Wait for a condition with a generous deadline (never a fixed reply time). */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('outside events while another process drives', () => {
  it('--json on a hand-over: one object once the driver answered (issue 14, item 4)', async () => {
    const { session, clock, run } = setup();
    const runner = openRunner(session, 'drive', 'cutover run (the lead\'s UI)', { retries: 0 });
    try {
      await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'signoff' && b.location.stepId === 'window.go' });
      const signed = await run(['signoff', 'window.go', '--json']);
      expect(signed.code).toBe(0);
      const lines = signed.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ command: 'cutover signoff window.go', handedTo: expect.stringContaining('cutover run (the lead\'s UI)'), applied: true, exitCode: 0, message: expect.stringContaining('Recorded as Ana Ruiz') });
    } finally {
      runner.close();
    }
  });

  it('a sign-off from another terminal is handed to the driver and applied (exit 0, not 4); refusals come back with the reason', async () => {
    const { session, clock, run } = setup();
    const runner = openRunner(session, 'drive', 'cutover run (the lead\'s UI)', { retries: 0 });
    try {
      const blocked = await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'signoff' && b.location.stepId === 'window.go' });
      expect(blocked.location.stepId).toBe('window.go');

      const started = Date.now();
      const signed = await run(['signoff', 'window.go', '--note', 'go from the second terminal']);
      const answeredInMs = Date.now() - started;
      expect(signed.code).toBe(0);
      expect(signed.stdout).toMatch(/drives this run: handed "cutover signoff window.go" to it\./);
      expect(signed.stdout).toMatch(/Recorded as Ana Ruiz \(journal line \d+\)\. Waiting for sign-off of window\.go by 2 of Ana Ruiz, Ben Okafor, Chen Wei \(1 so far: Ana Ruiz\)/);
      console.info(`sign-off through the inbox answered in ${answeredInMs} ms`);
      const entry = runner.journal.entries.findLast((e) => e.type === 'event')!;
      expect(entry).toMatchObject({ event: { type: 'SIGNOFF', stepId: 'window.go', by: 'Ana Ruiz' }, identity: { name: 'Ana Ruiz', account: userInfo().username, via: 'os-account' } });
      expect(entry.inbox).toEqual(expect.any(String));

      // The driver judges like any event: the same person twice is refused, and the sender is told why.
      const twice = await run(['signoff', 'window.go']);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toContain('Ana Ruiz has already signed off window.go');
      // Answered requests leave only their answers behind.
      expect(readdirSync(inboxDir(session.stateDir)).filter((name) => name.endsWith('.json'))).toEqual([]);

      // A human-only decision input goes the same way; the driver writes the journal line.
      const asserted = await run(['decide', '--assert', 'security-breach', '--note', 'key in a public gist']);
      expect(asserted.stdout).toContain('Recorded as Ana Ruiz');
      expect(runner.journal.entries.at(-1)).toMatchObject({ type: 'decision.asserted', input: 'securityBreach', by: 'Ana Ruiz', inbox: expect.any(String) });

      // The timer's `cutover run` steps aside while this process drives (exit 4, documented).
      const timer = await run(['run', '--non-interactive']);
      expect(timer.code).toBe(4);
      expect(timer.stderr).toContain('That process drives the run: it runs the recurring checks when they are due');
    } finally {
      runner.close();
    }
    // With nobody driving, a command applies its event itself, as before.
    const ben = await run(['signoff', 'window.go'], 'ben');
    expect(ben.code).toBe(0);
    expect(ben.stdout).not.toContain('drives this run');
  });

  it('the driver trusts the OS owner of a request, not its content, and applies nothing a person cannot send', async () => {
    const { session, clock } = setup();
    const runner = openRunner(session, 'drive', 'cutover run (the lead\'s UI)', { retries: 0 });
    try {
      await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'signoff' && b.location.stepId === 'window.go' });
      const answer = async (request: Omit<InboxRequest, 'postedAt'>) => {
        const id = postRequest(session.stateDir, { ...request, postedAt: new Date().toISOString() });
        return (await awaitAnswer(session.stateDir, id, 30_000))!;
      };
      // Written by hand "as Ben" from Ana's account: it is Ana's sign-off.
      const posted = Date.now();
      const forged = await answer({ event: { type: 'SIGNOFF', stepId: 'window.go', by: 'Ben Okafor', at: 0 }, command: 'forged' });
      console.info(`request posted → applied and answered by the driver in ${Date.now() - posted} ms`);
      expect(forged).toMatchObject({ ok: true, message: expect.stringContaining('Recorded as Ana Ruiz') });
      expect(runner.context().steps['window.go']!.signoffs.map((s) => s.by)).toEqual(['Ana Ruiz']);
      // The plan's settings change only with the plan file.
      const replan = await answer({ event: { ...settingsFromPlan(session.plan), type: 'REPLAN', signoff: {} } as never, command: 'forged' });
      expect(replan).toEqual({ ok: false, message: 'The request was not applied: REPLAN cannot be handed in by a person.' });
      // A link lends its target's owner: not followed.
      const target = join(session.planDir, 'someone-elses.json');
      writeFileSync(target, JSON.stringify({ event: { type: 'SKIP', stepId: 'window.go', by: 'x', reason: 'x', at: 0 }, command: 'x' }));
      symlinkSync(target, join(inboxDir(session.stateDir), '000000000000001-1-abcdef.json'));
      const linked = (await awaitAnswer(session.stateDir, '000000000000001-1-abcdef', 30_000))!;
      expect(linked.ok).toBe(false);
      expect(linked.message).toContain('could not be read (a link, or not readable)');
      expect(runner.location().stepId).toBe('window.go');
    } finally {
      runner.close();
    }
  });

  it('the recurring timer steps aside while a driver sleeps through the gates, and no recurring check is missed over a simulated day', async () => {
    const { session, clock, run } = setup();
    const runner: Runner = openRunner(session, 'drive', 'cutover run (the lead\'s UI)', { retries: 0 });
    try {
      await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'time' && b.location.phaseId === 'hypercare' });
      const switchedAt = runner.context().switchedAt!;
      // The UI's way of driving: sleep through time gates until a person is needed.
      const driving = runner.drive({ waitGates: true });
      const settled = () => runner.snapshot().hasTag('waiting:time') && (runner.location().until ?? Infinity) > clock.now();
      let timerRuns = 0;
      // The timer fires every 15 minutes for the first day after the switch.
      for (let at = clock.now() + 15 * 60_000; at <= switchedAt + 24 * HOUR - 15 * 60_000; at += 15 * 60_000) {
        clock.set(at);
        await until(settled, `the driver waits for the next gate after ${new Date(at).toISOString()}`);
        const timer = await run(['run', '--non-interactive']);
        expect(timer.code).toBe(4);
        timerRuns++;
      }
      clock.set(switchedAt + 24 * HOUR);
      const blocked = await driving;
      expect(blocked.location.stepId).toBe('review.decision');
      const context = runner.context() as RunContext;
      for (const [phaseId, stepId] of [['hypercare', 'hypercare.check'], ['stabilize', 'stabilize.check']] as const) {
        const planned = occurrences(timingOf(context), phaseId, findStep(stepId)!.step).length;
        expect({ stepId, runs: context.steps[stepId]?.runs, missed: context.steps[stepId]?.missed ?? 0 }).toEqual({ stepId, runs: planned, missed: 0 });
      }
      expect(timerRuns).toBeGreaterThan(90);
    } finally {
      runner.close();
    }
  });
});
