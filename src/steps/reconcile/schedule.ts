/**
 * When the checks after the switch reconcile (DESIGN §5, issue 10): the first reconciliation runs with
 * the first hypercare check, then one at the first check at or after every `reconcile` cadence mark
 * counted from the switch (6 h, 12 h, 18 h, 24 h by default); from T+24h `watch.reconcile` takes over
 * on the same marks. A row lost at the switch is named within minutes, not a day later. Pure.
 */
export function reconciliationDue(switchedMs: number, nowMs: number, everyMs: number, lastReconciledMs: number | undefined): boolean {
  if (lastReconciledMs === undefined || lastReconciledMs < switchedMs) return true;
  const mark = switchedMs + Math.floor((nowMs - switchedMs) / everyMs) * everyMs;
  return mark > switchedMs && lastReconciledMs < mark;
}
