import { memo } from 'react';
import { Box, Text } from 'ink';
import { MARKS } from '../services/status.js';
import type { PhaseView, StepStatus, StepView } from '../engine/view.js';
import { fit, formatActual, formatAt, truncate } from './format.js';
import { statusColor, useTheme } from './theme.js';

export interface TimelineRow {
  key: string;
  /** Present on step rows. */
  step?: StepView;
  text: string;
}

/** Column widths; the "by" column takes what is left, so a wider terminal shows more names. */
const ID = 26;
const PLANNED = 12;
const ACTUAL = 14;
/** A step row is: cursor, space, mark, space, id, space, planned… so "planned" starts here. */
const PLANNED_AT = 4 + ID + 1;

function who(step: StepView): string {
  if (step.skipped) return `skipped by ${step.skipped.by}: ${step.skipped.reason}`;
  const parts: string[] = [];
  if (step.runs) parts.push(`${step.runs.done}/${step.runs.total} runs${step.runs.missed ? `, ${step.runs.missed} missed` : ''}`);
  if (step.confirmedBy) parts.push(`confirmed ${step.confirmedBy.by}`);
  for (const signoff of step.signoffs) parts.push(`${signoff.by} ${signoff.reject ? '✗' : '✓'}`);
  if (parts.length === 0 && step.status === 'waiting' && step.kind !== 'recurring') parts.push(`needs ${step.quorum} of ${step.approvers.length}`);
  if (step.attempts > 1 && step.kind !== 'recurring') parts.push(`attempt ${step.attempts}`);
  return parts.join(', ');
}

function actual(step: StepView, zone: string): string {
  const at = step.finishedAt ?? step.skipped?.at ?? step.startedAt;
  return at === undefined ? '' : formatActual(at, step.plannedAt, zone);
}

/** Phases and steps as rows. Branch phases (rollback, abort) appear once they are entered. */
export function timelineRows(phases: readonly PhaseView[], currentPhaseId: string | undefined, zone: string): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (const phase of phases) {
    if (phase.branch && phase.id !== currentPhaseId && phase.steps.every((step) => step.status === 'pending')) continue;
    rows.push({ key: phase.id, text: `${phase.title} (${phase.id})${phase.opensAt !== undefined ? ` · opens ${formatAt(phase.opensAt, zone, 'LLL dd HH:mm ZZZZ')}` : ''}` });
    for (const step of phase.steps) {
      const planned = step.plannedAt === undefined ? '' : formatAt(step.plannedAt, zone);
      rows.push({ key: step.id, step, text: `${MARKS[step.status]} ${fit(step.id, ID)} ${fit(planned, PLANNED)} ${fit(actual(step, zone), ACTUAL)} ${who(step)}` });
    }
  }
  return rows;
}

/** Where the window starts when not scrolled: the current row a third of the way down. */
function autoFirst(currentIndex: number, height: number): number {
  return Math.max(0, currentIndex - Math.floor(height / 3));
}

/** The scroll offsets that still move the window, so scrolling past an end does not pile up. */
export function clampScroll(scroll: number, rowCount: number, currentIndex: number, height: number): number {
  if (rowCount <= height) return 0;
  const auto = autoFirst(currentIndex, height);
  return Math.min(Math.max(scroll, -auto), rowCount - height - auto);
}

/**
 * Which rows fit in `height`: the current row a third of the way down, moved by `scroll`, and kept on
 * screen even when scrolled away (pinned to the top or bottom edge) so the operator never loses it.
 */
export function visibleRows(rows: readonly TimelineRow[], currentIndex: number, height: number, scroll: number): { shown: TimelineRow[]; first: number } {
  if (rows.length <= height) return { shown: [...rows], first: 0 };
  const first = autoFirst(currentIndex, height) + clampScroll(scroll, rows.length, currentIndex, height);
  const shown = rows.slice(first, first + height);
  if (currentIndex >= 0 && currentIndex < first) shown[0] = rows[currentIndex]!;
  if (currentIndex >= first + height) shown[height - 1] = rows[currentIndex]!;
  return { shown, first };
}

/** The last step that did anything: where an ended run is shown. */
export function lastTouchedKey(rows: readonly TimelineRow[]): string | undefined {
  return rows.findLast((row) => row.step !== undefined && row.step.status !== 'pending')?.key;
}

/** The index of the row the run is at: its step, or its phase's heading at a gate. */
export function currentRowIndex(rows: readonly TimelineRow[], currentKey: string | undefined): number {
  return currentKey === undefined ? -1 : rows.findIndex((row) => row.key === currentKey);
}

function headerLine(width: number, position: string): string {
  const cell = (text: string, size: number) => `${text}${'─'.repeat(Math.max(0, size - [...text].length - 1))} `;
  const left = `${cell('── Timeline ', PLANNED_AT)}${cell('planned ', PLANNED + 1)}${cell('actual ', ACTUAL + 1)}by `;
  const right = ` ${position} ──`;
  return left + '─'.repeat(Math.max(1, width - [...left].length - [...right].length)) + right;
}

export interface TimelineProps {
  /** From `timelineRows`, memoised by the caller on the run's snapshot. */
  rows: readonly TimelineRow[];
  /** The current step's id, or the phase id while the run waits for a phase to open. */
  currentKey?: string;
  width: number;
  /** Rows including the heading. */
  height: number;
  scroll: number;
}

function TimelineView({ rows, currentKey, width, height, scroll }: TimelineProps) {
  const theme = useTheme();
  const currentIndex = currentRowIndex(rows, currentKey);
  const room = Math.max(1, height - 1);
  const { shown, first } = visibleRows(rows, currentIndex, room, scroll);
  const position = rows.length <= room ? `${rows.length} rows` : `${first + 1}–${Math.min(rows.length, first + room)} of ${rows.length}`;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" dimColor>
        {headerLine(width, position)}
      </Text>
      {shown.map((row) => {
        const current = row.key === currentKey;
        if (!row.step) {
          return (
            <Text key={row.key} bold wrap="truncate-end">
              {current ? '▸' : ' '}
              {truncate(row.text, width - 1)}
            </Text>
          );
        }
        const status: StepStatus = row.step.status;
        return (
          <Text key={row.key} wrap="truncate-end" bold={current} color={statusColor(theme, status)}>
            {current ? '▸' : ' '} {truncate(row.text, width - 2)}
          </Text>
        );
      })}
    </Box>
  );
}

/**
 * Memoised: its props change only when the run moves (a new snapshot) or the operator scrolls, so a
 * progress tick or the clock's second hand repaints the header and the progress bar, not this.
 */
export const Timeline = memo(TimelineView);
