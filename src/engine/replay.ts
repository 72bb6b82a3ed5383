import type { StepOutcome } from '../../machines/machine.js';
import type { JournalEntry } from './journal.js';

/**
 * What an attempt the journal shows ended gives on replay: a finished one its recorded outcome, a
 * failed one (any other type) its error, thrown. The journal is the record; the step is not run again.
 */
export function replayEnded(ended: JournalEntry): StepOutcome {
  if (ended.type === 'step.finished') {
    const recorded = ended.result as Omit<StepOutcome, 'startedAt' | 'finishedAt'>;
    return { ...recorded, startedAt: Number(ended.startedAt), finishedAt: Date.parse(ended.at) };
  }
  const failure = new Error(String(ended.error));
  failure.name = String(ended.errorName ?? 'Error');
  throw failure;
}
