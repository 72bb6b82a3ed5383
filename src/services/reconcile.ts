import { runReconcile, type ReconcileRun } from '../steps/checks/reconcile-run.js';
import type { Session } from './session.js';

/**
 * `cutover reconcile` (cron, systemd timers): compare source and target against the run's cutover
 * point, store the result, journal a summary, write the Prometheus textfile when asked. The work is
 * `runReconcile`, shared with the watch.reconcile step's evidence.
 */
export function reconcileNow(session: Pick<Session, 'plan' | 'planDir' | 'stateDir' | 'env' | 'clock'>, options: { prometheusTextfile?: string } = {}): Promise<ReconcileRun> {
  return runReconcile(
    { plan: session.plan, stateDir: session.stateDir, env: session.env, clock: session.clock, planDir: session.planDir },
    options.prometheusTextfile ? { prometheusTextfile: options.prometheusTextfile } : {},
  );
}
