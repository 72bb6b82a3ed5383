import { useEffect, useState } from 'react';
import { Box, Text } from 'ink';
import { MARKS } from '../services/status.js';
import type { RunView, StepView } from '../engine/view.js';
import { formatAt, formatSpan, rule, truncate, wrapLines } from './format.js';
import type { LiveFeed } from './live-feed.js';
import { ProgressBar } from './progress-bar.js';
import { statusColor, useTheme } from './theme.js';

/** A step's dry-run text, loaded once per step; sign-off steps have none. */
export function useDryRun(stepId: string | undefined, dryRun: (stepId: string) => Promise<string | undefined>): string | undefined {
  const [text, setText] = useState<string>();
  useEffect(() => {
    setText(undefined);
    if (!stepId) return;
    let live = true;
    dryRun(stepId).then(
      (value) => live && setText(value),
      (error: unknown) => live && setText(`(dry-run text unavailable: ${error instanceof Error ? error.message : String(error)})`),
    );
    return () => {
      live = false;
    };
  }, [stepId, dryRun]);
  return text;
}

const failure = (step: StepView) => step.status === 'failed' || step.status === 'unknown';

/** A failed step's error, wrapped to the width and never cut, and the keys that deal with it. */
function failureLines(step: StepView, width: number): { error: string[]; actions: string[] } {
  return {
    error: wrapLines(`${step.status === 'unknown' ? 'Outcome unknown' : 'Failed'}: ${step.error ?? 'no error recorded'}`, width, Infinity),
    actions: wrapLines(`r retry (cutover retry ${step.id}) · s skip with a reason (cutover skip ${step.id})`, width, Infinity),
  };
}

/** The rows the current-step pane needs to show a failed step's failure whole (0: the step has not failed). */
export function failurePaneRows(step: StepView | undefined, width: number): number {
  if (!step || !failure(step)) return 0;
  const { error, actions } = failureLines(step, width);
  // The pane's rule and the step's title line, then the failure.
  return 2 + error.length + actions.length;
}

/**
 * What the run is doing now: the step with its description and dry-run text, live progress while it
 * runs, the error and what to do when it failed, or the time gate it is waiting for.
 */
export function CurrentStep(props: {
  view: RunView;
  step: StepView | undefined;
  now: number;
  zone: string;
  feed: LiveFeed;
  dryRunText: string | undefined;
  /** `--until`: the step the run stopped before, as asked. */
  stoppedBefore?: string;
  engineError?: string;
  width: number;
  height: number;
}) {
  const { view, step, now, zone, feed, dryRunText, stoppedBefore, engineError, width, height } = props;
  const theme = useTheme();
  const lines: { text: string; color?: string | undefined; bold?: boolean }[] = [];
  let title = 'Now';
  let progressFor: string | undefined;

  if (engineError) {
    title = 'Engine error';
    lines.push({ text: `The engine stopped: ${engineError}`, color: theme.bad });
    lines.push({ text: 'The state on disk is intact. Quit (q) and report this with the journal (.cutover/journal.ndjson).' });
  } else if (view.location.ended) {
    title = 'Ended';
    lines.push({ text: view.headline, bold: true });
  } else if (stoppedBefore) {
    title = 'Stopped';
    lines.push({ text: `Stopped before ${stoppedBefore} as asked (--until). Run again without --until to go on.`, bold: true });
  } else if (!step || step.waitingFor === 'time') {
    const until = view.location.until;
    title = 'Waiting';
    const what = view.location.sub === 'gate' ? `phase ${view.location.phaseId} opens` : `${step?.id ?? view.location.phaseId} run ${(step?.runs?.done ?? 0) + (step?.runs?.missed ?? 0) + 1} of ${step?.runs?.total ?? '?'} is due`;
    lines.push({ text: until !== undefined ? `Waiting until ${formatAt(until, zone, 'LLL dd HH:mm ZZZZ')} (${until > now ? `in ${formatSpan(until - now)}` : 'now'}): ${what}.` : view.headline, bold: true });
    if (step) lines.push({ text: `${step.title}: ${step.description}` });
    lines.push({ text: 'The UI keeps driving the run through the wait; q quits safely and `cutover run` resumes here.' });
  } else {
    title = `${MARKS[step.status]} ${step.id}`;
    const meta = [step.attempts > 0 ? `attempt ${step.attempts}` : '', step.plannedAt !== undefined ? `planned ${formatAt(step.plannedAt, zone)}` : ''].filter(Boolean).join(' · ');
    lines.push({ text: `${step.title}${meta ? ` · ${meta}` : ''}`, bold: true, color: statusColor(theme, step.status) });
    const description = wrapLines(step.description, width, 2).map((text) => ({ text }));
    if (!failure(step)) lines.push(...description);
    switch (step.status) {
      case 'failed':
      case 'unknown': {
        // The failure whole, every finding, then what to do; the description comes last and gives way
        // first (the app makes room for the rest: failurePaneRows).
        const { error, actions } = failureLines(step, width);
        for (const text of error) lines.push({ text, color: theme.bad });
        for (const text of actions) lines.push({ text, bold: true });
        lines.push(...description);
        break;
      }
      case 'rejected': {
        const rejection = step.signoffs.findLast((signoff) => signoff.reject);
        lines.push({ text: `Rejected by ${rejection?.by ?? 'an approver'}${rejection?.note ? `: "${rejection.note}"` : ''}`, color: theme.bad });
        lines.push({ text: `r re-open it for sign-off (cutover retry ${step.id}) · s skip with a reason`, bold: true });
        break;
      }
      default:
        if (dryRunText) for (const line of wrapLines(`Does: ${dryRunText}`, width, 2)) lines.push({ text: line, color: theme.muted });
        if (step.status === 'running') progressFor = step.id;
    }
  }
  // The progress bar's two lines come last and are never cut; the text above gives way.
  const room = Math.max(1, height - 1 - (progressFor ? 2 : 0));
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" dimColor>
        {rule(title, width)}
      </Text>
      {lines.slice(0, room).map((line, index) => (
        <Text key={index} wrap="truncate-end" color={line.color} bold={line.bold ?? false}>
          {truncate(line.text, width)}
        </Text>
      ))}
      {progressFor ? <ProgressBar feed={feed} stepId={progressFor} width={width} /> : null}
    </Box>
  );
}
