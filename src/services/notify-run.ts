import { notifyTargets } from '../adapters/notify-targets.js';
import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
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
