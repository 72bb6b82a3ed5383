import { peekRun } from '../engine/peek.js';
import { renderReport } from '../engine/report.js';
import { buildView, type RunView } from '../engine/view.js';
import type { Session } from './session.js';

/** `cutover report`: planned vs actual per step, sign-offs, decisions, reconciliations (Markdown). */
export function runReport(session: Pick<Session, 'stateDir' | 'plan' | 'clock'>): string {
  const { snapshot, journal } = peekRun(session.stateDir, session.plan);
  return renderReport(session.plan, buildView(snapshot, session.clock.now(), session.plan.t0.zone), journal.entries);
}

/**
 * `cutover report --json`: the same run as data: per step planned and actual times, how late it
 * started (`slipMs`), sign-offs, skips, confirmations; where the run stands. Times are epoch ms here;
 * the command writes them as ISO-8601 with the plan's offset (isoTimes).
 */
export function runReportData(session: Pick<Session, 'stateDir' | 'plan' | 'clock'>): Omit<RunView, 'phases'> & { phases: Array<Omit<RunView['phases'][number], 'steps'> & { steps: Array<RunView['phases'][number]['steps'][number] & { slipMs?: number }> }> } {
  const { snapshot } = peekRun(session.stateDir, session.plan);
  const view = buildView(snapshot, session.clock.now(), session.plan.t0.zone);
  return {
    ...view,
    phases: view.phases.map((phase) => ({
      ...phase,
      steps: phase.steps.map((step) => ({
        ...step,
        ...(step.plannedAt !== undefined && step.startedAt !== undefined ? { slipMs: step.startedAt - step.plannedAt } : {}),
      })),
    })),
  };
}
