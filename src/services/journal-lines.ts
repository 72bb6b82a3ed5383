import { DateTime } from 'luxon';
import type { JournalEntry } from '../engine/journal.js';
import type { Progress } from '../steps/types.js';
import { peopleTime } from '../engine/time-format.js';
import { singular } from '../engine/words.js';

/**
 * One line per journal event worth a person's attention, for terminals without the UI and for logs:
 * the time in the plan's zone with its offset. `compact`: the UI's log tail, whose header names the
 * zone already and whose 80 columns the note needs.
 */
export function formatJournalLine(entry: JournalEntry, zone: string, compact = false): string | undefined {
  const time = compact ? DateTime.fromISO(entry.at, { zone }).toFormat('LLL dd HH:mm:ss') : peopleTime(entry.at, zone);
  const step = String(entry.stepId ?? '');
  const run = entry.occurrence ? ` #${String(entry.occurrence)}` : '';
  switch (entry.type) {
    case 'step.started':
      return `${time}  ▶ ${step}${run}`;
    case 'step.resumed':
      return `${time}  ▶ ${step}${run} (resumed: it was running when the last runner stopped)`;
    case 'step.finished':
      return `${time}  ✓ ${step}${run} ${formatMs(Number(entry.durationMs))}: ${String(entry.summary)}${entry.attention ? ` — ATTENTION: ${String(entry.attention)}` : ''}`;
    case 'step.failed':
      return `${time}  ✗ ${step}${run}: ${String(entry.error)}`;
    case 'step.retrying':
      return `${time}  ↻ ${step} try ${String(entry.try)} failed (${String(entry.error)}); retrying`;
    case 'step.note':
      return `${time}    ${step}: ${String(entry.message)}`;
    case 'step.outcome-unknown':
      return `${time}  ? ${step}: outcome unknown`;
    case 'event': {
      const event = entry.event as { type: string; stepId?: string; by?: string; note?: string; reject?: boolean; reason?: string };
      const what = event.type === 'SIGNOFF' ? (event.reject ? 'rejected' : 'signed off') : event.type.toLowerCase();
      return `${time}  ✎ ${event.stepId ?? ''} ${what}${event.by ? ` by ${event.by}` : ''}${event.note ? `: ${event.note}` : ''}${event.reason ? `: ${event.reason}` : ''}`;
    }
    case 'plan.changed':
      return `${time}  plan changed${entry.t0 ? `: T0 moved, every gate re-planned` : ''}`;
    case 'plan.steps-passed':
      return `${time}  ! the plan adds ${(entry.steps as string[]).join(', ')} behind where the run stands: they will not run (do them by hand, or not)`;
    default:
      return undefined;
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`;
}

export function formatProgress(stepId: string, progress: Progress): string {
  const total = progress.total ? ` of ${progress.total.toLocaleString('en-US')}` : '';
  const percent = progress.total ? ` (${Math.floor((100 * progress.done) / progress.total)}%)` : '';
  const unit = progress.unit && (progress.total ?? progress.done) === 1 ? singular(progress.unit) : (progress.unit ?? '');
  return `           ${stepId}: ${progress.label} ${progress.done.toLocaleString('en-US')}${total} ${unit}${percent}`;
}
