import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/engine/errors.js';
import { cleanupDirs, deferred, uiRun } from './fixture.js';
import { recognise } from '../../src/engine/identity.js';
import { CTRL_C, ENTER, lineWith, section } from './terminal.js';

afterEach(cleanupDirs);

describe('quit and resume', () => {
  it('q closes the runner; the next UI opens on the same step with what was signed', async () => {
    const run = uiRun();
    const first = run.open();
    const screen = run.show(first.runner, first.feed, { identity: recognise(run.plan, 'ben') });
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('green on staging');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    screen.press(ENTER);
    await screen.waitFor('Sign-off · prep.critical-workflows');

    screen.press('q');
    await screen.waitFor(() => screen.quitCode() !== undefined, 'the UI to quit');
    expect(screen.quitCode()).toBe(EXIT.gate);
    screen.unmount();

    // The lock is free (a second runner would be refused otherwise) and the state is on disk.
    const second = run.open();
    const again = run.show(second.runner, second.feed);
    const frame = await again.waitFor('Sign-off · prep.critical-workflows');
    expect(lineWith(section(frame, 'Timeline'), 'prep.staging-rehearsal')).toMatch(/^  ✓ prep\.staging-rehearsal .* Ben Okafor ✓/);
    await again.waitFor('✎ prep.staging-rehearsal signed off by Ben Okafor: green on');
    again.unmount();
    second.runner.close();
  });

  it('Ctrl-C while typing a note quits the same safe way and sends nothing', async () => {
    const run = uiRun();
    const first = run.open();
    const screen = run.show(first.runner, first.feed);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.press(ENTER);
    await screen.waitFor('Note (optional):');
    screen.type('half a thought');
    screen.press(CTRL_C);
    await screen.waitFor(() => screen.quitCode() !== undefined, 'the UI to quit');
    screen.unmount();
    expect(first.runner.journal.entries.filter((entry) => entry.type === 'event')).toEqual([]);

    const second = run.open();
    const again = run.show(second.runner, second.feed);
    await again.waitFor('Sign-off · prep.staging-rehearsal');
    again.unmount();
    second.runner.close();
  });

  it('quitting in the middle of an action resumes that action, and says so', async () => {
    const never = deferred();
    const second = deferred();
    let runs = 0;
    const run = uiRun({
      actions: {
        'prep.preflight': {
          dryRun: () => 'reach every system',
          run: async () => {
            runs += 1;
            await (runs === 1 ? never.promise : second.promise);
            return { summary: 'reachable' };
          },
        },
      },
    });
    const first = run.open();
    const screen = run.show(first.runner, first.feed);
    await screen.waitFor('── ▶ prep.preflight');
    screen.press('q');
    await screen.waitFor(() => screen.quitCode() !== undefined, 'the UI to quit');
    screen.unmount();

    const reopened = run.open();
    const again = run.show(reopened.runner, reopened.feed);
    const frame = await again.waitFor('▶ prep.preflight (resumed: it was running when the last runner');
    expect(frame).toContain('── ▶ prep.preflight');
    expect(runs).toBe(2);
    second.resolve();
    await again.waitFor('Sign-off · prep.staging-rehearsal');
    again.unmount();
    reopened.runner.close();
  });
});
