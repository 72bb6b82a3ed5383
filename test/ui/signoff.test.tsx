import { afterEach, describe, expect, it } from 'vitest';
import { cleanupDirs, uiRun } from './fixture.js';
import { examplePlan } from '../../src/config/example.js';
import { recognise } from '../../src/engine/identity.js';
import { ENTER, ESC, RIGHT, lineWith } from './terminal.js';

afterEach(cleanupDirs);

describe('sign-off panel', () => {
  it('signs off as the person running it (no name to pick) with a note, then moves on', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed, { identity: recognise(run.plan, 'ben') });

    let frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    expect(frame).toContain('quorum 1 of 3');
    expect(frame).toContain('No sign-offs yet · 1 needed');
    expect(frame).toContain('Signing as Ben Okafor · Enter to sign');
    expect(frame).not.toContain('Ana Ruiz');

    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('rehearsal 2 passed');
    await screen.waitFor('Note (optional): rehearsal 2 passed█');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    expect(screen.frame()).toContain('Signing as Ben Okafor · note: "rehearsal 2 passed"');
    screen.press(ENTER);

    frame = await screen.waitFor('Sign-off · prep.critical-workflows');
    expect(lineWith(frame, 'prep.staging-rehearsal')).toMatch(/^  ✓ prep\.staging-rehearsal .* Ben Okafor ✓/);
    await screen.waitFor('✎ prep.staging-rehearsal signed off by Ben Okafor: rehearsal 2');
    const [event] = runner.journal.entries.filter((entry) => entry.type === 'event');
    expect(event).toMatchObject({ event: { by: 'Ben Okafor' }, identity: { name: 'Ben Okafor', account: 'ben', via: 'os-account' } });
    screen.unmount();
    runner.close();
  });

  it('rejects with a note, shows who rejected, and r re-opens the step', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed, { identity: recognise(run.plan, 'chen') });

    await screen.waitFor('Signing as Chen Wei · Enter to sign');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('verify step failed on staging');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    screen.press(RIGHT);
    await screen.waitFor('[ Reject ]');
    screen.press(ENTER);

    let frame = await screen.waitFor('Rejected by Chen Wei: "verify step failed on staging"');
    expect(lineWith(frame, 'prep.staging-rehearsal')).toMatch(/^▸ ⊘ prep\.staging-rehearsal .* Chen Wei ✗/);
    expect(frame).toContain('r re-open');
    // Rejected is not approved: the run does not go on to the next step.
    expect(lineWith(frame, 'prep.critical-workflows')).toMatch(/^  · /);

    // Re-opened: a new round, the rejection kept on the record, and Chen Wei may sign again.
    screen.press('r');
    frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    expect(frame).toContain('No sign-offs yet · 1 needed · before the re-open: Chen Wei ✗');
    expect(frame).toContain('Signing as Chen Wei · Enter to sign');
    screen.unmount();
    runner.close();
  });

  it('Esc in the note goes back without sending anything', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('oops');
    screen.press(ESC);
    await screen.waitFor('Signing as Ana Ruiz · Enter to sign');
    expect(runner.journal.entries.filter((entry) => entry.type === 'event')).toEqual([]);
    screen.unmount();
    runner.close();
  });

  it('a sign-off from another terminal shows up while this person types, without losing the note', async () => {
    const run = uiRun({ plan: { approvers: { ...examplePlan.approvers, steps: { ...examplePlan.approvers.steps, 'prep.staging-rehearsal': { quorum: 2 } } } } });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    await screen.waitFor('Signing as Ana Ruiz · Enter to sign');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('half a note');
    await screen.waitFor('Note (optional): half a note█');
    // Ben signs from his own terminal; the driver applies it (as it does a request from the inbox).
    runner.send({ type: 'SIGNOFF', stepId: 'prep.staging-rehearsal', by: 'Ben Okafor', at: run.clock.now() }, { identity: recognise(run.plan, 'ben') });
    const frame = await screen.waitFor('Ben Okafor ✓ · 1 more needed');
    expect(frame).toContain('Note (optional): half a note█');
    screen.type(', done');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    screen.press(ENTER);
    await screen.waitFor('Sign-off · prep.critical-workflows');
    expect(runner.context().steps['prep.staging-rehearsal']!.signoffs.map((s) => [s.by, s.note])).toEqual([
      ['Ben Okafor', undefined],
      ['Ana Ruiz', 'half a note, done'],
    ]);
    screen.unmount();
    runner.close();
  });

  it('someone the plan does not name cannot sign from the UI: the approvers sign from their own terminals', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed, { identity: recognise(run.plan, 'mallory') });
    const frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    expect(frame).toContain('You are mallory, not an approver of prep.staging-rehearsal.');
    screen.press(ENTER);
    screen.press(ENTER);
    await screen.waitFor('No sign-offs yet · 1 needed');
    expect(runner.journal.entries.filter((entry) => entry.type === 'event')).toEqual([]);
    screen.unmount();
    runner.close();
  });
});
