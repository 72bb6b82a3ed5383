import type { ActionStepId } from '../../machines/runbook.js';
import { archiveExports } from './core/archive.js';
import { checkSteps } from './checks/index.js';
import { preflight } from './core/preflight.js';
import { dataSteps } from './data/index.js';
import { afterFreezeProof } from './data/proof.js';
import { externalSteps } from './external/index.js';
import { reconcileSteps } from './reconcile/index.js';
import { rollbackSteps } from './rollback/index.js';
import { byStrategy, replicateSteps, withReplicationCleanup } from './replicate/index.js';
import type { Plan } from '../config/schema.js';
import { customStepActions } from './custom/index.js';
import type { StepAction, StepRegistry } from './types.js';

/**
 * Every scripted step of the runbook with its action. The type lists every runbook step that is not
 * a plain sign-off, so a step added to the runbook without an action does not compile.
 */
export type CompleteStepRegistry = Record<ActionStepId, StepAction>;

export function createStepRegistry(): CompleteStepRegistry {
  const registry: CompleteStepRegistry = {
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
    'prep.replicate': replicateSteps['prep.replicate'],
    'window.pre-verify': replicateSteps['window.pre-verify'],
    'close.archive': archiveExports,
  };
  return withStrategy(registry);
}

/** The actions a run of this plan uses: every built-in step's, and those of the steps the plan adds. */
export function registryFor(plan: Pick<Plan, 'steps'>): StepRegistry {
  return { ...createStepRegistry(), ...customStepActions(plan) };
}

/**
 * Strategy `replicate` (src/steps/replicate): its own prep step, three data steps of the window done
 * its way (drain instead of export, nothing to verify in files, sequences and detach instead of
 * load), and the first step of abort, rollback and close removing whatever replication remains.
 */
function withStrategy(registry: CompleteStepRegistry): CompleteStepRegistry {
  return {
    ...registry,
    'export.tables': byStrategy(registry['export.tables'], replicateSteps.drain),
    'export.verify': byStrategy(registry['export.verify'], replicateSteps.noExport),
    'migrate.load': byStrategy(registry['migrate.load'], replicateSteps.detach),
    'abort.restore-ttl': withReplicationCleanup(registry['abort.restore-ttl']),
    'rollback.freeze-target': withReplicationCleanup(registry['rollback.freeze-target'], { drainReverse: true }),
    'close.restore-ttl': withReplicationCleanup(registry['close.restore-ttl']),
  };
}
