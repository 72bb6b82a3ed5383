import type { Plan } from '../config/schema.js';
import { PagerDutyTarget } from './notify-pagerduty.js';
import { SlackTarget } from './notify-slack.js';
import type { NotifyTarget } from './notify-types.js';
import { WebhookTarget } from './notify-webhook.js';

export interface TargetProblem {
  name: string;
  problem: string;
}

/** The plan's targets with their secrets from the environment; a target whose secret is missing is a problem, not a crash. */
export function notifyTargets(plan: Plan, env: Record<string, string | undefined>): { targets: NotifyTarget[]; problems: TargetProblem[] } {
  const targets: NotifyTarget[] = [];
  const problems: TargetProblem[] = [];
  for (const target of plan.notifications.targets) {
    const secretEnv = target.kind === 'slack' ? target.webhookUrlEnv : target.kind === 'pagerduty' ? target.routingKeyEnv : target.secretEnv;
    const secret = env[secretEnv]?.trim();
    if (!secret) {
      const what = target.kind === 'slack' ? 'the incoming-webhook URL' : target.kind === 'pagerduty' ? 'the Events API v2 integration key' : 'the shared HMAC secret';
      problems.push({ name: target.name, problem: `${secretEnv} is not set: export ${what} for notification target ${target.name}` });
      continue;
    }
    if (target.kind === 'slack') targets.push(new SlackTarget(target, secret));
    else if (target.kind === 'pagerduty') targets.push(new PagerDutyTarget(target, secret));
    else targets.push(new WebhookTarget(target, secret));
  }
  return { targets, problems };
}
