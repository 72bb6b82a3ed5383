import { notifyTargets } from '../../adapters/notify-targets.js';
import type { StepAction } from '../types.js';
import { reachSystems } from './reach-systems.js';

/** prep.preflight: the plan is valid (it was loaded) and every system it names answers. */
export const preflight: StepAction = {
  async run(ctx) {
    const results = await reachSystems(ctx.plan, ctx.planDir, ctx.env);
    // What failed is said once, whole, in the step's error; the notes record what answered.
    for (const result of results) if (result.ok) ctx.note(`ok ${result.system}: ${result.message}`);
    const failed = results.filter((result) => !result.ok);
    if (failed.length) {
      // Not retried by the engine: a person fixes the cause and runs `cutover retry prep.preflight`.
      throw Object.assign(new Error(failed.map((result) => `${result.system}: ${result.message}`).join('; ')), { retryable: false });
    }
    // Notification targets never stop the run; a missing secret is said here, at T-48h, rather than
    // discovered at 3 a.m. when nobody was paged. (`cutover check` also reaches them.)
    const { problems } = notifyTargets(ctx.plan, ctx.env);
    for (const problem of problems) ctx.note(`WARNING notifications ${problem.name}: ${problem.problem}; this target will not be told anything`);
    const warning = problems.length ? `; WARNING: notification target${problems.length === 1 ? '' : 's'} ${problems.map((problem) => problem.name).join(', ')} without ${problems.length === 1 ? 'its secret' : 'their secrets'} (see the notes)` : '';
    return { summary: `all ${results.length} systems reached: ${results.map((result) => result.system).join(', ')}${warning}`, output: { checks: results, ...(problems.length ? { notificationProblems: problems } : {}) } };
  },
  dryRun: (ctx) =>
    `Reach the source (${ctx.plan.source.urlEnv}) and target (${ctx.plan.target.urlEnv}) databases, the ${ctx.plan.dns.provider} DNS provider for ${ctx.plan.dns.zone}, the ${ctx.plan.mail.provider} mail provider, and ${ctx.plan.probes.oldHealth.url}.`,
};
