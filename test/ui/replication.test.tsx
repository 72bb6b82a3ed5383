import { afterEach, describe, expect, it } from 'vitest';
import type { RunReplication } from '../../src/steps/replicate/lag.js';
import { cleanupDirs, uiRun } from './fixture.js';

afterEach(cleanupDirs);

/**
 * Strategy replicate: the UI shows the slot's lag and retained WAL under the header, read again every
 * few seconds (the reader is the one `status` uses, src/steps/replicate/lag.ts; here it is fed by hand).
 */
describe('replication line', () => {
  it('shows the latest reading under the header, and the next one when it comes', async () => {
    const readings: RunReplication[] = [
      { slot: 'cutover_x', problems: [], text: 'Replication: Slot cutover_x: streaming, 12 kB, 0.2 s behind, holding 3 MB.' },
      { slot: 'cutover_x', problems: ['over'], text: 'Replication: Slot cutover_x: streaming, 900 MB behind; more than plan.replicate.maxLagBytes' },
    ];
    let reads = 0;
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed, { replication: async () => readings[Math.min(reads++, readings.length - 1)]! });
    const frame = await screen.waitFor('Replication: Slot cutover_x: streaming, 12 kB, 0.2 s behind, holding 3 MB.');
    // Under the header's three lines.
    expect(frame.split('\n').findIndex((line) => line.startsWith('Replication:'))).toBe(3);
    // Read again a few seconds later (REPLICATION_POLL_MS): the new reading replaces the old.
    await screen.waitFor('900 MB behind');
  }, 30_000);

  it('has no such line without a reader (strategy copy)', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    const frame = await screen.waitFor('prep.preflight');
    expect(frame).not.toContain('Replication:');
  });
});
