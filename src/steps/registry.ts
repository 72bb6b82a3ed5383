import type { ActionStepId } from '../../machines/runbook.js';
import { archiveExports } from './core/archive.js';
import { checkSteps } from './checks/index.js';
import { preflight } from './core/preflight.js';
import { dataSteps } from './data/index.js';
import { afterFreezeProof } from './data/proof.js';
import { externalSteps } from './external/index.js';
import { reconcileSteps } from './reconcile/index.js';
import { rollbackSteps } from './rollback/index.js';
import type { StepAction } from './types.js';

/**
 * Every scripted step of the runbook with its action. The type lists every runbook step that is not
 * a plain sign-off, so a step added to the runbook without an action does not compile.
 */
export type CompleteStepRegistry = Record<ActionStepId, StepAction>;

export function createStepRegistry(): CompleteStepRegistry {
  return {
    ...externalSteps,
    // Right before DNS moves, the proof that nothing was written to the source since the cutover point.
    'dns.switch': afterFreezeProof(externalSteps['dns.switch']!),
    ...dataSteps,
    ...reconcileSteps,
    ...checkSteps,
    ...rollbackSteps,
    // The rollback's decision step shows the same evidence and verdict the review would give now.
    'rollback.decide': checkSteps['review.decision'],
    'prep.preflight': preflight,
    'close.archive': archiveExports,
  };
}
