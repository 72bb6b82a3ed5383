import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findStep } from '../../machines/runbook.js';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { cleanup, effects, finish, newDir, runChild, startsByStep } from './child.js';

/**
 * Issue 13: validate.webhook posted its test reading again on resume (2 test rows in 7 of 10 runs).
 * It is marked not idempotent, so a runner killed inside it asks the operator ("outcome unknown").
 */

afterEach(cleanup);

describe('validate.webhook on resume', () => {
  it('is marked not idempotent in the runbook', () => {
    expect(findStep('validate.webhook')?.step.notIdempotent).toBe(true);
  });

  it('killed after it started: the resumed run does not post again but stops at "outcome unknown"; skipped by the operator, the run ends with one post', async () => {
    const dir = newDir();
    const outcome = await finish(dir, { HANG_AT: 'validate.webhook' }, () => effects(dir).includes('start validate.webhook 1'));
    expect(outcome).toBe('killed');
    const resumed = await runChild(dir, ['drive']);
    expect(resumed.stdout.trim()).toBe('BLOCKED unknown validate.webhook');
    expect(resumed.code).toBe(3);
    expect(Journal.open(join(dir, '.cutover')).entries.filter((e) => e.type === 'step.outcome-unknown').map((e) => e.stepId)).toEqual(['validate.webhook']);
    expect(startsByStep(dir).get('validate.webhook')).toBe(1);
    // Running again does not guess either.
    expect((await runChild(dir, ['drive'])).stdout.trim()).toBe('BLOCKED unknown validate.webhook');

    const skipped = await runChild(dir, ['skip', 'validate.webhook', 'Ana Ruiz', 'the test reading arrived (checked in the target)']);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(await finish(dir)).toBe('ended');
    expect(startsByStep(dir).get('validate.webhook')).toBe(1);
    expect(verifyJournal(join(dir, '.cutover'))).toMatchObject({ ok: true });
  }, 300_000);
});
