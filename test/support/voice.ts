/**
 * The defects issue 14 found in what people read, as checks over printed lines: a time with no zone
 * or offset, a doubled word or step id, "1 <plural>", placeholder text. One finding per defect, with
 * the line, so a failing test says exactly what to fix.
 */

/** A clock time ("22:10", "22:10:07") not inside a longer number or time, nor an offset ("-05:00"). */
const TIME = /(?<![\d:.+-])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])/g;
/** What may follow a time: fractions, then Z or an offset ("Z", " -05:00", "-05:00"). */
const ZONED_AFTER = /^(?:\.\d+)?(?:Z| ?[+-]\d{2}:\d{2})/;
/** "between 22:10 and 22:25 -05:00": a range whose end names the offset for both. */
const RANGE_AFTER = /^ and \d{1,2}:\d{2}(?::\d{2})? [+-]\d{2}:\d{2}/;
/** Words, not numbers: "Dec 06 06:00" is a date. */
const DOUBLED_WORD = /\b([a-z]+) \1\b/i;
/** "prep.lower-ttl: prep.lower-ttl: …" */
const DOUBLED_ID = /(?<![\w.-])([\w.-]+): \1:/;
/** "1 batches", "1 source rows": a 1 (not 0.1, 11 or 2,001) before a plural noun. Verbs ending in s, units (ms) and "vs" are not. */
const ONE_PLURAL = /(?<![\d.,])\b1 (?:[a-z-]+ )?([a-z]+s)\b/g;
const NOT_PLURAL_NOUNS = new Set(['is', 'was', 'has', 'as', 'its', 'this', 'plus', 'less', 'across', 'yes', 'us', 'status', 'ms', 'vs']);
const PLACEHOLDERS = ['(dry run)', 'undefined', 'NaN', '[object Object]'];
/** "2026-12-05T03:00:07.500Z": a UTC instant where people read the plan's zone with its offset. */
const UTC_INSTANT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z\b/g;

export function voiceDefects(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    for (const match of line.matchAll(TIME)) {
      const after = line.slice(match.index + match[0].length);
      if (!ZONED_AFTER.test(after) && !RANGE_AFTER.test(after)) found.push(`time without a zone (${match[0]}): ${line}`);
    }
    for (const match of line.matchAll(UTC_INSTANT)) found.push(`UTC instant (${match[0]}): ${line}`);
    const doubled = DOUBLED_WORD.exec(line);
    if (doubled) found.push(`doubled word (${doubled[0]}): ${line}`);
    const doubledId = DOUBLED_ID.exec(line);
    if (doubledId) found.push(`doubled step id (${doubledId[1]}): ${line}`);
    for (const match of line.matchAll(ONE_PLURAL)) {
      if (!NOT_PLURAL_NOUNS.has(match[1]!)) found.push(`plural after 1 (${match[0]}): ${line}`);
    }
    for (const placeholder of PLACEHOLDERS) {
      const at = line.indexOf(placeholder);
      // Whole words only for the bare ones ("undefined" inside a longer word is not a placeholder).
      if (at >= 0 && (/^\W/.test(placeholder) || !/\w/.test(line[at - 1] ?? '') && !/\w/.test(line[at + placeholder.length] ?? ''))) {
        found.push(`placeholder (${placeholder}): ${line}`);
      }
    }
  }
  return found;
}
