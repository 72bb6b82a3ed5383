import { describe, expect, it } from 'vitest';
import { occurrences, parseDuration } from '../../machines/schedule.js';
import { findStep } from '../../machines/runbook.js';
import { reconciliationDue } from '../../src/steps/reconcile/schedule.js';

/** Issue 10, item 4: reconcile with the first hypercare check, then every 6 h counted from the switch. */
describe('reconciliation schedule after the switch', () => {
  it('runs with the first hypercare check, then at 6 h, 12 h, 18 h and 24 h, and watch.reconcile continues on the same marks', () => {
    const cadences = { hypercare: parseDuration('15m'), stabilize: parseDuration('2h'), reconcile: parseDuration('6h'), daily: parseDuration('1d') };
    const switchedAt = Date.parse('2026-12-06T00:30:00Z');
    const timing = { t0: switchedAt - parseDuration('120m'), switchedAt, plannedSwitch: switchedAt, cadences };
    // Every check the machine runs in hypercare and stabilization, in time order.
    const checks = [
      ...occurrences(timing, 'hypercare', findStep('hypercare.check')!.step),
      ...occurrences(timing, 'stabilize', findStep('stabilize.check')!.step),
    ].sort((a, b) => a - b);
    let last: number | undefined;
    const reconciled: string[] = [];
    for (const at of checks) {
      if (reconciliationDue(switchedAt, at, cadences.reconcile, last)) {
        last = at;
        reconciled.push(`+${(at - switchedAt) / 60_000} min`);
      }
    }
    expect(reconciled).toEqual(['+15 min', '+360 min', '+720 min', '+1080 min', '+1440 min']);
    const watch = occurrences(timing, 'watch', findStep('watch.reconcile')!.step).map((at) => (at - switchedAt) / 3_600_000);
    expect(watch.slice(0, 3)).toEqual([30, 36, 42]);
  });

  it('counts a reconciliation from before the switch for nothing, and one run by hand after a mark as that mark', () => {
    const h = 3_600_000;
    expect(reconciliationDue(100 * h, 100.25 * h, 6 * h, 99 * h)).toBe(true);
    expect(reconciliationDue(100 * h, 104 * h, 6 * h, 100.25 * h)).toBe(false);
    expect(reconciliationDue(100 * h, 106.5 * h, 6 * h, 106.1 * h)).toBe(false);
    expect(reconciliationDue(100 * h, 106.5 * h, 6 * h, 105 * h)).toBe(true);
  });
});
