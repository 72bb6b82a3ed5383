import { describeRunner, peekRun, type RunnerStatus } from '../engine/peek.js';
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

/**
 * `cutover status`: where the run stands, read without the lock (the journal replayed over the
 * stored state), and who drives it now.
 */
export function runStatus(session: Pick<Session, 'stateDir' | 'plan' | 'clock'>): { view: RunView; runner?: RunnerStatus } {
  const { snapshot, started } = peekRun(session.stateDir, session.plan);
  const view = buildView(snapshot, session.clock.now(), session.plan.t0.zone);
  const runner = started ? describeRunner(session.stateDir, snapshot.status === 'done') : undefined;
  return { view, ...(runner ? { runner } : {}) };
}
