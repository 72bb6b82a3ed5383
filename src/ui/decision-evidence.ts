import { evaluateDecision, type Decision, type DecisionInputs } from '../../machines/decision-tree.js';
import type { RunContext, StepRecord } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import type { ReconcileResult } from '../steps/reconcile/reconcile.js';

/** A decision to show, where it came from, and what the UI could not find. */
export interface DecisionReading {
  decision?: Decision;
  /** Evidence the tree refused (e.g. a negative count in a step output). */
  error?: string;
  /** Where the verdict comes from, in words. */
  source: string;
}

export function isDecision(value: unknown): value is Decision {
  const candidate = value as Partial<Decision> | undefined;
  return typeof candidate?.verdict === 'string' && Array.isArray(candidate.path) && typeof candidate.summary === 'string';
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const field = (record: StepRecord | undefined, name: string): number | undefined => num((record?.output as Record<string, unknown> | undefined)?.[name]);

/** The checks after the switch, whose latest run measured error rate and p95 on the new system. */
const CHECKS = ['hypercare.check', 'stabilize.check', 'watch.daily'];

/**
 * The decision tree's inputs from what the run has recorded, and nothing else. Outputs read:
 * - `watch.reconcile` → its ReconcileResult: `totals.missingRows`, and whether every table and bucket
 *   was compared (if not, zero missing rows proves nothing);
 * - the latest of hypercare / stabilize / daily checks → `errorRate` (0..1) with `requests`, and `p95Ms`;
 * - `final.baseline` → `p95Ms` of the old system.
 * Whatever is absent is passed as unknown with the reason, so the tree says it is missing instead of
 * reading silence as "all clear". Human assertions are never invented here: none are passed.
 */
export function decisionInputs(steps: Readonly<Record<string, StepRecord>>): DecisionInputs {
  const dataLoss = dataLossFrom(steps['watch.reconcile']);

  const latest = CHECKS.map((id) => ({ id, record: steps[id] }))
    .filter(({ record }) => record?.output !== undefined)
    .sort((a, b) => (b.record!.finishedAt ?? 0) - (a.record!.finishedAt ?? 0))[0];
  const rate = field(latest?.record, 'errorRate');
  const requests = field(latest?.record, 'requests');
  const errors: DecisionInputs['errors'] =
    rate !== undefined && requests !== undefined
      ? { rate, requests, window: `the last ${latest!.id}` }
      : { unknown: latest ? `${latest.id} did not report errorRate and requests` : 'no check after the switch has run yet' };

  const p95Ms = field(latest?.record, 'p95Ms');
  const baselineP95Ms = field(steps['final.baseline'], 'p95Ms');
  const latency: DecisionInputs['latency'] =
    p95Ms !== undefined && baselineP95Ms !== undefined
      ? { p95Ms, baselineP95Ms }
      : {
          unknown: [
            p95Ms === undefined ? (latest ? `${latest.id} did not report p95Ms` : 'no p95 measured after the switch') : '',
            baselineP95Ms === undefined ? 'no baseline (final.baseline has not recorded p95Ms)' : '',
          ]
            .filter(Boolean)
            .join('; '),
        };
  return { dataLoss, errors, latency, asserted: {} };
}

function dataLossFrom(record: StepRecord | undefined): DecisionInputs['dataLoss'] {
  const result = record?.output as Partial<ReconcileResult> | undefined;
  if (!result) return { unknown: 'no reconciliation has run yet' };
  const totals = result.totals;
  const missingRows = num(totals?.missingRows);
  if (!totals || missingRows === undefined) return { unknown: 'the last reconciliation did not report missing rows' };
  const checkedAt = typeof result.checkedAt === 'string' ? { checkedAt: result.checkedAt } : {};
  if (missingRows > 0) return { missingRows, ...checkedAt };
  if ((totals.problems ?? 0) > 0 || (totals.unverifiedBuckets ?? 0) > 0) {
    return { unknown: `partial, ${totals.problems ?? 0} tables not compared, ${totals.unverifiedBuckets ?? 0} buckets unverified` };
  }
  return { missingRows: 0, ...checkedAt };
}

/**
 * What the decision panel shows: a decision step's own evaluation when it has one, otherwise the
 * tree evaluated here on the recorded evidence (nothing is sent, nothing is stored).
 */
export function decisionFromRun(context: RunContext, plan: Plan, stepId: string | undefined): DecisionReading {
  const own = stepId ? context.steps[stepId]?.output : undefined;
  if (stepId && isDecision(own)) return { decision: own, source: `${stepId}'s evaluation` };
  // A step that recorded only a verdict: say so, rather than let the walk below pass for its reasons.
  const verdict = (own as { verdict?: unknown } | undefined)?.verdict;
  const recorded = typeof verdict === 'string' ? `${stepId} recorded ${verdict.toUpperCase()} without its reasons; below, the tree ` : '';
  try {
    return { decision: evaluateDecision(decisionInputs(context.steps), plan.thresholds), source: `${recorded}evaluated now on the recorded step outputs; no human assertions` };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), source: 'the recorded step outputs' };
  }
}
