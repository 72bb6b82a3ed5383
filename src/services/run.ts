import { runbookOfPlan } from '../config/custom-steps.js';
import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
import { EXIT, ExitError } from '../engine/errors.js';
import type { JournalEntry } from '../engine/journal.js';
import type { Blocked, Runner } from '../engine/runner.js';
import { isoTime } from '../engine/time-format.js';
import { describeLocation } from '../engine/view.js';
import type { Io } from './io.js';
import { formatJournalLine, formatProgress } from './journal-lines.js';
import { formatEntry } from './journal-log.js';
import { openRunner, type Session } from './session.js';
import { summarizeStop, summaryJson, summaryLines, type SummaryOptions } from './summary.js';

export interface RunOptions {
  nonInteractive?: boolean;
  /** Sleep through time gates (with any clock) instead of exiting 3 at them: for timers and rehearsals. */
  wait?: boolean;
  until?: string;
  dryRun?: boolean;
  /** One JSON object per line on stdout (journal entries, progress, where it stopped) instead of lines for people. */
  json?: boolean;
}

/** Exit code for where a run stopped (DESIGN §6). */
export function exitCodeFor(blocked: Blocked): number {
  switch (blocked.kind) {
    case 'ended':
      // A finished rollback is a finished run (the old system is live again); an abort asks for attention.
      return blocked.location.ended === 'aborted' ? EXIT.attention : EXIT.ok;
    case 'signoff':
    case 'confirm':
    case 'time':
    case 'until':
      return EXIT.gate;
    default:
      return EXIT.attention;
  }
}

/** `--until STEP` must name a step of the runbook. */
export function checkUntil(until: string | undefined, plan: Plan): void {
  if (until && !runbookOfPlan(plan).findStep(until)) throw new ExitError(`--until ${until}: there is no such step. See the step ids with: cutover plan`, EXIT.usage);
}

/** `--wait` sleeps until each time gate opens: a manual clock never gets there. */
export function checkWait(wait: boolean | undefined, clock: Pick<Clock, 'kind'>): void {
  if (wait && clock.kind === 'manual') {
    throw new ExitError('--wait sleeps until each time gate opens, but CUTOVER_CLOCK=manual stands still: it would wait for ever. Use CUTOVER_CLOCK=compressed:SPEED (or the real clock).', EXIT.usage);
  }
}

/**
 * One process drives a run. A second `cutover run` (the recurring timer while the lead's UI is open)
 * steps aside with exit 4: the driver sleeps through the time gates itself, so it runs every recurring
 * check when due, and it applies sign-offs from other terminals (docs/operations.md).
 */
export function stepAsideIfDriven<T>(open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (!(error instanceof ExitError && error.exitCode === EXIT.locked)) throw error;
    throw new ExitError(
      `${error.message.replace(/ Only one runner may drive a cutover\. Use that one, or stop it first\.$/, '')}\n` +
        'That process drives the run: it runs the recurring checks when they are due and applies sign-offs, confirmations and skips sent from other terminals (cutover signoff …). This one steps aside (exit 4).',
      EXIT.locked,
    );
  }
}

/** Line-oriented run: journal lines as they happen, throttled progress, and where it stopped. */
export async function runLines(session: Session, options: RunOptions, io: Io, drive: { waitGates: boolean }): Promise<number> {
  const zone = session.plan.t0.zone;
  let lastProgress = 0;
  // Failures printed by this process: the closing line then points at them instead of repeating them.
  const shown = new Set<string>();
  const runner = stepAsideIfDriven(() =>
    openRunner(session, 'drive', 'cutover run', {
      onJournal: (entry) => {
        const line = options.json ? formatEntry(entry, { zone, json: true }) : formatJournalLine(entry, zone);
        if (line) io.out(line);
        if (entry.type === 'step.failed') shown.add(String(entry.stepId));
      },
      onProgress: (stepId, progress) => {
        const now = Date.now();
        if (now - lastProgress < 2_000 && progress.done !== progress.total) return;
        lastProgress = now;
        io.out(options.json ? JSON.stringify({ type: 'progress', at: isoTime(session.clock.now(), zone), stepId, ...progress }) : formatProgress(stepId, progress));
      },
    }),
  );
  // What this invocation adds to the journal is what its closing summary speaks of.
  const since = runner.journal.lastSeq;
  const before = runner.snapshot();
  const summarize = (summaryOptions: SummaryOptions) =>
    summarizeStop({ entries: invocationEntries(runner, since), before, after: runner.snapshot() }, session.clock.now(), zone, summaryOptions);
  // Ctrl-C: everything is already on disk; stop the actor, free the lock, sum up, say how to resume.
  const stop = () => {
    runner.close();
    const summary = summarize({ interrupted: true });
    if (options.json) {
      const at = isoTime(session.clock.now(), zone);
      io.out(JSON.stringify({ type: 'run.stopped', at, stopped: 'interrupted', message: 'Stopped. The state is saved.', exitCode: 130, summary: summaryJson(summary, zone) }));
    } else {
      for (const line of summaryLines(summary, zone)) io.out(line);
    }
    io.err('Stopped. The state is saved; resume with: cutover run');
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const blocked = await runner.drive({ waitGates: drive.waitGates, ...(options.until ? { until: options.until } : {}) });
    const exitCode = exitCodeFor(blocked);
    const now = session.clock.now();
    const errorShown = !options.json && blocked.kind === 'failed' && shown.has(blocked.location.stepId ?? '');
    const summary = summarize({ errorShown, ...(blocked.kind === 'until' ? { until: options.until } : {}) });
    if (options.json) {
      const message = blocked.kind === 'until' ? `Stopped before ${options.until} as asked (--until).` : describeLocation(runner.snapshot(), now, zone);
      io.out(JSON.stringify({ ...stoppedEvent(blocked, message, exitCode, now, zone), summary: summaryJson(summary, zone) }));
    } else {
      for (const line of summaryLines(summary, zone)) io.out(line);
    }
    return exitCode;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    runner.close();
  }
}

/** The journal lines added after line `since`: this invocation's. */
export function invocationEntries(runner: Runner, since: number): JournalEntry[] {
  return runner.journal.entries.filter((entry) => entry.seq > since);
}

/**
 * The last line of `run --json`: why it stopped (`stopped`: signoff, confirm, time, until, failed,
 * unknown, rejected or ended), at which step, until when a time gate holds, and the exit code. The
 * caller adds the closing summary as its `summary` field (summaryJson), so it stays one line.
 */
export function stoppedEvent(blocked: Blocked, message: string, exitCode: number, now: number, zone: string): Record<string, unknown> {
  const { location } = blocked;
  return {
    type: 'run.stopped',
    at: isoTime(now, zone),
    stopped: blocked.kind,
    ...(location.stepId ? { stepId: location.stepId } : {}),
    ...(location.ended ? { ended: location.ended } : {}),
    ...(blocked.kind === 'time' ? { until: isoTime(blocked.until, zone) } : {}),
    message,
    exitCode,
  };
}
