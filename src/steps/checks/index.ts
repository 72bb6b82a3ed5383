import { stepGroup } from '../types.js';
import { dailyCheck, hypercareCheck, stabilizeCheck } from './post-switch-check.js';
import { reviewDecision, reviewSummary } from './review.js';

export {
  ASSERTED,
  WITHDRAWN,
  RECONCILE_SUMMARY,
  HUMAN_INPUTS,
  buildDecisionInputs,
  assertionsInForce,
  latestCheck,
  listReconciliations,
  type HumanInputName,
  type ReconciliationEvidence,
  type CheckEvidence,
} from './decision-inputs.js';
export { decideOnEvidence, summarizeFirstDay, renderFirstDay, type DecisionOutput, type FirstDaySummary } from './review.js';
export type { CheckOutput, CheckNote } from './post-switch-check.js';
export { loadStoredReconciliations, storeReconciliation, reconcileDir } from './stored-reconciliations.js';

/** The checks after the switch and the first-day review. */
export const checkSteps = stepGroup({
  'hypercare.check': hypercareCheck,
  'stabilize.check': stabilizeCheck,
  'watch.daily': dailyCheck,
  'review.summary': reviewSummary,
  'review.decision': reviewDecision,
});
