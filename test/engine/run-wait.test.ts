import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal } from '../../src/engine/journal.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

/**
 * Issue 13: CUTOVER_CLOCK=compressed could not drive `cutover run --non-interactive` (every call
 * exited 3 at the same gate). `--wait` sleeps through time gates with any clock.
 */

const dir = mkdtempSync(join(tmpdir(), 'cutover-wait-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const planFile = writeLocalPlan(dir, { audience: ['ana@example.com'] });
const T0 = Date.parse('2026-12-06T03:00:00Z');
// 72 h before T0 (24 h before prep opens), 100,000 times faster: the gate is about a second away.
const env = { CUTOVER_CLOCK: `compressed:100000@${new Date(T0 - 72 * 3_600_000).toISOString()}`, HOME: process.env.HOME };
const run = (args: string[], extra: Record<string, string | undefined> = {}) => cli(['--config', planFile, 'run', '--non-interactive', ...args], { ...env, ...extra });

describe('cutover run --wait', () => {
  it('without --wait a compressed clock still exits 3 at the gate; with --wait it sleeps through it and goes on', async () => {
    const gate = await run([]);
    expect(gate.code).toBe(3);
    expect(gate.stdout).toContain('phase prep opens');
    const again = await run([]);
    expect(again.stdout).toContain('phase prep opens');

    const waited = await run(['--wait']);
    // Past the gate: the first step of prep ran (it may fail here: there are no databases).
    expect(waited.stdout).toContain('prep.preflight');
    expect(waited.stdout).not.toMatch(/Waiting until .*phase prep opens/);
    const started = Journal.open(join(dir, '.cutover')).entries.filter((e) => e.type === 'step.started').map((e) => e.stepId);
    expect(started[0]).toBe('prep.preflight');
  }, 120_000);

  it('refuses --wait with a manual clock, which would wait for ever', async () => {
    const result = await run(['--wait'], { CUTOVER_CLOCK: `manual:${new Date(T0).toISOString()}` });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CUTOVER_CLOCK=manual stands still');
  });
});
