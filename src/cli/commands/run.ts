import { DateTime } from 'luxon';
import { findStep, runbook } from '../../../machines/runbook.js';
import { EXIT } from '../../engine/errors.js';
import type { JournalEntry } from '../../engine/journal.js';
import type { Blocked } from '../../engine/runner.js';
import { describeLocation, locate } from '../../engine/view.js';
import { peekRun } from '../../engine/peek.js';
import type { Progress, StepContext } from '../../steps/types.js';
import type { GlobalOptions, Io } from '../io.js';
import { openRunner, openSession, type Session } from '../session.js';

export interface RunOptions {
  nonInteractive?: boolean;
  /** Sleep through time gates (with any clock) instead of exiting 3 at them: for timers and rehearsals. */
  wait?: boolean;
  until?: string;
  dryRun?: boolean;
}

/** Exit code for where a run stopped (DESIGN §6). */
export function exitCodeFor(blocked: Blocked): number {
  switch (blocked.kind) {
    case 'ended':
      return blocked.location.ended === 'completed' ? EXIT.ok : EXIT.attention;
    case 'signoff':
    case 'confirm':
    case 'time':
    case 'until':
      return EXIT.gate;
    default:
      return EXIT.attention;
  }
}

/** One line per journal event worth a person's attention, for terminals without the UI and for logs. */
export function formatJournalLine(entry: JournalEntry, zone: string): string | undefined {
  const time = DateTime.fromISO(entry.at, { zone }).toFormat('LLL dd HH:mm:ss');
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
  return `           ${stepId}: ${progress.label} ${progress.done.toLocaleString('en-US')}${total} ${progress.unit ?? ''}${percent}`;
}

/** What the next steps would do, from where the run stands, without doing anything. */
export async function dryRun(session: Session, io: Io): Promise<number> {
  const { snapshot } = peekRun(session.stateDir, session.plan);
  const location = locate(snapshot);
  io.out(`Dry run from: ${describeLocation(snapshot, session.clock.now())}`);
  const ordered = runbook.filter((phase) => !phase.branch).flatMap((phase) => phase.steps);
  // From the current step, or from the first step of a phase whose gate has not opened yet.
  const firstOfPhase = runbook.find((phase) => phase.id === location.phaseId)?.steps[0]?.id;
  const start = Math.max(0, ordered.findIndex((step) => step.id === (location.stepId ?? firstOfPhase)));
  const controller = new AbortController();
  for (const step of ordered.slice(start)) {
    const action = session.registry[step.id];
    let text: string;
    if (step.kind === 'signoff') text = 'waits for sign-off';
    else if (!action) text = 'NOT IMPLEMENTED: this step would fail';
    else {
      try {
        text = await action.dryRun(dryRunContext(session, step.id, controller.signal));
      } catch (error) {
        text = `(dry-run text unavailable: ${error instanceof Error ? error.message : String(error)})`;
      }
    }
    io.out(`- ${step.id}: ${text.split('\n').join('\n    ')}`);
    if (step.kind === 'signoff' || step.kind === 'confirm' || step.kind === 'decision') break;
  }
  return EXIT.ok;
}

export function dryRunContext(session: Session, stepId: string, signal: AbortSignal, outputs: Record<string, unknown> = {}): StepContext {
  return {
    plan: session.plan,
    planDir: session.planDir,
    runId: '(dry run)',
    stepId,
    attempt: 0,
    clock: session.clock,
    stateDir: session.stateDir,
    outputs,
    adapters: session.adapters,
    progress: () => {},
    note: () => {},
    signal,
    env: session.env,
  };
}

export async function run(globals: GlobalOptions, options: RunOptions, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  if (options.dryRun) return dryRun(session, io);
  if (options.until && !findStep(options.until)) {
    io.err(`--until ${options.until}: there is no such step. See the step ids with: cutover plan`);
    return EXIT.usage;
  }
  if (options.wait && session.clock.kind === 'manual') {
    io.err('--wait sleeps until each time gate opens, but CUTOVER_CLOCK=manual stands still: it would wait for ever. Use CUTOVER_CLOCK=compressed:SPEED (or the real clock).');
    return EXIT.usage;
  }
  if (io.interactive && !options.nonInteractive) {
    const { runInteractive } = await import('../../ui/run-interactive.js');
    return runInteractive(session, options, io);
  }
  return runLines(session, options, io, { waitGates: Boolean(options.wait) });
}

/** Line-oriented run: journal lines as they happen, throttled progress, and where it stopped. */
export async function runLines(session: Session, options: RunOptions, io: Io, drive: { waitGates: boolean }): Promise<number> {
  const zone = session.plan.t0.zone;
  let lastProgress = 0;
  const runner = openRunner(session, 'drive', 'cutover run', {
    onJournal: (entry) => {
      const line = formatJournalLine(entry, zone);
      if (line) io.out(line);
    },
    onProgress: (stepId, progress) => {
      const now = Date.now();
      if (now - lastProgress < 2_000 && progress.done !== progress.total) return;
      lastProgress = now;
      io.out(formatProgress(stepId, progress));
    },
  });
  // Ctrl-C: everything is already on disk; stop the actor, free the lock, say how to resume.
  const stop = () => {
    runner.close();
    io.err('Stopped. The state is saved; resume with: cutover run');
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const blocked = await runner.drive({ waitGates: drive.waitGates, ...(options.until ? { until: options.until } : {}) });
    io.out(blocked.kind === 'until' ? `Stopped before ${options.until} as asked (--until).` : describeLocation(runner.snapshot(), session.clock.now()));
    return exitCodeFor(blocked);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    runner.close();
  }
}
