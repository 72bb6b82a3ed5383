import { render } from 'ink';
import { EXIT } from '../engine/errors.js';
import { whoActs } from '../engine/run-store.js';
import type { Runner } from '../engine/runner.js';
import type { Io } from '../services/io.js';
import { previewStep } from '../services/preview.js';
import { outputsOf } from '../steps/outputs.js';
import { invocationEntries, stepAsideIfDriven, type RunOptions } from '../services/run.js';
import { summarizeStop, summaryLines } from '../services/summary.js';
import { openRunner, type Session } from '../services/session.js';
import { runReplication } from '../steps/replicate/lag.js';
import { App } from './app.js';
import { LiveFeed } from './live-feed.js';
import { noColorRequested } from './theme.js';

/** A step's dry-run text, with the outputs recorded so far: the same preview `plan` and `--dry-run` show. */
export function dryRunFor(session: Session, runner: Runner, signal: AbortSignal): (stepId: string) => Promise<string | undefined> {
  return (stepId) => previewStep(session, stepId, outputsOf(runner.context().steps), signal, runner.runId);
}

/**
 * `cutover run` on a terminal: the UI drives the run and sends the operator's events; `q` (or
 * Ctrl-C, or SIGTERM) closes the runner and leaves everything on disk for the next `cutover run`,
 * then the closing summary is printed below the last frame. `rehearsal`: the rehearsal prints its
 * own summary at its end (it cannot be resumed), so nothing is said here.
 */
export async function runInteractive(session: Session, options: RunOptions, io: Io, { rehearsal = false } = {}): Promise<number> {
  const feed = new LiveFeed(() => session.clock.now());
  const runner = stepAsideIfDriven(() => openRunner(session, 'drive', 'cutover run', { onProgress: feed.onProgress, onJournal: feed.onJournal }));
  const since = runner.journal.lastSeq;
  const before = runner.snapshot();
  feed.seed(runner.journal.entries);
  const dryRuns = new AbortController();
  const dryRun = dryRunFor(session, runner, dryRuns.signal);

  const readReplication = () => runReplication(session.plan, session.env, session.planDir, runner.runId);
  let code: number = EXIT.gate;
  const instance = render(
    <App
      runner={runner}
      plan={session.plan}
      clock={session.clock}
      feed={feed}
      dryRun={dryRun}
      identity={whoActs(session.plan, session.stateDir, io.account)}
      {...(options.until ? { until: options.until } : {})}
      noColor={noColorRequested(io.env)}
      onQuit={(value) => (code = value)}
      {...(session.plan.strategy === 'replicate' ? { replication: readReplication } : {})}
    />,
    {
      // Ctrl-C goes through the app's quit, which closes the runner; Ink's own handler would not.
      exitOnCtrlC: false,
      // The caller checked for a terminal. Ink would otherwise go non-interactive under CI=true
      // and print only the last frame, which is what a rehearsal in a CI pseudo-terminal would see.
      interactive: true,
      incrementalRendering: true,
      maxFps: 15,
    },
  );
  const onSignal = () => {
    code = 130;
    runner.close();
    instance.unmount();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.once(signal, onSignal);
  try {
    await instance.waitUntilExit();
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    dryRuns.abort();
    runner.close();
  }
  if (!rehearsal) {
    const zone = session.plan.t0.zone;
    // Ink leaves the last frame on screen, and it shows a failure whole: the summary does not repeat it.
    const summary = summarizeStop({ entries: invocationEntries(runner, since), before, after: runner.snapshot() }, session.clock.now(), zone, { errorShown: true });
    for (const line of summaryLines(summary, zone)) io.out(line);
    io.out('The state is saved.');
  }
  return code;
}
