import { render } from 'ink';
import { EXIT } from '../engine/errors.js';
import { whoIsRunning } from '../engine/identity.js';
import type { Runner } from '../engine/runner.js';
import { describeLocation } from '../engine/view.js';
import type { Io } from '../services/io.js';
import { previewStep } from '../services/preview.js';
import { outputsOf } from '../steps/outputs.js';
import { stepAsideIfDriven, type RunOptions } from '../services/run.js';
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
 * Ctrl-C, or SIGTERM) closes the runner and leaves everything on disk for the next `cutover run`.
 */
export async function runInteractive(session: Session, options: RunOptions, io: Io, closing = 'The state is saved; resume with: cutover run'): Promise<number> {
  const feed = new LiveFeed(() => session.clock.now());
  const runner = stepAsideIfDriven(() => openRunner(session, 'drive', 'cutover run', { onProgress: feed.onProgress, onJournal: feed.onJournal }));
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
      identity={whoIsRunning(session.plan, io.account)}
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
  io.out(describeLocation(runner.snapshot(), session.clock.now(), session.plan.t0.zone));
  if (closing) io.out(closing);
  return code;
}
