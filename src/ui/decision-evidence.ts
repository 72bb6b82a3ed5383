import { evaluateDecision, type Decision } from '../../machines/decision-tree.js';
import type { RunContext } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import type { JournalEntry } from '../engine/journal.js';
import { buildDecisionInputs } from '../steps/checks/decision-inputs.js';

/** A decision to show, where it came from, and what the UI could not find. */
export interface DecisionReading {
  decision?: Decision;
  /** Evidence the tree refused (e.g. a negative count in a step output). */
  error?: string;
  /** Where the verdict comes from, in words. */
  source: string;
}

export function isDecision(value: unknown): value is Decision {
  const candidate = value as Partial<Decision> | undefined;
  return typeof candidate?.verdict === 'string' && Array.isArray(candidate.path) && typeof candidate.summary === 'string';
}

/**
 * What the decision panel shows: a decision step's own evaluation when it has one, otherwise the
 * tree evaluated here on the recorded evidence (nothing is sent, nothing is stored).
 */
export function decisionFromRun(context: RunContext, plan: Plan, stepId: string | undefined, journal: readonly JournalEntry[]): DecisionReading {
  const own = stepId ? context.steps[stepId]?.output : undefined;
  if (stepId && isDecision(own)) return { decision: own, source: `${stepId}'s evaluation` };
  // A step that recorded only a verdict: say so, rather than let the walk below pass for its reasons.
  const verdict = (own as { verdict?: unknown } | undefined)?.verdict;
  const recorded = typeof verdict === 'string' ? `${stepId} recorded ${verdict.toUpperCase()} without its reasons; below, the tree ` : '';
  try {
    // The same evidence `cutover decide` and review.decision use: step outputs, journaled
    // reconciliations and human assertions.
    const outputs = Object.fromEntries(Object.entries(context.steps).flatMap(([id, record]) => (record.output === undefined ? [] : [[id, record.output]])));
    return { decision: evaluateDecision(buildDecisionInputs(outputs, journal, plan), plan.thresholds), source: `${recorded}evaluated now on the recorded evidence` };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), source: 'the recorded evidence' };
  }
}
