import { externalSteps } from './external/index.js';
import type { StepRegistry } from './types.js';

/** Every step action by id. A step without one fails loudly as "not implemented" (never passes). */
export function createStepRegistry(): StepRegistry {
  return { ...externalSteps };
}
