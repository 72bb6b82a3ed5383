/**
 * A runner in its own process for the plan-steps test: the plan file in DIR (with steps of its own),
 * the steps the plan adds running for real (HTTP to a contract fake, SQL on a real PostgreSQL), the
 * built-in ones replaced by actions that only record that they ran (effects.log). The parent SIGKILLs
 * it mid-step.
 *
 *   plan-steps-child.ts DIR drive               run until it needs a person (exit 3) or the end (exit 0)
 *   plan-steps-child.ts DIR signoff STEP BY     record a sign-off
 *   plan-steps-child.ts DIR retry STEP | skip STEP BY REASON
 *   plan-steps-child.ts DIR abort BY REASON
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPlan } from '../../src/config/load.js';
import { runbookOfPlan } from '../../src/config/custom-steps.js';
import { rollbackPhrase, t0Of } from '../../src/config/settings.js';
import { CompressedClock } from '../../src/engine/clock.js';
import { ExitError } from '../../src/engine/errors.js';
import { rehearsalIdentity } from '../../src/engine/identity.js';
import { Runner } from '../../src/engine/runner.js';
import { customStepActions } from '../../src/steps/custom/index.js';
import type { StepRegistry } from '../../src/steps/types.js';

const [dir, mode, ...rest] = process.argv.slice(2) as [string, string, ...string[]];

async function main(): Promise<number> {
  const { plan } = await loadPlan(join(dir, 'cutover.config.ts'));
  const builtIn: StepRegistry = Object.fromEntries(
    runbookOfPlan(plan)
      .allSteps()
      .filter((step) => !step.addedByPlan)
      .map((step) => [
        step.id,
        {
          dryRun: () => `would run ${step.id}`,
          run: async (ctx) => {
            appendFileSync(join(dir, 'effects.log'), `ran ${ctx.stepId}\n`);
            return { summary: 'ok', output: step.kind === 'decision' ? { verdict: 'continue' } : {} };
          },
        },
      ]),
  );
  // The prep phase is open from the start; 1000× keeps the later gates from passing while the test looks.
  const start = t0Of(plan).toMillis() - 48 * 3_600_000;
  const clock = new CompressedClock(1_000, start - Date.now());
  const runner = Runner.open({
    stateDir: join(dir, '.cutover'),
    plan,
    planDir: dir,
    registry: { ...builtIn, ...customStepActions(plan) },
    adapters: { dns: () => { throw new Error('unused'); }, mail: () => { throw new Error('unused'); } },
    clock,
    clockOffset: { get: () => clock.offsetMs, set: (value) => (clock.offsetMs = value) },
    env: process.env,
    mode: mode === 'drive' ? 'drive' : 'command',
    command: `plan-steps-child ${mode}`,
    retries: 0,
  });
  if (mode === 'drive') {
    const blocked = await runner.drive({ waitGates: false });
    runner.close();
    process.stdout.write(`BLOCKED ${blocked.kind} ${blocked.location.stepId ?? blocked.location.ended ?? ''}\n`);
    return blocked.kind === 'ended' ? 0 : 3;
  }
  runner.start();
  if (mode === 'abort') {
    const [by, reason] = rest as [string, string];
    runner.send({ type: 'ABORT', by, reason, at: clock.now() }, { identity: rehearsalIdentity(by), phrase: rollbackPhrase(plan) });
    runner.close();
    return 0;
  }
  const [stepId, by, reason] = rest as [string, string, string?];
  const sender = { identity: rehearsalIdentity(by ?? 'Ana Ruiz') };
  if (mode === 'signoff') runner.send({ type: 'SIGNOFF', stepId, by, at: clock.now() }, sender);
  else if (mode === 'retry') runner.send({ type: 'RETRY', stepId, at: clock.now() }, sender);
  else runner.send({ type: 'SKIP', stepId, by, reason: reason ?? 'checked by hand', at: clock.now() }, sender);
  runner.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(error instanceof ExitError ? error.exitCode : 70);
  },
);
