import type { Assertion, DecisionInputs, HumanInput } from '../../../machines/decision-tree.js';
import type { Plan } from '../../config/schema.js';
import type { JournalEntry } from '../../engine/journal.js';
import { output } from '../outputs.js';

/**
 * The decision tree's inputs from what a run has recorded, and nothing else (pure: the caller reads
 * the state, the journal and the stored reconciliations). Read by `review.decision`, `watch.daily`,
 * `cutover decide` and the terminal UI, so all four judge the same evidence the same way.
 *
 * - data loss: the latest reconciliation, wherever it was recorded (the `watch.reconcile` step, the
 *   first-day summary, `cutover reconcile` from cron in the journal or in its stored files); a
 *   reconciliation that could not compare some table does not rule data loss out (unknown) unless it
 *   found missing rows anyway;
 * - errors and p95: the latest of the checks after the switch, by the time it measured;
 * - baseline: `final.baseline`;
 * - human-only inputs: the journal's assertions, the latest word per input (a withdrawal cancels).
 * Anything absent is passed as unknown with the reason: silence is never read as "all clear".
 */

/** Steps whose output measures the new system (error rate, p95) after the switch. */
export const CHECK_STEPS = ['hypercare.check', 'stabilize.check', 'watch.daily'] as const;

/** Journal entry types of the human-only inputs (`cutover decide --assert / --withdraw`). */
export const ASSERTED = 'decision.asserted';
export const WITHDRAWN = 'decision.withdrawn';
/** Journal entry type of a reconciliation run outside the machine (`cutover reconcile`). */
export const RECONCILE_SUMMARY = 'reconcile.summary';

/** The names people type for the human-only inputs, and the tree's names for them. */
export const HUMAN_INPUTS = {
  'security-breach': 'securityBreach',
  'db-corruption': 'databaseCorruption',
  'auth-broken': 'authBroken',
} as const satisfies Record<string, HumanInput>;

export type HumanInputName = keyof typeof HUMAN_INPUTS;

export interface ReconciliationEvidence {
  checkedAt: string;
  missingRows: number;
  /** Tables that could not be compared. */
  tablesNotCompared: number;
  clean: boolean;
  /** Where it was recorded, in words. */
  source: string;
}

export interface CheckEvidence {
  stepId: string;
  checkedAt: string;
  url?: string;
  requests: number;
  errorRate: number;
  p95Ms: number | null;
}

export interface EvidenceOptions {
  /** Reconciliations stored outside the run's state (`<stateDir>/reconcile/*.json`). */
  reconciliations?: readonly unknown[];
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isTime = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));

/** A reconciliation result (or its journal summary) reduced to what the tree needs, or undefined. */
export function readReconciliation(value: unknown, source: string): ReconciliationEvidence | undefined {
  const candidate = value as { checkedAt?: unknown; clean?: unknown; totals?: { missingRows?: unknown; problems?: unknown } } | undefined;
  if (!candidate || !isTime(candidate.checkedAt) || !isNumber(candidate.totals?.missingRows)) return undefined;
  return {
    checkedAt: candidate.checkedAt,
    missingRows: candidate.totals.missingRows,
    tablesNotCompared: isNumber(candidate.totals.problems) ? candidate.totals.problems : 0,
    clean: candidate.clean === true,
    source,
  };
}

/** Every reconciliation the run knows of, oldest first. */
export function listReconciliations(
  outputs: Readonly<Record<string, unknown>>,
  journal: readonly JournalEntry[],
  options: EvidenceOptions = {},
): ReconciliationEvidence[] {
  const found: ReconciliationEvidence[] = [];
  const push = (item: ReconciliationEvidence | undefined) => {
    if (item) found.push(item);
  };
  push(readReconciliation(output(outputs, 'watch.reconcile'), 'watch.reconcile'));
  push(readReconciliation(output(outputs, 'review.summary')?.reconciliation, 'review.summary'));
  for (const entry of journal) if (entry.type === RECONCILE_SUMMARY) push(readReconciliation(entry, 'cutover reconcile'));
  for (const stored of options.reconciliations ?? []) push(readReconciliation(stored, 'cutover reconcile (stored run)'));
  // The same run can be both in the journal and stored: keep one of each.
  const unique = new Map<string, ReconciliationEvidence>();
  for (const item of found) {
    const key = JSON.stringify([item.checkedAt, item.missingRows, item.tablesNotCompared, item.clean]);
    if (!unique.has(key)) unique.set(key, item);
  }
  // Two different runs at the same instant: the worse one counts as the latest.
  return [...unique.values()].sort(
    (a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt) || a.missingRows - b.missingRows || a.tablesNotCompared - b.tablesNotCompared,
  );
}

/** The latest measurement of the new system among the checks' outputs. */
export function latestCheck(outputs: Readonly<Record<string, unknown>>): CheckEvidence | undefined {
  const found: CheckEvidence[] = [];
  for (const stepId of CHECK_STEPS) {
    const output = outputs[stepId] as Partial<CheckEvidence> | undefined;
    if (!output || !isTime(output.checkedAt) || !isNumber(output.requests) || !isNumber(output.errorRate)) continue;
    found.push({
      stepId,
      checkedAt: output.checkedAt,
      ...(typeof output.url === 'string' ? { url: output.url } : {}),
      requests: output.requests,
      errorRate: output.errorRate,
      p95Ms: isNumber(output.p95Ms) ? output.p95Ms : null,
    });
  }
  return found.sort((a, b) => Date.parse(b.checkedAt) - Date.parse(a.checkedAt))[0];
}

/** The human-only inputs in force: per input, the latest assertion unless withdrawn after it. */
export function assertionsInForce(journal: readonly JournalEntry[]): DecisionInputs['asserted'] {
  const asserted: DecisionInputs['asserted'] = {};
  const known = new Set<string>(Object.values(HUMAN_INPUTS));
  for (const entry of journal) {
    if (entry.type !== ASSERTED && entry.type !== WITHDRAWN) continue;
    const input = entry.input as HumanInput;
    if (!known.has(input)) continue;
    if (entry.type === WITHDRAWN) {
      delete asserted[input];
      continue;
    }
    const assertion: Assertion = { by: String(entry.by ?? ''), at: entry.at, note: typeof entry.note === 'string' ? entry.note : '' };
    asserted[input] = assertion;
  }
  return asserted;
}

export function buildDecisionInputs(
  outputs: Readonly<Record<string, unknown>>,
  journal: readonly JournalEntry[],
  plan: Pick<Plan, 'probes' | 'thresholds'>,
  options: EvidenceOptions = {},
): DecisionInputs {
  const reconciliation = listReconciliations(outputs, journal, options).at(-1);
  let dataLoss: DecisionInputs['dataLoss'];
  if (!reconciliation) dataLoss = { unknown: 'no reconciliation has run yet' };
  else if (reconciliation.missingRows === 0 && reconciliation.tablesNotCompared > 0) {
    dataLoss = {
      unknown: `the latest reconciliation (${reconciliation.source}, ${reconciliation.checkedAt}) could not compare ${reconciliation.tablesNotCompared} ${reconciliation.tablesNotCompared === 1 ? 'table' : 'tables'}`,
    };
  } else dataLoss = { missingRows: reconciliation.missingRows, checkedAt: reconciliation.checkedAt };

  const check = latestCheck(outputs);
  const errors: DecisionInputs['errors'] = check
    ? { rate: check.errorRate, requests: check.requests, window: `${check.stepId} at ${check.checkedAt} (requests to ${check.url ?? plan.probes.newHealth.url})` }
    : { unknown: 'no check after the switch has measured the new system yet' };

  const baseline = output(outputs, 'final.baseline')?.p95Ms;
  const missing: string[] = [];
  if (!check) missing.push('no p95 measured after the switch');
  else if (check.p95Ms === null) missing.push(`no request of ${check.stepId} at ${check.checkedAt} succeeded, so it has no p95`);
  if (!isNumber(baseline)) missing.push('no baseline (final.baseline has not recorded p95Ms)');
  const latency: DecisionInputs['latency'] =
    missing.length === 0
      ? { p95Ms: check!.p95Ms!, baselineP95Ms: Math.max(baseline as number, plan.thresholds.latencyFloorMs) }
      : { unknown: missing.join('; ') };

  return { dataLoss, errors, latency, asserted: assertionsInForce(journal) };
}
