import type { AnyMachineSnapshot } from 'xstate';
import { runbookOf, type RunContext } from '../../machines/machine.js';
import type { JournalEntry } from '../engine/journal.js';
import { isoTime, peopleTime } from '../engine/time-format.js';
import { buildView, describeLocation, locate, nextCommand } from '../engine/view.js';
import { plural } from '../engine/words.js';

/**
 * The closing summary said at each stop of `cutover run` (line output, `--json` and the terminal UI)
 * and at the end of `cutover rehearse`: what this invocation did, where the run stands, what comes
 * next. Read from the journal lines this invocation added and the snapshot it left, so it says only
 * what is on the record.
 */

export interface NamedStep {
  stepId: string;
  title: string;
}

export interface StopSummary {
  /** Steps done by this invocation (run, signed off or confirmed), in runbook order; a recurring step's runs are counted in `recurringRuns`. */
  done: NamedStep[];
  recurringRuns: number;
  /** Steps whose last attempt in this invocation failed or ended with an unknown outcome (skipped since or not). */
  failed: (NamedStep & { error: string })[];
  skipped: (NamedStep & { by: string; reason: string })[];
  /** Sign-offs, confirmations, rejections recorded in this invocation. */
  signoffs: number;
  phase?: { id: string; title: string };
  /** Where the run stands, in one sentence (`describeLocation` without the command). */
  standing: string;
  /** The step the run goes on with, and when it is due (ms; at a gate, when the gate opens). */
  next?: NamedStep & { due?: number };
  /** What to run next; undefined when nothing is left to do. */
  command?: string;
  ended?: 'completed' | 'rolledBack' | 'aborted';
}

export interface SummaryOptions {
  /** A rehearsal cannot be resumed (its servers are gone): what comes next is another rehearsal. */
  rehearsal?: boolean;
  /** The run stopped before this step as asked (`--until`). */
  until?: string;
  /** The failure was printed whole just above. */
  errorShown?: boolean;
  /** Stopped by a signal (Ctrl-C): a step it was running runs again at the next `cutover run`. */
  interrupted?: boolean;
}

/** What one invocation saw: the journal lines it added, and the run before (none: a new run) and after. */
export interface Invocation {
  entries: readonly JournalEntry[];
  before?: AnyMachineSnapshot;
  after: AnyMachineSnapshot;
}

const isDone = (snapshot: AnyMachineSnapshot | undefined, stepId: string) => (snapshot?.context as RunContext | undefined)?.steps[stepId]?.status === 'done';

export function summarizeStop({ entries, before, after: snapshot }: Invocation, now: number, zone: string, options: SummaryOptions = {}): StopSummary {
  const book = runbookOf(snapshot);
  const titleOf = (stepId: string) => book.findStep(stepId)?.step.title ?? stepId;
  // Done is read from the state, not the journal: a sign-off step is done by its last sign-off, with no line of its own.
  const done = book
    .allSteps()
    .filter((step) => step.kind !== 'recurring' && isDone(snapshot, step.id) && !isDone(before, step.id))
    .map((step) => ({ stepId: step.id, title: step.title }));
  const outcome = new Map<string, JournalEntry>();
  const skipped: StopSummary['skipped'] = [];
  let recurringRuns = 0;
  let signoffs = 0;
  for (const entry of entries) {
    const stepId = typeof entry.stepId === 'string' ? entry.stepId : undefined;
    if (stepId && (entry.type === 'step.finished' || entry.type === 'step.failed' || entry.type === 'step.outcome-unknown')) outcome.set(stepId, entry);
    if (stepId && entry.type === 'step.finished' && book.findStep(stepId)?.step.kind === 'recurring') recurringRuns++;
    if (entry.type === 'event') {
      const event = entry.event as { type: string; stepId?: string; by?: string; reason?: string };
      if (event.type === 'SKIP' && event.stepId) skipped.push({ stepId: event.stepId, title: titleOf(event.stepId), by: event.by ?? 'someone', reason: event.reason ?? '' });
      if (event.type === 'SIGNOFF' || event.type === 'CONFIRM') signoffs++;
    }
  }
  const failed = [...outcome.values()]
    .filter((entry) => entry.type !== 'step.finished')
    .map((entry) => ({ stepId: String(entry.stepId), title: titleOf(String(entry.stepId)), error: entry.type === 'step.failed' ? String(entry.error) : 'outcome unknown' }));

  const location = locate(snapshot);
  const phase = location.phaseId ? book.findPhase(location.phaseId) : undefined;
  const summary: StopSummary = {
    done,
    recurringRuns,
    failed,
    skipped,
    signoffs,
    ...(phase ? { phase: { id: phase.id, title: phase.title } } : {}),
    standing: standingOf(snapshot, now, zone, options),
    ...(location.ended ? { ended: location.ended } : {}),
  };
  if (location.ended) return summary;

  // The next step: the current one, or at a phase gate the phase's first step.
  const view = buildView(snapshot, now, zone);
  const phaseView = view.phases.find((candidate) => candidate.id === location.phaseId);
  const stepView = phaseView?.steps.find((candidate) => candidate.id === location.stepId) ?? (location.sub === 'gate' ? phaseView?.steps[0] : undefined);
  const due = location.until ?? stepView?.plannedAt;
  if (stepView) summary.next = { stepId: stepView.id, title: stepView.title, ...(due !== undefined ? { due } : {}) };

  if (options.rehearsal) {
    summary.command = 'cutover rehearse, to rehearse again (a rehearsal cannot be resumed: its servers are gone)';
  } else {
    const waitFor = nextCommand(snapshot);
    const timeGate = location.until !== undefined && location.until > now;
    summary.command =
      waitFor ?? (timeGate ? `cutover run at or after ${peopleTime(location.until!, zone)} (or cutover run --wait now, which sleeps until then)` : options.until ? 'cutover run (without --until to go on)' : 'cutover run');
  }
  return summary;
}

function standingOf(snapshot: AnyMachineSnapshot, now: number, zone: string, options: SummaryOptions): string {
  const location = locate(snapshot);
  if (location.ended) return describeLocation(snapshot, now, zone);
  if (options.until) return `Stopped before ${options.until} as asked (--until).`;
  if (options.interrupted && location.stepId && (location.sub === 'running' || location.sub === 'evaluating')) {
    return `Stopped while ${location.stepId} was running; the next \`cutover run\` takes it up again (a step that cannot safely run twice asks first).`;
  }
  return describeLocation(snapshot, now, zone, { command: false, errorShown: options.errorShown ?? false });
}

/** The summary as lines for people: counts first, failed and skipped steps named, then where and what next. */
export function summaryLines(summary: StopSummary, zone: string, title = 'This run'): string[] {
  const counts = [
    plural(summary.done.length, 'step') + ' done',
    ...(summary.recurringRuns ? [plural(summary.recurringRuns, 'recurring check run', 'recurring check runs')] : []),
    `${summary.failed.length} failed`,
    `${summary.skipped.length} skipped`,
    ...(summary.signoffs ? [`${plural(summary.signoffs, 'sign-off')} recorded`] : []),
  ];
  const lines = [`── Summary ──`, `${title}: ${counts.join(', ')}.`];
  const skippedIds = new Set(summary.skipped.map((step) => step.stepId));
  const failedIds = new Set(summary.failed.map((step) => step.stepId));
  // A step that failed and was then skipped is one line, not two.
  for (const step of summary.failed) if (!skippedIds.has(step.stepId)) lines.push(`  ✗ failed: ${step.stepId} (${step.title})`);
  for (const step of summary.skipped) {
    lines.push(`  ↷ ${failedIds.has(step.stepId) ? 'failed, then skipped' : 'skipped'}: ${step.stepId} (${step.title}) by ${step.by}${step.reason ? `: ${step.reason}` : ''}`);
  }
  lines.push(`Where it stands: ${summary.phase && !summary.ended ? `phase ${summary.phase.id} (${summary.phase.title}). ` : ''}${summary.standing}`);
  if (summary.next) {
    lines.push(`Next step: ${summary.next.stepId} (${summary.next.title})${summary.next.due !== undefined ? `, due ${peopleTime(summary.next.due, zone)}` : ''}.`);
  }
  lines.push(`Next: ${summary.command ?? `nothing: ${endedWords(summary.ended)}`}`);
  return lines;
}

function endedWords(ended: StopSummary['ended']): string {
  if (ended === 'rolledBack') return 'the rollback is complete';
  if (ended === 'aborted') return 'the cutover was aborted';
  return 'the cutover is complete';
}

/** The summary for `--json`: times as ISO-8601 with the plan's offset. */
export function summaryJson(summary: StopSummary, zone: string): Record<string, unknown> {
  return {
    ...summary,
    done: summary.done.map((step) => step.stepId),
    ...(summary.next ? { next: { ...summary.next, ...(summary.next.due !== undefined ? { due: isoTime(summary.next.due, zone) } : {}) } } : {}),
  };
}
