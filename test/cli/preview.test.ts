import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRunner, openSession } from '../../src/services/session.js';
import { dryRunFor } from '../../src/ui/run-interactive.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

/**
 * One preview: `cutover plan`, `cutover run --dry-run` and the UI's "Does:" line show the same text
 * for a step. They were computed three ways and differed (a sign-off read "wait for 1 sign-off(s)
 * from …" in the plan, "waits for sign-off" in the dry run and nothing in the UI).
 */
const dir = mkdtempSync(join(tmpdir(), 'cutover-preview-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const planFile = writeLocalPlan(dir, { audience: ['ana@example.com'] });
const env = { CUTOVER_CLOCK: 'manual:2026-12-03T00:00:00Z' };

describe('the step preview', () => {
  it('is the same in cutover plan, run --dry-run and the terminal UI', async () => {
    const plan = await cli(['--config', planFile, 'plan', '--json'], env);
    expect(plan.code).toBe(0);
    const texts = new Map<string, string>();
    for (const phase of JSON.parse(plan.stdout).phases as { steps: { id: string; dryRun: string }[] }[]) for (const step of phase.steps) texts.set(step.id, step.dryRun);

    const dry = await cli(['--config', planFile, 'run', '--dry-run'], env);
    expect(dry.code).toBe(0);
    // The dry run goes up to the first step that waits for a person: here the staging sign-off.
    const shown = ['prep.preflight', 'prep.lower-ttl', 'prep.advance-notice', 'prep.staging-rehearsal'];
    for (const id of shown) expect(dry.stdout).toContain(`- ${id}: ${texts.get(id)!.split('\n').join('\n    ')}`);
    expect(texts.get('prep.staging-rehearsal')).toBe('wait for 1 sign-off(s) from Ana Ruiz, Ben Okafor, Chen Wei');

    const session = await openSession({ config: planFile }, { out: () => {}, err: () => {}, interactive: false, env: { ...env } });
    const runner = openRunner(session, 'command', 'test');
    try {
      const ui = dryRunFor(session, runner, new AbortController().signal);
      for (const id of shown) expect(await ui(id)).toBe(texts.get(id));
    } finally {
      runner.close();
    }
  });
});
