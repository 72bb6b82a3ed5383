import { archiveExports } from './core/archive.js';
import { checkSteps } from './checks/index.js';
import { preflight } from './core/preflight.js';
import { dataSteps } from './data/index.js';
import { externalSteps } from './external/index.js';
import { reconcileSteps } from './reconcile/index.js';
import { rollbackSteps } from './rollback/index.js';
import { byStrategy, replicateSteps, withReplicationCleanup } from './replicate/index.js';
import type { StepRegistry } from './types.js';

/** Every step action by id. A step without one fails loudly as "not implemented" (never passes). */
export function createStepRegistry(): StepRegistry {
  const registry: StepRegistry = {
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
  return withStrategy(registry);
}

/**
 * Strategy `replicate` (src/steps/replicate): its own prep step, three data steps of the window done
 * its way (drain instead of export, nothing to verify in files, sequences and detach instead of
 * load), and the first step of abort, rollback and close removing whatever replication remains.
 */
function withStrategy(registry: StepRegistry): StepRegistry {
  const replaced = (id: string, replicate: StepRegistry[string]) => byStrategy(registry[id]!, replicate);
  return {
    ...registry,
    'prep.replicate': replicateSteps['prep.replicate'],
    'export.tables': replaced('export.tables', replicateSteps.drain),
    'export.verify': replaced('export.verify', replicateSteps.noExport),
    'migrate.load': replaced('migrate.load', replicateSteps.detach),
    'abort.restore-ttl': withReplicationCleanup(registry['abort.restore-ttl']!),
    'rollback.freeze-target': withReplicationCleanup(registry['rollback.freeze-target']!),
    'close.restore-ttl': withReplicationCleanup(registry['close.restore-ttl']!),
  };
}
