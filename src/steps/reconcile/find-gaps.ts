import type { TableSummary } from './compare-buckets.js';

/**
 * Ingestion gaps after the switch, from facts the bucket pass computed in SQL (no second scan).
 *
 * After the cutover point an ingestion stream is binned at a width no larger than the gap threshold,
 * with each bin's first and last timestamp. A silence longer than the threshold cannot fit inside a
 * bin, so it always runs from one bin's last row to a later bin's first row: the pass returns those
 * silences between consecutive bins, and each group's first and last row after the switch for the
 * silences at either end.
 *
 * "Active" group (e.g. sensor): it sent a row within one gap threshold before the cutover point (it
 * was reporting when the source was frozen), or it sent anything to the target after the switch. A
 * sensor that had already gone quiet before the freeze is not the cutover's doing and is not reported.
 * The maintenance window itself (freeze → switch) is not a gap: checking starts at the switch.
 */

export interface GapWindow {
  switchedMs: number;
  nowMs: number;
  /** The plan's readings gap, in ms: a silence longer than this (strictly) is a gap. */
  gapMs: number;
}

export interface FoundGap {
  groups: (string | null)[];
  fromMs: number;
  toMs: number;
  /** Still silent at `now`. */
  ongoing: boolean;
}

type GapFacts = Pick<TableSummary, 'activeAtCut' | 'spans' | 'silences'>;

/** Gaps of every active group: `source` says who was active at the freeze, `target` what came after. */
export function findGaps(source: GapFacts, target: GapFacts, window: GapWindow): FoundGap[] {
  const { switchedMs, nowMs, gapMs } = window;
  const active = new Map<string, (string | null)[]>();
  for (const groups of source.activeAtCut) active.set(JSON.stringify(groups), groups);
  const spans = new Map(target.spans.map((span) => [JSON.stringify(span.groups), span]));
  for (const span of target.spans) active.set(JSON.stringify(span.groups), span.groups);

  const gaps: FoundGap[] = target.silences
    .filter((silence) => active.has(JSON.stringify(silence.groups)))
    .map((silence) => ({ ...silence, ongoing: false }));
  for (const [key, groups] of active) {
    const span = spans.get(key);
    if (!span) {
      if (nowMs - switchedMs > gapMs) gaps.push({ groups, fromMs: switchedMs, toMs: nowMs, ongoing: true });
      continue;
    }
    // A first bin that straddles the switch holds its first post-switch row less than one bin width
    // (≤ the threshold) after the switch: no gap can start there.
    if (span.firstMs >= switchedMs && span.firstMs - switchedMs > gapMs) {
      gaps.push({ groups, fromMs: switchedMs, toMs: span.firstMs, ongoing: false });
    }
    if (nowMs - span.lastMs > gapMs) gaps.push({ groups, fromMs: span.lastMs, toMs: nowMs, ongoing: true });
  }
  return gaps.sort((a, b) => a.fromMs - b.fromMs || JSON.stringify(a.groups).localeCompare(JSON.stringify(b.groups)));
}
