import { afterEach, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/steps/types.js';
import { cleanupDirs, deferred, uiRun } from './fixture.js';
import { lineWith, PAGE_UP, section } from './terminal.js';

afterEach(cleanupDirs);

describe('current step with live progress', () => {
  it('shows description, dry-run text, a progress bar with rows, rows/s and ETA, then the step done', async () => {
    const finish = deferred();
    let report: ((progress: Progress) => void) | undefined;
    const run = uiRun({
      actions: {
        'prep.preflight': {
          dryRun: () => 'connect to both databases, the DNS provider and the mail provider',
          run: async (ctx) => {
            report = ctx.progress;
            await finish.promise;
            return { summary: 'copied' };
          },
        },
      },
    });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);

    // The dry-run text is the registry's, loaded for the step on screen.
    let frame = await screen.waitFor('Does: connect to both databases, the DNS provider and the mail provider');
    expect(frame).toContain('── ▶ prep.preflight');
    expect(frame).toContain('Preflight · attempt 1');
    expect(frame).toContain('Validate the plan and reach every system it names');
    expect(lineWith(section(frame, 'Timeline'), 'prep.preflight')).toMatch(/^▸ ▶ prep\.preflight/);

    report!({ label: 'public.temperature_readings', done: 0, total: 1_000_000, unit: 'rows' });
    run.clock.advance(10_000);
    report!({ label: 'public.temperature_readings', done: 250_000, total: 1_000_000, unit: 'rows' });
    frame = await screen.waitFor('250,000 of 1,000,000 rows · 25,000 rows/s · ETA 30s');
    expect(lineWith(frame, 'public.temperature_readings')).toMatch(/public\.temperature_readings █+░+ 25%$/);
    const bar = /█+░+/.exec(lineWith(frame, 'public.temperature_readings'))![0];
    expect(bar.split('█').length - 1).toBe(Math.floor(bar.length / 4));

    finish.resolve();
    frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    expect(frame).not.toContain('rows/s');
    screen.press(PAGE_UP);
    frame = await screen.waitFor((f) => section(f, 'Timeline').includes('prep.preflight'), 'prep.preflight in the timeline');
    expect(lineWith(section(frame, 'Timeline'), 'prep.preflight')).toMatch(/^  ✓ prep\.preflight/);
    screen.unmount();
    runner.close();
  });

  it('repaints a flood of progress reports a few times, not once per report, and ends on the last one', async () => {
    const finish = deferred();
    let report: ((progress: Progress) => void) | undefined;
    const run = uiRun({
      actions: {
        'prep.preflight': {
          dryRun: () => 'count rows',
          run: async (ctx) => {
            report = ctx.progress;
            await finish.promise;
            return { summary: 'done' };
          },
        },
      },
    });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    await screen.waitFor('── ▶ prep.preflight');
    const before = screen.frames();
    // One report per turn of the event loop, as a COPY stream reports one per chunk it receives.
    for (let done = 1; done <= 500; done++) {
      run.clock.advance(10);
      report!({ label: 'rows counted', done, total: 500, unit: 'rows' });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await screen.waitFor('500 of 500 rows');
    // Every repaint is a frame the terminal has to draw; 500 of them would flicker.
    expect(screen.frames() - before).toBeLessThan(25);
    finish.resolve();
    screen.unmount();
    runner.close();
  });
});
