import { afterEach, describe, expect, it } from 'vitest';
import { evaluateDecision } from '../../machines/decision-tree.js';
import { buildDecisionInputs } from '../../src/steps/checks/decision-inputs.js';
import { driveToEnd } from '../support/drive.js';
import { recognise } from '../../src/engine/identity.js';
import { cleanupDirs, uiRun } from './fixture.js';
import { DOWN, ENTER, ESC, lineWith, section } from './terminal.js';

afterEach(cleanupDirs);

describe('decision panel', () => {
  it('b evaluates the tree on what the run has recorded and names the missing evidence', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.press('b');
    const frame = await screen.waitFor('── Decision');
    expect(frame).toContain('From evaluated now on the recorded evidence.');
    expect(frame).toContain('✗ yes · ✓ no · ? unknown');
    expect(frame).toContain('Verdict: CONTINUE');
    expect(lineWith(frame, 'data-loss:')).toMatch(/^\? data-loss: unknown: no reconciliation result \(no reconciliation has/);
    expect(lineWith(frame, 'user-facing-errors:')).toMatch(/^\? user-facing-errors: unknown: no error rate \(no check after the switch/);
    expect(frame).toContain('Missing evidence (not treated as all clear)');
    // b again (or Esc) closes it and the sign-off is back.
    screen.press(ESC);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.unmount();
    runner.close();
  });

  it('after the switch, errors above the line read ROLLBACK; R starts it, the phrase is typed, the decision is signed by a quorum', async () => {
    const run = uiRun({
      actions: {
        'final.baseline': { dryRun: () => 'measure', run: async () => ({ summary: 'p95 100 ms', output: { p50Ms: 60, p95Ms: 100, errorRate: 0, requests: 50 } }) },
        'hypercare.check': {
          dryRun: () => 'check',
          run: async (ctx) => ({ summary: '20 % errors', output: { checkedAt: new Date(ctx.clock.now()).toISOString(), errorRate: 0.2, requests: 100, p95Ms: 150 } }),
        },
        // As the real step would: the tree on the recorded evidence, kept as the step's output.
        'rollback.decide': {
          dryRun: () => 'evaluate',
          run: async (ctx) => {
            const decision = evaluateDecision(buildDecisionInputs(ctx.outputs, [], ctx.plan), ctx.plan.thresholds);
            return { summary: decision.summary, output: decision };
          },
        },
      },
    });
    const { runner, feed } = run.open();
    await driveToEnd(runner, run.clock, { stopOn: (b) => b.kind === 'time' && (runner.context().recurring['hypercare.check'] ?? 0) >= 1 });
    const screen = run.show(runner, feed);

    let frame = await screen.waitFor('PAST point of no return · rollback possible');
    expect(frame).toContain('hypercare.check run 2 of 8 is due');
    screen.press('b');
    frame = await screen.waitFor('Verdict: ROLLBACK');
    expect(lineWith(frame, 'user-facing-errors:')).toMatch(/^✗ user-facing-errors: 20 % of 100 requests failed over hypercare\.check at 2026-/);
    screen.press('b');

    screen.press('R');
    await screen.waitFor('Start the rollback');
    await screen.waitFor('Reason:');
    screen.type('20 % of requests fail');
    screen.press(ENTER);
    // Rollback, like abort, needs the typed phrase as well as a rollback approver.
    await screen.waitFor('Type the rollback phrase exactly: rollback freshtrackpro.com');
    screen.type('rollback freshtrackpro.com');
    screen.press(ENTER);

    frame = await screen.waitFor('Confirm · rollback.decide');
    expect(frame).toContain('Type the rollback phrase exactly: rollback freshtrackpro.com');
    expect(frame).toContain('Will do: roll back: user-facing errors at high volume');
    screen.press(ENTER);
    await screen.waitFor('Phrase:');
    screen.type('rollback freshtrackpro.com');
    screen.press(ENTER);

    // A decision step waiting for sign-off shows its own evaluation above the sign-off.
    frame = await screen.waitFor('Sign-off · rollback.decide');
    expect(frame).toContain("From rollback.decide's evaluation.");
    expect(frame).toContain('Verdict: ROLLBACK');
    expect(frame).toContain('quorum 2 of 2');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    screen.press(ENTER);
    frame = await screen.waitFor('Ana Ruiz ✓ · 1 more needed');
    // One person cannot fill a quorum of two: the UI offers Ana nothing more to sign.
    expect(frame).toContain('You (Ana Ruiz) signed. The others sign from their own terminals');
    // Ben signs from his own terminal; the driver applies it (as it does a request from the inbox).
    runner.send({ type: 'SIGNOFF', stepId: 'rollback.decide', by: 'Ben Okafor', at: run.clock.now() }, { identity: recognise(run.plan, 'ben') });

    frame = await screen.waitFor('The rollback is complete: the old system is live again.');
    expect(lineWith(section(frame, 'Timeline'), 'rollback.notice')).toMatch(/^▸ ✓ rollback\.notice/);
    screen.unmount();
    runner.close();
  });

  it('reads the reconciliation: missing rows are data loss; a reconciliation that could not compare everything proves nothing', async () => {
    const totals = { bucketsCompared: 40, driftBuckets: 1, driftRows: 3, missingRows: 3, changedRows: 0, extraRows: 0, newRows: 0, gaps: 0, unverifiedBuckets: 0, namedKeys: 3, problems: 0 };
    let next = totals;
    const run = uiRun({
      actions: {
        'watch.reconcile': {
          dryRun: () => 'reconcile',
          run: async () => ({ summary: 'reconciled', output: { checkedAt: '2026-12-07T03:00:00.000Z', cutoverPoint: '2026-12-06T03:10:00.000Z', tables: [], totals: next } }),
        },
      },
    });
    const { runner, feed } = run.open();
    await driveToEnd(runner, run.clock, { stopOn: (b) => b.kind === 'time' && (runner.context().recurring['watch.reconcile'] ?? 0) >= 1 });
    const screen = run.show(runner, feed);
    await screen.waitFor('Waiting until');
    screen.press('b');
    let frame = await screen.waitFor('Verdict: ROLLBACK');
    expect(lineWith(frame, 'data-loss:')).toMatch(/^✗ data-loss: 3 source rows missing from the target \(reconciliation at 2026-12-0/);
    screen.unmount();
    runner.close();

    // The next run found nothing missing but could not compare two tables: unknown, not "no".
    next = { ...totals, missingRows: 0, driftBuckets: 0, driftRows: 0, problems: 2 };
    const again = run.open();
    await driveToEnd(again.runner, run.clock, { stopOn: (b) => b.kind === 'time' && (again.runner.context().recurring['watch.reconcile'] ?? 0) >= 2 });
    const second = run.show(again.runner, again.feed);
    await second.waitFor('Waiting until');
    second.press('b');
    frame = await second.waitFor('── Decision');
    expect(lineWith(frame, 'data-loss:')).toMatch(/^\? data-loss: unknown: no reconciliation result \(the latest reconciliation \(watc/);
    second.unmount();
    again.runner.close();
  });
});
