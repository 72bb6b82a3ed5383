import { archiveExports } from './core/archive.js';
import { checkSteps } from './checks/index.js';
import { preflight } from './core/preflight.js';
import { dataSteps } from './data/index.js';
import { externalSteps } from './external/index.js';
import { reconcileSteps } from './reconcile/index.js';
import { rollbackSteps } from './rollback/index.js';
import type { StepRegistry } from './types.js';

/** Every step action by id. A step without one fails loudly as "not implemented" (never passes). */
export function createStepRegistry(): StepRegistry {
  return {
    ...externalSteps,
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
