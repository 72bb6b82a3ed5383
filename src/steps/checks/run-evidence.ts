import type { RunContext } from '../../../machines/machine.js';
import type { Plan } from '../../config/schema.js';
import { ExitError } from '../../engine/errors.js';
import type { JournalEntry } from '../../engine/journal.js';
import { peekRun } from '../../engine/peek.js';
import { loadStoredReconciliations, type StoredReconciliation } from './stored-reconciliations.js';
import { outputsOf } from '../outputs.js';

/** What a command outside the runner reads of a run: without the lock, never driving it. */
export interface RunEvidence {
  runId: string;
  context: RunContext;
  /** Every finished step's output by id, as a step's context has them. */
  outputs: Record<string, unknown>;
  journal: readonly JournalEntry[];
  reconciliations: StoredReconciliation[];
}

export function readRunEvidence(plan: Plan, stateDir: string, needed: string): RunEvidence {
  const { snapshot, journal, started } = peekRun(stateDir, plan);
  if (!started) {
    throw new ExitError(
      `There is no cutover run in ${stateDir}, so ${needed}. Start it with \`cutover run\`, or point --state at the run's state folder.`,
      2,
    );
  }
  const context = snapshot.context as RunContext;
  const outputs = outputsOf(context.steps);
  return { runId: context.runId, context, outputs, journal: journal.entries, reconciliations: loadStoredReconciliations(stateDir, context.runId) };
}
