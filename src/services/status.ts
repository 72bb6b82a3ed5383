import { peekRun } from '../engine/peek.js';
import { buildView, type RunView, type StepView } from '../engine/view.js';
import type { Session } from './session.js';

/** One mark per step status, the same in `cutover status` and the terminal UI. */
export const MARKS: Record<StepView['status'], string> = {
  pending: '·',
  running: '▶',
  waiting: '…',
  done: '✓',
  failed: '✗',
  skipped: '↷',
  unknown: '?',
  rejected: '⊘',
  attention: '!',
};

/** `cutover status`: where the run stands, read without the lock. */
export function runStatus(session: Pick<Session, 'stateDir' | 'plan' | 'clock'>): RunView {
  const { snapshot } = peekRun(session.stateDir, session.plan);
  return buildView(snapshot, session.clock.now(), session.plan.t0.zone);
}
