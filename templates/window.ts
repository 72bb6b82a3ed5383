import type { DateTime } from 'luxon';
import { parseDuration } from '../machines/schedule.js';
import { t0Of } from '../src/config/settings.js';
import type { Plan } from '../src/config/schema.js';

/**
 * The maintenance window as people read it: in the plan's zone, with the zone's abbreviation and UTC
 * offset named, because a notice that says "10 PM" is read in the reader's own zone. Start and end are
 * each formatted with their own offset: a window across a DST change starts in one and ends in the other.
 * T0 is resolved by the same function the schedule uses, so a notice and the timeline never disagree.
 */

const MINUTE = 60_000;

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
  const start = t0Of(plan as Plan);
  return { start, end: start.plus({ milliseconds: parseDuration(plan.windowDuration) }) };
}
