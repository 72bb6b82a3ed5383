import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const planFile = join(dir, 'cutover.config.ts');
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
const env = { CUTOVER_CLOCK: `manual:${new Date(T0 - 48 * 3_600_000).toISOString()}` };
/** `as`: the OS account the command runs as (the example plan's people are ana, ben, chen). */
const cutover = (args: string[], as?: string) => cli(['--config', planFile, ...args], env, as);
/** ISO-8601 with New York's offset in December. */
const NEW_YORK = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?-05:00$/;

/** Every line of stdout is one JSON object: the contract a script reads. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  const lines = stdout.trim().split('\n');
  return lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`not JSON: ${line}`);
    }
  });
}

beforeAll(() => {
  writeLocalPlan(dir, { audience: ['ana@example.com'] });
});

describe('--json', () => {
  it('run: one JSON event per line, then where it stopped with the exit code; skip: what was recorded and what is next', async () => {
    const failed = await cutover(['run', '--json']);
    expect(failed.code).toBe(1); // preflight fails: no databases
    const events = jsonLines(failed.stdout);
    expect(events.every((event) => typeof event.type === 'string' && NEW_YORK.test(String(event.at)))).toBe(true);
    expect(events.some((event) => event.type === 'step.started' && event.stepId === 'prep.preflight')).toBe(true);
    expect(events.some((event) => event.type === 'step.failed' && event.stepId === 'prep.preflight' && /SOURCE_DATABASE_URL/.test(String(event.error)))).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run.stopped', stopped: 'failed', stepId: 'prep.preflight', exitCode: 1 });

    const skipped = await cutover(['skip', 'prep.preflight', '--reason', 'checked by hand', '--json'], 'ana');
    expect(skipped.code).toBe(0);
    const [skip, ...rest] = jsonLines(skipped.stdout);
    expect(rest).toEqual([]);
    expect(skip).toMatchObject({ command: 'cutover skip prep.preflight', recorded: { type: 'SKIP', stepId: 'prep.preflight', by: 'Ana Ruiz', reason: 'checked by hand' }, exitCode: 0 });
    const recorded = skip!.recorded as { at: string; journalLine: number };
    expect(recorded.at).toMatch(NEW_YORK);
    expect(recorded.journalLine).toBeGreaterThan(0);
    expect(typeof (skip!.next as { message: string }).message).toBe('string');

    const onward = await cutover(['run', '--json']);
    const after = jsonLines(onward.stdout);
    expect(onward.code).toBe(3);
    expect(after.some((event) => event.type === 'event')).toBe(false); // the skip was journaled by `skip`, not again here
    expect(after.at(-1)).toMatchObject({ type: 'run.stopped', stopped: 'signoff', stepId: 'prep.staging-rehearsal', exitCode: 3 });
    expect(String(after.at(-1)!.message)).toContain('cutover signoff prep.staging-rehearsal');

    const signed = await cutover(['signoff', 'prep.staging-rehearsal', '--note', 'staging went fine', '--json'], 'ben');
    expect(signed.code).toBe(0);
    const [signoff, ...more] = jsonLines(signed.stdout);
    expect(more).toEqual([]);
    expect(signoff).toMatchObject({ recorded: { type: 'SIGNOFF', stepId: 'prep.staging-rehearsal', by: 'Ben Okafor', note: 'staging went fine' }, exitCode: 0 });
    expect(String((signoff!.recorded as { at: string }).at)).toMatch(NEW_YORK);
  });

  it('report --json: per step planned and actual times with the offset, the slip, who signed and who skipped', async () => {
    const result = await cutover(['report', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { runId: string; t0: string; now: string; phases: Array<{ steps: Array<Record<string, unknown>> }> };
    expect(report.t0).toBe('2026-12-05T22:00:00-05:00');
    expect(report.now).toMatch(NEW_YORK);
    const steps = new Map(report.phases.flatMap((phase) => phase.steps).map((step) => [step.id, step]));
    const preflight = steps.get('prep.preflight')!;
    expect(preflight).toMatchObject({ status: 'skipped', skipped: { by: 'Ana Ruiz', reason: 'checked by hand' } });
    expect(String(preflight.plannedAt)).toMatch(NEW_YORK);
    // Steps that ran at T-48h (the manual clock stands at it): started on time.
    const lowerTtl = steps.get('prep.lower-ttl')!;
    expect(lowerTtl).toMatchObject({ plannedAt: '2026-12-03T22:00:00-05:00', startedAt: '2026-12-03T22:00:00-05:00', slipMs: 0 });
    expect(String((preflight.skipped as { at: string }).at)).toMatch(NEW_YORK);
    const staging = steps.get('prep.staging-rehearsal')!;
    expect((staging.signoffs as Array<{ by: string; at: string }>).map((s) => s.by)).toEqual(['Ben Okafor']);
    expect((staging.signoffs as Array<{ at: string }>)[0]!.at).toMatch(NEW_YORK);
    // No epoch milliseconds anywhere a time is written.
    expect(result.stdout).not.toMatch(/"(at|plannedAt|startedAt|finishedAt|opensAt)": \d/);
  });

  it('decide --assert, unlock and rollback (an abort before the freeze): one object each, times with the offset', async () => {
    const asserted = await cutover(['decide', '--assert', 'auth-broken', '--note', 'logins fail', '--json'], 'ana');
    expect(asserted.code).toBe(1); // auth broken: the verdict is rollback
    const decision = JSON.parse(asserted.stdout) as { verdict: string; evaluatedAt: string; recorded: { at: string; seq: number } };
    expect(decision.verdict).toBe('rollback');
    expect(decision.evaluatedAt).toMatch(NEW_YORK);
    expect(decision.recorded.at).toMatch(NEW_YORK);
    expect(decision.recorded.seq).toBeGreaterThan(0);
    expect((await cutover(['decide', '--withdraw', 'auth-broken'], 'ana')).code).toBe(0);

    const unlocked = await cutover(['unlock', '--reason', 'the old runner is gone', '--json'], 'ana');
    const [unlock, ...others] = jsonLines(unlocked.stdout);
    expect(others).toEqual([]);
    expect(unlock).toMatchObject({ command: 'cutover unlock', recorded: { type: 'unlock', reason: 'the old runner is gone' }, exitCode: unlocked.code });
    expect(String((unlock!.recorded as { at: string }).at)).toMatch(NEW_YORK);

    const aborted = await cutover(['rollback', '--reason', 'vendor delay', '--phrase', 'rollback freshtrackpro.com', '--json'], 'ana');
    expect(aborted.code).toBe(0);
    const [abort, ...after] = jsonLines(aborted.stdout);
    expect(after).toEqual([]);
    expect(abort).toMatchObject({ command: 'cutover rollback', recorded: { type: 'ABORT', by: 'Ana Ruiz', reason: 'vendor delay' }, exitCode: 0 });
    expect((abort!.next as { message: string }).message).not.toBe('');
  });

  it('keeps the exit codes: a refused recording is exit 2 with nothing on stdout', async () => {
    const refused = await cutover(['retry', 'prep.nope', '--json'], 'ana');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).not.toBe('');
  });
});
