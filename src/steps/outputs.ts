/**
 * Step outputs, read through one typed accessor: `output(ctx.outputs, 'freeze.snapshot')` is the
 * cutover point, typed once, wherever it is read (a step, a service, the rehearsal report).
 *
 * `StepOutputs` maps a step id to what that step records as its output. Each step module that
 * produces an output other code reads declares its entry beside the code that builds it:
 *
 *   declare module '../outputs.js' { interface StepOutputs { 'freeze.snapshot': CutoverPoint } }
 *
 * The interface is merged from the producers so that this module imports none of them: readers and
 * producers both import this one, and no import circle forms (a step that reads another's output is
 * often itself read by a third).
 */
import type { StepId } from '../../machines/runbook.js';

export interface StepOutputs {}

/** Outputs by step id: what the runner gives a step, or what a stored run holds. */
export type OutputsById = Readonly<Record<string, unknown>>;

/**
 * The recorded output of a step, typed by the step that produced it; undefined until it finished.
 * The id must be a runbook step whose output is declared in `StepOutputs`.
 */
export function output<K extends keyof StepOutputs & StepId>(outputs: OutputsById, id: K): StepOutputs[K] | undefined {
  return outputs[id] as StepOutputs[K] | undefined;
}

/** A journal line as far as a step's recorded result goes. */
type JournalLine = { type: string; stepId?: unknown; result?: unknown };

/**
 * The output a step's last finished run recorded in the journal, typed like `output`: for readers
 * that trust the journal's hash chain over the state file (export.tables' anchor).
 */
export function journaledOutput<K extends keyof StepOutputs & StepId>(entries: readonly JournalLine[], id: K): StepOutputs[K] | undefined {
  const finished = entries.findLast((entry) => entry.type === 'step.finished' && entry.stepId === id);
  return (finished?.result as { output?: StepOutputs[K] } | undefined)?.output;
}

/** The outputs of the steps that finished so far, from a run's step records. */
export function outputsOf(steps: Readonly<Record<string, { output?: unknown }>>): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const [id, record] of Object.entries(steps)) if (record.output !== undefined) outputs[id] = record.output;
  return outputs;
}
