import { DateTime, IANAZone } from 'luxon';
import type { Plan } from '../src/config/schema.js';

/**
 * The maintenance window as people read it: in the plan's zone, with the zone's abbreviation and UTC
 * offset named, because a notice that says "10 PM" is read in the reader's own zone. Start and end are
 * each formatted with their own offset: a window across a DST change starts in one and ends in the other.
 */

const MINUTE = 60_000;

export class PlanTimeError extends Error {
  override readonly name = 'PlanTimeError';
}

/**
 * T0 as an instant. A wall-clock time that does not exist (spring forward) is an error; one that
 * happens twice (fall back) needs `t0.offset` to say which. Never a silent shift.
 */
export function resolveT0(t0: Plan['t0']): DateTime {
  const zone = IANAZone.create(t0.zone);
  if (!zone.isValid) throw new PlanTimeError(`t0.zone: ${t0.zone} is not an IANA time zone (e.g. America/New_York)`);
  const wall = DateTime.fromISO(t0.at, { zone: 'utc' });
  if (!wall.isValid) throw new PlanTimeError(`t0.at: ${t0.at} is not a valid date and time`);
  const wallMs = wall.toMillis();
  // The offset in force near the wall time, a day either side, gives every instant that could show it.
  const candidates = new Set<number>();
  for (const near of [wallMs - 86_400_000, wallMs, wallMs + 86_400_000]) {
    const offset = zone.offset(near);
    const instant = wallMs - offset * MINUTE;
    if (zone.offset(instant) === offset) candidates.add(instant);
  }
  const instants = [...candidates].sort((a, b) => a - b);
  if (instants.length === 0) {
    throw new PlanTimeError(`t0.at: ${t0.at} does not exist in ${t0.zone} (the clocks skip it when daylight saving starts); choose another time`);
  }
  if (instants.length > 1 || t0.offset) {
    const offsets = instants.map((instant) => DateTime.fromMillis(instant, { zone }).toFormat('ZZ'));
    const chosen = t0.offset ? instants.find((_, index) => offsets[index] === t0.offset) : undefined;
    if (chosen === undefined) {
      throw new PlanTimeError(
        instants.length > 1
          ? `t0.at: ${t0.at} happens twice in ${t0.zone} (the clocks go back); set t0.offset to ${offsets.join(' or ')} to choose`
          : `t0.offset: ${t0.offset} does not apply to ${t0.at} in ${t0.zone}, whose offset then is ${offsets[0]}`,
      );
    }
    return DateTime.fromMillis(chosen, { zone });
  }
  return DateTime.fromMillis(instants[0] as number, { zone });
}

const UNIT_MS = { s: 1_000, m: MINUTE, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) throw new PlanTimeError(`${text} is not a duration such as 150m or 2h`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** 150 minutes → "2 hours 30 minutes". */
export function describeDuration(ms: number): string {
  const minutes = Math.round(ms / MINUTE);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const parts: string[] = [];
  if (hours) parts.push(`${hours} hour${hours === 1 ? '' : 's'}`);
  if (rest || !hours) parts.push(`${rest} minute${rest === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** "Saturday, December 5, 2026 at 10:00 PM EST (UTC-05:00)". English notices, so an English locale. */
export function formatInstant(at: DateTime): string {
  return at.setLocale('en-US').toFormat("cccc, LLLL d, yyyy 'at' h:mm a ZZZZ '(UTC'ZZ')'");
}

export interface MaintenanceWindow {
  start: DateTime;
  end: DateTime;
}

export function maintenanceWindow(plan: Pick<Plan, 't0' | 'windowDuration'>): MaintenanceWindow {
  const start = resolveT0(plan.t0);
  return { start, end: start.plus({ milliseconds: durationMs(plan.windowDuration) }) };
}
