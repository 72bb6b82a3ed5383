import { DateTime } from 'luxon';
import type { RunSettings } from '../../machines/machine.js';
import { parseDuration } from '../../machines/schedule.js';
import { customSignoffRule, runbookOfPlan } from './custom-steps.js';
import { approverNames } from './people.js';
import type { Plan } from './schema.js';

/** The phrase typed to confirm a rollback. */
export function rollbackPhrase(plan: Plan): string {
  return `rollback ${plan.dns.zone}`;
}

/**
 * T0 as an instant. A wall-clock time that does not exist in the zone (spring-forward) or exists twice
 * (fall-back) without an explicit offset is an error, never a silent shift. Returns the problem as
 * text so the plan loader can name the path.
 */
export function resolveT0(t0: Plan['t0']): { ok: true; at: DateTime } | { ok: false; path: string; message: string } {
  if (!DateTime.local().setZone(t0.zone).isValid) {
    return { ok: false, path: 't0.zone', message: `unknown time zone "${t0.zone}" (expected an IANA zone such as America/New_York)` };
  }
  const local = DateTime.fromISO(t0.at, { zone: t0.zone });
  if (!local.isValid) return { ok: false, path: 't0.at', message: `not a valid date and time: ${t0.at}` };
  const wall = t0.at.length === 16 ? `${t0.at}:00` : t0.at;
  if (local.toFormat("yyyy-MM-dd'T'HH:mm:ss") !== wall) {
    return {
      ok: false,
      path: 't0.at',
      message: `${t0.at} does not exist in ${t0.zone} (the clocks jump forward over it); choose a time outside the gap, e.g. ${local.toFormat("yyyy-MM-dd'T'HH:mm")}`,
    };
  }
  const candidates = local.getPossibleOffsets();
  if (t0.offset) {
    const chosen = candidates.find((candidate) => candidate.toFormat('ZZ') === t0.offset);
    if (!chosen) {
      return {
        ok: false,
        path: 't0.offset',
        message: `${t0.at} in ${t0.zone} has offset ${candidates.map((c) => c.toFormat('ZZ')).join(' or ')}, not ${t0.offset}`,
      };
    }
    return { ok: true, at: chosen };
  }
  if (candidates.length > 1) {
    return {
      ok: false,
      path: 't0.offset',
      message: `${t0.at} happens twice in ${t0.zone} (the clocks fall back); add offset: ${candidates
        .map((c) => `"${c.toFormat('ZZ')}" (${c.toFormat('ZZZZ')})`)
        .join(' or ')} to say which`,
    };
  }
  return { ok: true, at: local };
}

export function t0Of(plan: Plan): DateTime {
  const resolved = resolveT0(plan.t0);
  if (!resolved.ok) throw new Error(`${resolved.path}: ${resolved.message}`);
  return resolved.at;
}

export function settingsFromPlan(plan: Plan): RunSettings {
  const signoff: RunSettings['signoff'] = {};
  const explicit = plan.approvers.steps;
  // Every step may need a person (a breached check stops for a sign-off): default approvers for all.
  for (const step of runbookOfPlan(plan).allSteps()) {
    // A sign-off the plan adds may name its approvers on the step itself.
    const rule = explicit[step.id] ?? customSignoffRule(plan, step.id);
    signoff[step.id] = { approvers: approverNames(plan, rule?.approvers ?? plan.approvers.default), quorum: rule?.quorum ?? 1 };
  }
  return {
    t0: t0Of(plan).toMillis(),
    cadences: {
      hypercare: parseDuration(plan.cadences.hypercare),
      stabilize: parseDuration(plan.cadences.stabilize),
      reconcile: parseDuration(plan.cadences.reconcile),
      daily: parseDuration(plan.cadences.daily),
    },
    signoff,
    phrases: { zone: plan.dns.zone, rollback: rollbackPhrase(plan) },
  };
}
