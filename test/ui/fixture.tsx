import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allSteps } from '../../machines/runbook.js';
import type { PlanInput } from '../../src/config/schema.js';
import { t0Of } from '../../src/config/settings.js';
import { openRunner, type Session } from '../../src/services/session.js';
import { ManualClock } from '../../src/engine/clock.js';
import { recognise } from '../../src/engine/identity.js';
import type { Runner } from '../../src/engine/runner.js';
import type { StepAction, StepRegistry } from '../../src/steps/types.js';
import { App, type AppProps } from '../../src/ui/app.js';
import { LiveFeed } from '../../src/ui/live-feed.js';
import { dryRunFor } from '../../src/ui/run-interactive.js';
import { localPlan } from '../support/plan.js';
import { renderScreen, type Screen } from './terminal.js';

export const HOUR = 3_600_000;

/** Every action succeeds at once unless the test registers its own; sign-offs are left to the test. */
function defaultRegistry(): StepRegistry {
  return Object.fromEntries(
    allSteps()
      .filter((step) => step.kind !== 'signoff')
      .map((step): [string, StepAction] => [
        step.id,
        {
          dryRun: () => `would run ${step.id}`,
          run: async () => ({ summary: `${step.id} ok`, output: step.kind === 'decision' ? { verdict: 'continue' } : { ran: true } }),
        },
      ]),
  );
}

const dirs: string[] = [];
export function cleanupDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A real run for the UI: the example plan on local providers in a temp folder, a manual clock at the
 * moment the prep phase opens, and actions the test registers (the rest succeed at once).
 */
export function uiRun(options: { actions?: StepRegistry; plan?: Partial<PlanInput>; dir?: string } = {}) {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cutover-ui-'));
  if (!options.dir) dirs.push(dir);
  const plan = localPlan(dir, options.plan);
  const t0 = t0Of(plan).toMillis();
  const clock = new ManualClock(t0 - 48 * HOUR);
  const registry = { ...defaultRegistry(), ...options.actions };
  const session: Session = {
    plan,
    planFile: join(dir, 'cutover.config.ts'),
    planDir: dir,
    stateDir: join(dir, '.cutover'),
    clock,
    registry,
    adapters: {
      dns: () => {
        throw new Error('no DNS in UI tests');
      },
      mail: () => {
        throw new Error('no mail in UI tests');
      },
    },
    env: {},
  };
  /** Open a runner on the run's state (again, after a quit), as `cutover run` does. */
  const open = () => {
    const feed = new LiveFeed(() => clock.now());
    const runner = openRunner(session, 'drive', 'cutover run (test)', { onProgress: feed.onProgress, onJournal: feed.onJournal, retries: 0 });
    feed.seed(runner.journal.entries);
    return { runner, feed };
  };
  /**
   * Render the UI on an 80×24 fake terminal; the operator's own zone is Berlin. The UI acts as the
   * person running it: Ana Ruiz (OS account ana in the example plan) unless `extra.identity` says whom
   * another operator's terminal would recognise.
   */
  const show = (runner: Runner, feed: LiveFeed, extra: Partial<AppProps> = {}): Screen & { quitCode(): number | undefined } => {
    let code: number | undefined;
    const screen = renderScreen(
      <App
        runner={runner}
        plan={plan}
        clock={clock}
        feed={feed}
        dryRun={dryRunFor(session, runner, new AbortController().signal)}
        localZone="Europe/Berlin"
        identity={recognise(plan, 'ana')}
        onQuit={(value) => (code = value)}
        {...extra}
      />,
    );
    return Object.assign(screen, { quitCode: () => code });
  };
  return { dir, plan, t0, clock, session, open, show };
}

/** A promise a test resolves by hand, to hold an action in flight. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}
