import { describePropagation, waitForPropagation, type PropagationExpectation } from '../../adapters/propagation.js';
import { ExternalError } from '../../adapters/retry.js';
import { parseDuration } from '../../../machines/schedule.js';
import type { StepAction, StepContext } from '../types.js';

/**
 * dns.propagation: every configured resolver answers the new values.
 * final.ttl-propagated: every resolver's answer carries the low TTL. A caching resolver reports the
 * TTL left on its cached copy, so "≤ cutover TTL" means no resolver can keep serving the old answer
 * longer than the cutover TTL after the switch.
 */

/** Pause between rounds of queries. */
const POLL_INTERVAL_MS = 15_000;

function expectationsFor(ctx: StepContext, kind: 'values' | 'ttl'): PropagationExpectation[] {
  return ctx.plan.dns.records.map((record) =>
    kind === 'values'
      ? { name: record.name, type: record.type, values: [record.newValue] }
      : { name: record.name, type: record.type, maxTtl: record.cutoverTtl },
  );
}

function propagationStep(kind: 'values' | 'ttl'): StepAction {
  const what = kind === 'values' ? 'answer the new values' : 'answer with the cutover TTL';
  return {
    async run(ctx) {
      const { resolvers } = ctx.plan.dns;
      if (resolvers.length === 0) {
        return { summary: `no resolvers configured (dns.resolvers): nothing to wait for`, output: { ok: true, polls: 0, observations: [] } };
      }
      const timeoutMs = parseDuration(ctx.plan.dns.propagationTimeout);
      const expectations = expectationsFor(ctx, kind);
      const report = await waitForPropagation({
        resolvers,
        expectations,
        clock: ctx.clock,
        timeoutMs,
        intervalMs: POLL_INTERVAL_MS,
        signal: ctx.signal,
        onPoll: (poll) =>
          ctx.progress({
            label: `resolvers that ${what}`,
            done: resolvers.filter((resolver) => poll.observations.every((o) => o.resolver !== resolver || o.ok)).length,
            total: resolvers.length,
            unit: 'resolvers',
          }),
      });
      if (!report.ok) {
        throw new ExternalError(
          'DNS',
          `after ${ctx.plan.dns.propagationTimeout}, some resolvers still do not ${what}:\n${describePropagation(report)}`,
        );
      }
      return {
        summary: `${resolvers.length === 1 ? `the resolver ${what.replace(/^answer/, 'answers')}` : `all ${resolvers.length} resolvers ${what}`} (${report.polls} round${report.polls === 1 ? '' : 's'} of queries)`,
        output: report,
      };
    },
    dryRun(ctx) {
      const { resolvers } = ctx.plan.dns;
      if (resolvers.length === 0) return 'No resolvers configured (dns.resolvers): nothing to wait for.';
      const records = ctx.plan.dns.records
        .map((record) => `  ${record.type} ${record.name} ${kind === 'values' ? `= ${record.newValue}` : `TTL ≤ ${record.cutoverTtl}`}`)
        .join('\n');
      return `Ask ${resolvers.join(', ')} every ${POLL_INTERVAL_MS / 1000} s, for up to ${ctx.plan.dns.propagationTimeout}, until all of them ${what}:\n${records}`;
    },
  };
}

export const waitForNewValues = propagationStep('values');
export const waitForLowTtl = propagationStep('ttl');
