import { peekRun } from '../engine/peek.js';
import { renderReport } from '../engine/report.js';
import { buildView } from '../engine/view.js';
import type { Session } from './session.js';

/** `cutover report`: planned vs actual per step, sign-offs, decisions, reconciliations (Markdown). */
export function runReport(session: Pick<Session, 'stateDir' | 'plan' | 'clock'>): string {
  const { snapshot, journal } = peekRun(session.stateDir, session.plan);
  return renderReport(session.plan, buildView(snapshot, session.clock.now(), session.plan.t0.zone), journal.entries);
}
