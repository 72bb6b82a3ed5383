import { DateTime } from 'luxon';

/** Text helpers for the terminal UI. Times are always shown with their zone named. */

export function formatAt(ms: number, zone: string, format = 'LLL dd HH:mm'): string {
  return DateTime.fromMillis(ms, { zone }).toFormat(format);
}

/** "EST", "CET", or "GMT+5:30" where a zone has no abbreviation. */
export function zoneAbbreviation(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat('ZZZZ');
}

/** The operator's own zone, as the process sees it (TZ or the system setting). */
export function systemZone(): string {
  return DateTime.local().zoneName ?? 'UTC';
}

/**
 * An actual time next to its planned one, short enough for the timeline: the clock time and the slip
 * ("22:03 +3m", "22:00 -2h 05m"; the slip carries the day when it is a day or more). Without a
 * planned time (branch phases) the date is shown instead.
 */
export function formatActual(actual: number, planned: number | undefined, zone: string): string {
  if (planned === undefined) return formatAt(actual, zone);
  const time = formatAt(actual, zone, 'HH:mm');
  const shift = Math.round((actual - planned) / 60_000);
  if (shift === 0) return time;
  return `${time} ${shift > 0 ? '+' : '-'}${formatSpan(Math.abs(shift) * 60_000)}`;
}

/** "45s", "12m", "3h 05m", "2d 4h". */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 ? ` ${String(seconds % 60).padStart(2, '0')}s` : ''}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A bar of `width` cells; partial cells are rounded down so 100 % shows only when done. */
export function progressBar(fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(clamped * width);
  return '█'.repeat(full) + '░'.repeat(Math.max(0, width - full));
}

/** Cut to `width` characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, width).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}

/** Exactly `width` characters: truncated or padded. */
export function fit(text: string, width: number): string {
  const cut = truncate(text, width);
  return cut + ' '.repeat(Math.max(0, width - [...cut].length));
}

/** `── Title ─────` across the width: a section heading that costs one row, not two like a border. */
export function rule(title: string, width: number, right = ''): string {
  const left = `── ${title} `;
  const tail = right ? ` ${right} ──` : '';
  const fill = width - [...left].length - [...tail].length;
  if (fill < 2) return truncate(`${left}${tail}`, width);
  return `${left}${'─'.repeat(fill)}${tail}`;
}

/**
 * Word-wrap into at most `maxLines` lines of `width` (Infinity: all of it); the last line gets an
 * ellipsis if text is left. A word wider than the line (a long URL) is broken, not cut.
 */
export function wrapLines(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (let word of paragraph.split(/\s+/).filter(Boolean)) {
      while ([...word].length > width && width > 0) {
        if (line) lines.push(line);
        lines.push([...word].slice(0, width).join(''));
        word = [...word].slice(width).join('');
        line = '';
      }
      if (line && [...line].length + 1 + [...word].length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  if (lines.length <= maxLines) return lines.map((line) => truncate(line, width));
  // What does not fit goes on the last line, cut with an ellipsis (a paragraph break costs nothing).
  const kept = lines.slice(0, maxLines - 1).map((line) => truncate(line, width));
  kept.push(truncate(lines.slice(maxLines - 1).join(' '), width));
  return kept;
}
