/**
 * A runner in its own process, for crash tests: the parent kills it with SIGKILL at chosen points.
 * Every action appends "start"/"end" lines (fsync'd) to effects.log so the parent can count runs.
 *
 *   crash-child.ts DIR drive            run until a sign-off/confirm (exit 3) or the end (exit 0)
 *   crash-child.ts DIR signoff STEP BY  record a sign-off, print SIGNED, then wait to be killed
 *   crash-child.ts DIR confirm STEP BY PHRASE
 *   crash-child.ts DIR retry STEP | skip STEP BY REASON
 *
 * HANG_AT=STEP makes that action hang forever after its "start" line (to be killed mid-action).
 * PAUSE_AT=STEP makes it wait after its "start" line until the file DIR/go exists.
 * CRASH_STATE_URL keeps the run in that state database (team mode) instead of files.
 */
import { closeSync, existsSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { allSteps } from '../../machines/runbook.js';
import { t0Of } from '../../src/config/settings.js';
import { CompressedClock } from '../../src/engine/clock.js';
import { ExitError } from '../../src/engine/errors.js';
import { rehearsalIdentity } from '../../src/engine/identity.js';
import { PostgresStore } from '../../src/engine/postgres-store.js';
import { Runner } from '../../src/engine/runner.js';
import { useStore } from '../../src/engine/run-store.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { localPlan } from '../support/plan.js';

const [dir, mode, ...rest] = process.argv.slice(2) as [string, string, ...string[]];
const plan = localPlan(dir);
const effects = join(dir, 'effects.log');
if (process.env.CRASH_STATE_URL) useStore(join(dir, '.cutover'), new PostgresStore({ plan, urlEnv: 'CRASH_STATE_URL', env: process.env }));

function effect(line: string) {
  const fd = openSync(effects, 'a');
  writeSync(fd, `${line}\n`);
  fsyncSync(fd);
  closeSync(fd);
}

/** Wait to be killed; the interval keeps the process alive (a bare pending promise would not). */
const hang = () => new Promise<never>(() => setInterval(() => {}, 1_000));

/** Wait until the parent creates `file` (it changes the world meanwhile, e.g. fills the disk). */
async function waitForFile(file: string): Promise<void> {
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
}

const registry: StepRegistry = Object.fromEntries(
  allSteps().map((step) => [
    step.id,
    {
      dryRun: () => `would run ${step.id}`,
      run: async (ctx) => {
        effect(`start ${ctx.stepId} ${ctx.attempt}`);
        if (process.env.HANG_AT === ctx.stepId) await hang();
        if (process.env.PAUSE_AT === ctx.stepId) await waitForFile(join(dir, 'go'));
        effect(`end ${ctx.stepId} ${ctx.attempt}`);
        return { summary: 'ok', output: ctx.stepId === 'review.decision' ? { verdict: 'continue' } : {} };
      },
    },
  ]),
);

// Start 3 virtual days before the first gate; 100,000× makes T-48h → T+7d take a few seconds.
const start = t0Of(plan).toMillis() - 48 * 3_600_000 - 3 * 86_400_000;
const clock = new CompressedClock(Number(process.env.SPEED ?? 100_000), start - Date.now());

async function main(): Promise<number> {
  const runner = Runner.open({
    stateDir: join(dir, '.cutover'),
    plan,
    planDir: dir,
    registry,
    adapters: { dns: () => { throw new Error('unused'); }, mail: () => { throw new Error('unused'); } },
    clock,
    clockOffset: { get: () => clock.offsetMs, set: (value) => (clock.offsetMs = value) },
    mode: mode === 'drive' ? 'drive' : 'command',
    command: `crash-child ${mode}`,
    retries: 0,
  });
  if (mode === 'drive') {
    const blocked = await runner.drive({ waitGates: true });
    runner.close();
    process.stdout.write(`BLOCKED ${blocked.kind} ${blocked.location.stepId ?? blocked.location.ended ?? ''}\n`);
    return blocked.kind === 'ended' ? 0 : 3;
  }
  runner.start();
  const [stepId, by, phrase] = rest as [string, string, string?];
  // The child plays the approver it is told to (as the rehearsal does).
  const sender = { identity: rehearsalIdentity(by) };
  if (mode === 'signoff') runner.send({ type: 'SIGNOFF', stepId, by, at: clock.now() }, sender);
  else if (mode === 'retry') runner.send({ type: 'RETRY', stepId, at: clock.now() }, sender);
  else if (mode === 'skip') runner.send({ type: 'SKIP', stepId, by, reason: phrase ?? 'checked by hand', at: clock.now() }, sender);
  else runner.send({ type: 'CONFIRM', stepId, by, phrase: phrase!, at: clock.now() }, sender);
  process.stdout.write('SIGNED\n');
  if (process.env.HANG_AFTER_SIGNOFF) await hang();
  runner.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ExitError ? error.exitCode : 70);
  },
);
