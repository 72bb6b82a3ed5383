import type { ManualClock } from '../../src/engine/clock.js';
import { findStep } from '../../machines/runbook.js';
import { rehearsalIdentity } from '../../src/engine/identity.js';
import type { Blocked, Runner } from '../../src/engine/runner.js';

/**
 * Play every person in the plan (as the rehearsal does: `via: rehearsal` on the record): jump the manual clock to each gate, sign off with each needed
 * approver, type each confirmation phrase. Stops at the end, at a failure, or after `limit` turns.
 */
export async function driveToEnd(runner: Runner, clock: ManualClock, options: { limit?: number; stopOn?: (b: Blocked) => boolean } = {}): Promise<Blocked> {
  for (let turn = 0; turn < (options.limit ?? 10_000); turn++) {
    const blocked = await runner.drive({ waitGates: false });
    if (options.stopOn?.(blocked)) return blocked;
    const stepId = blocked.location.stepId;
    const context = runner.context();
    switch (blocked.kind) {
      case 'time':
        clock.set(blocked.until);
        break;
      case 'signoff': {
        const rule = context.signoff[stepId!]!;
        const signed = new Set((context.steps[stepId!]?.signoffs ?? []).map((s) => s.by));
        const by = rule.approvers.find((name) => !signed.has(name))!;
        runner.send({ type: 'SIGNOFF', stepId: stepId!, by, at: clock.now(), note: 'ok' }, { identity: rehearsalIdentity(by) });
        break;
      }
      case 'confirm': {
        const step = findStep(stepId!)!.step;
        const by = context.signoff[stepId!]!.approvers[0]!;
        runner.send(
          { type: 'CONFIRM', stepId: stepId!, by, at: clock.now(), phrase: step.phrase === 'zone' ? context.phrases.zone : context.phrases.rollback },
          { identity: rehearsalIdentity(by) },
        );
        break;
      }
      default:
        return blocked;
    }
  }
  throw new Error('the run did not end');
}
