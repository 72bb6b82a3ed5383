import { missingState, type CutoverMachine } from '../../machines/machine.js';
import { ExitError, EXIT } from './errors.js';
import { journalPath, type Journal } from './journal.js';
import { storeAt } from './run-store.js';
import { planFingerprint, statePath, type StoredState } from './state-store.js';

/**
 * The run's identity binds the state file and the journal: both name the run, the state names the
 * plan and the journal line it was saved after. Anything else is refused with what to do, because
 * driving from a mismatched pair repeats or skips real work (a new run replaying an old run's
 * "finished" lines, a state ahead of a truncated journal).
 */

/** Journal lines that record no work: a journal holding only these may be adopted by a new state. */
const HOUSEKEEPING = new Set(['run.created', 'lock.taken-over', 'lock.released', 'journal.recovered']);

export interface Binding {
  /** The run id the journal names (run.created), if any. */
  journalRunId?: string;
}

export function checkBinding(stateDir: string, stored: StoredState | undefined, journal: Journal, plan: { name: string; environment: string }): Binding {
  const created = journal.entries.find((entry) => entry.type === 'run.created');
  const journalRunId = typeof created?.runId === 'string' ? created.runId : undefined;
  // Team mode: the journal and state are rows of the state database, not files of the folder.
  const store = storeAt(stateDir);
  const journalFile = store ? `(events of ${store.where})` : journalPath(stateDir);
  const stateFile = store ? `(snapshot in ${store.where})` : statePath(stateDir);
  if (!stored) {
    const work = journal.entries.find((entry) => !HOUSEKEEPING.has(entry.type));
    if (work && (journalRunId || work.type.startsWith('step.') || work.type === 'event')) {
      throw new ExitError(
        `${journalFile} holds the record of ${journalRunId ? `run ${journalRunId}` : 'an earlier run'} (${journal.entries.length} lines) but there is no state file ${stateFile}. ` +
          'A new run does not reuse another run\'s journal. Restore state.json from a backup to resume that run, ' +
          'or move journal.ndjson (and that run\'s exports) out of the state folder to start a new one.',
        EXIT.usage,
      );
    }
    return journalRunId ? { journalRunId } : {};
  }
  if (journal.entries.length === 0) {
    throw new ExitError(
      `The journal ${journalFile} is missing or empty, but the state file says run ${stored.runId} has begun. ` +
        'The journal is the record the run resumes from: restore journal.ndjson from a backup. Do not start over in this folder.',
      EXIT.usage,
    );
  }
  if (journalRunId && journalRunId !== stored.runId) {
    throw new ExitError(
      `The journal ${journalFile} is the record of run ${journalRunId}, but the state file is run ${stored.runId}. ` +
        'They must belong to the same run: restore the matching journal.ndjson (or state.json) from a backup.',
      EXIT.usage,
    );
  }
  if (stored.planFingerprint && stored.planFingerprint !== planFingerprint(plan)) {
    throw new ExitError(
      `The state folder ${stateDir} holds run ${stored.runId} of another plan (not ${plan.name}, ${plan.environment}). ` +
        'Use the plan that run belongs to, or another state folder (--state DIR) for this plan.',
      EXIT.usage,
    );
  }
  if (stored.journal) {
    if (journal.lastSeq < stored.journal.seq) {
      throw new ExitError(
        `The journal ${journalFile} is shorter than the state has seen: it ends at line ${journal.lastSeq}, the state was saved after line ${stored.journal.seq}. ` +
          'Lines were removed (truncated or restored from an older copy). Restore the full journal.ndjson from a backup before resuming.',
        EXIT.usage,
      );
    }
    if (journal.hashAt(stored.journal.seq) !== stored.journal.hash) {
      throw new ExitError(
        `The journal ${journalFile} does not match the state: line ${stored.journal.seq} is not the line the state was saved after. ` +
          'It is another run\'s journal, or was rewritten. Restore the matching journal.ndjson from a backup.',
        EXIT.usage,
      );
    }
  }
  return journalRunId ? { journalRunId } : {};
}

/**
 * The stored run stands in a state the plan's machine has: a step the plan added, then removed while
 * the run was at it, is refused with what to do (restoring it would fail inside XState).
 */
export function checkRestorable(machine: CutoverMachine, stored: StoredState | undefined): void {
  const value = (stored?.machine as { value?: unknown } | undefined)?.value;
  const missing = missingState(machine, value);
  if (missing === undefined) return;
  // State keys are step ids with dots as underscores; no step id has an underscore.
  const stepId = missing.replaceAll('_', '.');
  throw new ExitError(
    `The run stands at ${stepId}, which the plan no longer has. Put the step back in the plan's steps to resume there ` +
      `(then \`cutover skip ${stepId} --reason TEXT\` if it is no longer wanted).`,
    EXIT.usage,
  );
}
