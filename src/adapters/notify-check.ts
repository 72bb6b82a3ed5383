import type { Plan } from '../config/schema.js';
import { notifyTargets } from './notify-targets.js';
import type { RetryOptions } from './retry.js';

/** `cutover check` should answer in seconds: two attempts, short waits. */
const CHECK_RETRY: RetryOptions = { attempts: 2, baseDelayMs: 500, maxRetryAfterMs: 10_000 };

/**
 * Reach every notification target without writing anything: each gets a HEAD of its URL, never a
 * POST (an empty Slack payload, a PagerDuty resolve or a signed ping could each still show somewhere).
 */
export async function checkNotifications(plan: Plan, env: Record<string, string | undefined>, retry: RetryOptions = CHECK_RETRY): Promise<{ system: string; ok: boolean; message: string }[]> {
  const { targets, problems } = notifyTargets(plan, env);
  const results = problems.map((problem) => ({ system: `notifications ${problem.name}`, ok: false, message: problem.problem }));
  for (const target of targets) {
    const reach = await target.reach({ ...retry, signal: AbortSignal.timeout(20_000) });
    results.push({ system: `notifications ${target.name} (${target.kind})`, ...reach });
  }
  return results;
}
