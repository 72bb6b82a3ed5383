import { notifyTargets } from '../adapters/notify-targets.js';
import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
import { Journal } from '../engine/journal.js';
import type { ReconcileRun } from '../steps/checks/reconcile-run.js';
import { eventsFromEntry } from './notify-events.js';
import { Notifier, type NotifierOptions, type RunSource } from './notifier.js';

export interface NotifySession {
  plan: Plan;
  stateDir: string;
  clock: Clock;
  env: Record<string, string | undefined>;
}

/**
 * The notifier for a driving runner, or none when the plan has no targets. A target whose secret is
 * not in the environment is left out here; `cutover check` names it.
 */
export function notifierFor(session: NotifySession, run: RunSource, extra: Pick<NotifierOptions, 'retry' | 'onDelivery' | 'startAfter'> = {}): Notifier | undefined {
  const { targets } = notifyTargets(session.plan, session.env);
  if (targets.length === 0) return undefined;
  return Notifier.attach({ stateDir: session.stateDir, plan: session.plan, targets, clock: session.clock, env: session.env, ...extra }, run);
}

/**
 * `cutover reconcile` from cron: nobody drives the run, so the drift is told from here. With its
 * journal line written, the line is the event (a driver started later finds it already sent); when a
 * runner held the lock and the line was skipped, the event is keyed by the reconciliation's own time.
 */
export function notifyDrift(session: NotifySession, run: Pick<ReconcileRun, 'runId' | 'journal' | 'summary' | 'attention' | 'result'>): void {
  if (run.journal.appended) {
    notifierFor(session, { runId: run.runId, journal: Journal.open(session.stateDir) }, { startAfter: run.journal.seq - 1 });
    return;
  }
  if (!run.attention) return;
  const notifier = notifierFor(session, { runId: run.runId });
  const facts = { runId: run.runId, plan: session.plan.name, environment: session.plan.environment, zone: session.plan.t0.zone };
  const line = { seq: 0, at: run.result.checkedAt, type: 'reconcile.summary', clean: false, summary: run.summary, attention: run.attention };
  for (const event of eventsFromEntry(line, facts)) notifier?.notify({ ...event, key: `reconcile:${run.result.checkedAt}` });
}
