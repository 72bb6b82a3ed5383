import { archiveExports } from './core/archive.js';
import { checkSteps } from './checks/index.js';
import { preflight } from './core/preflight.js';
import { dataSteps } from './data/index.js';
import { afterFreezeProof } from './data/proof.js';
import { externalSteps } from './external/index.js';
import { reconcileSteps } from './reconcile/index.js';
import { rollbackSteps } from './rollback/index.js';
import type { StepRegistry } from './types.js';

/** Every step action by id. A step without one fails loudly as "not implemented" (never passes). */
export function createStepRegistry(): StepRegistry {
  return {
    ...externalSteps,
    // Right before DNS moves, the proof that nothing was written to the source since the cutover point.
    'dns.switch': afterFreezeProof(externalSteps['dns.switch']!),
    ...dataSteps,
    ...reconcileSteps,
    ...checkSteps,
    ...rollbackSteps,
    // The rollback's decision step shows the same evidence and verdict the review would give now.
    'rollback.decide': checkSteps['review.decision']!,
    'prep.preflight': preflight,
    'close.archive': archiveExports,
  };
}
