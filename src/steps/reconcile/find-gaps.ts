import type { BucketRow } from './compare-buckets.js';

/**
 * Ingestion gaps after the switch, from the bucket pass alone (no second scan).
 *
 * After the cutover point an ingestion stream is binned at a width no larger than the gap threshold,
 * with each bin's first and last timestamp. A silence longer than the threshold cannot fit inside a
 * bin, so it always runs from one bin's last row to a later bin's first row: consecutive bin edges
 * give every gap exactly.
 *
 * "Active" group (e.g. sensor): it sent a row within one gap threshold before the cutover point (it
 * was reporting when the source was frozen), or it sent anything to the target after the switch. A
 * sensor that had already gone quiet before the freeze is not the cutover's doing and is not reported.
 * The maintenance window itself (freeze → switch) is not a gap: checking starts at the switch.
 */

export interface GapWindow {
  cutoverMs: number;
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

export function findGaps(source: BucketRow[], target: BucketRow[], window: GapWindow): FoundGap[] {
  const { cutoverMs, switchedMs, nowMs, gapMs } = window;
  const groupsByKey = new Map<string, (string | null)[]>();
  const active = new Set<string>();
  for (const bucket of source) {
    if (bucket.period === 'before' && bucket.lastMs !== undefined && bucket.lastMs >= cutoverMs - gapMs) {
      const key = JSON.stringify(bucket.groups);
      active.add(key);
      groupsByKey.set(key, bucket.groups);
    }
  }
  const binsByGroup = new Map<string, BucketRow[]>();
  for (const bin of target) {
    if (bin.period !== 'after' || bin.lastMs === undefined || bin.firstMs === undefined || bin.lastMs < switchedMs) continue;
    const key = JSON.stringify(bin.groups);
    active.add(key);
    groupsByKey.set(key, bin.groups);
    const bins = binsByGroup.get(key) ?? [];
    bins.push(bin);
    binsByGroup.set(key, bins);
  }
  const gaps: FoundGap[] = [];
  for (const key of active) {
    const groups = groupsByKey.get(key)!;
    const bins = (binsByGroup.get(key) ?? []).sort((a, b) => a.firstMs! - b.firstMs!);
    let lastSeen = switchedMs;
    for (const bin of bins) {
      // A bin that straddles the switch holds its first post-switch row less than one bin width
      // (≤ the threshold) after the switch: no gap can start there.
      if (bin.firstMs! >= switchedMs && bin.firstMs! - lastSeen > gapMs) {
        gaps.push({ groups, fromMs: lastSeen, toMs: bin.firstMs!, ongoing: false });
      }
      lastSeen = Math.max(lastSeen, bin.lastMs!);
    }
    if (nowMs - lastSeen > gapMs) gaps.push({ groups, fromMs: lastSeen, toMs: nowMs, ongoing: true });
  }
  return gaps.sort((a, b) => a.fromMs - b.fromMs);
}
