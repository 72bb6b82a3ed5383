import { DateTime } from 'luxon';

/**
 * The two ways a time is written: for people, in the plan's zone with its offset named (a lead in
 * New York and a DBA in Lisbon read the same line the same way); for machines, ISO-8601 with that
 * offset. Both take epoch ms or an ISO string as the journal stores it.
 */

function toDateTime(time: number | string, zone: string): DateTime {
  return typeof time === 'number' ? DateTime.fromMillis(time, { zone }) : DateTime.fromISO(time, { zone });
}

/** "Dec 05 22:00:07 -05:00" */
export function peopleTime(time: number | string, zone: string): string {
  return toDateTime(time, zone).toFormat('LLL dd HH:mm:ss ZZ');
}

/** `peopleTime` to the millisecond, for instants a measurement is taken between ("Dec 05 22:00:07.295 -05:00"). */
export function peopleInstant(time: number | string, zone: string): string {
  return toDateTime(time, zone).toFormat('LLL dd HH:mm:ss.SSS ZZ');
}

/** "2026-12-05T22:00:07-05:00" (milliseconds only when there are some). */
export function isoTime(time: number | string, zone: string): string {
  return toDateTime(time, zone).toISO({ suppressMilliseconds: true }) ?? String(time);
}

const UTC_INSTANT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z\b/g;

/**
 * Rewrite the UTC instants inside a message ("Waiting until 2026-12-05T03:00:00Z") as people's time
 * in the plan's zone. For text made elsewhere (engine headlines, adapter errors) shown on a page or
 * in a chat message, where a bare UTC time would be misread.
 */
export function localizeInstants(text: string, zone: string): string {
  return text.replace(UTC_INSTANT, (instant) => peopleTime(instant, zone));
}

/** The fields of the run's records and views that hold a time as epoch ms. */
const TIME_KEYS = new Set(['at', 'now', 't0', 'switchedAt', 'opensAt', 'plannedAt', 'startedAt', 'finishedAt', 'until']);

/** A JSON.stringify replacer writing those times as ISO-8601 with the plan's offset. */
export function isoTimes(zone: string): (key: string, value: unknown) => unknown {
  return (key, value) => (TIME_KEYS.has(key) && typeof value === 'number' ? isoTime(value, zone) : value);
}
