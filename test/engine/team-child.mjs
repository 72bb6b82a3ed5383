// One operator's process in team mode (team-mode.test.ts), plain JS on the built engine (`npx tsc`
// first): the state is in the PostgreSQL database of CUTOVER_STATE_URL, whose login says who this is.
//
//   node team-child.mjs DIR drive              drive to the end; at a gate print WAITING KIND STEP and wait
//                                              for the event another process sends, as the UI does
//   node team-child.mjs DIR signoff STEP       `cutover signoff STEP` through the service (no --by)
//   node team-child.mjs DIR confirm STEP PHRASE
//
// TEAM_PLAN is the plan (JSON of the plan as written). Actions append "start"/"end" lines to
// DIR/effects.log; PAUSE_AT=STEP waits after its "start" until DIR/go exists.
import { closeSync, existsSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { allSteps } from '../../dist/machines/runbook.js';
import { parsePlan } from '../../dist/src/config/load.js';
import { t0Of } from '../../dist/src/config/settings.js';
import { CompressedClock, RealClock } from '../../dist/src/engine/clock.js';
import { ExitError } from '../../dist/src/engine/errors.js';
import { Runner } from '../../dist/src/engine/runner.js';
import { confirm, signoff } from '../../dist/src/services/events.js';
import { attachStateStore } from '../../dist/src/services/session.js';

const [dir, mode, ...rest] = process.argv.slice(2);
const plan = parsePlan(JSON.parse(process.env.TEAM_PLAN));
const stateDir = join(dir, '.cutover');
attachStateStore(plan, dir, stateDir, process.env);

function effect(line) {
  const fd = openSync(join(dir, 'effects.log'), 'a');
  writeSync(fd, `${line}\n`);
  fsyncSync(fd);
  closeSync(fd);
}

const registry = Object.fromEntries(
  allSteps().map((step) => [
    step.id,
    {
      dryRun: () => `would run ${step.id}`,
      run: async (ctx) => {
        effect(`start ${ctx.stepId} ${ctx.attempt}`);
        if (process.env.PAUSE_AT === ctx.stepId) while (!existsSync(join(dir, 'go'))) await new Promise((resolve) => setTimeout(resolve, 20));
        effect(`end ${ctx.stepId} ${ctx.attempt}`);
        return { summary: 'ok', output: ctx.stepId === 'review.decision' ? { verdict: 'continue' } : {} };
      },
    },
  ]),
);
const unused = () => {
  throw new Error('unused');
};
const adapters = { dns: unused, mail: unused };

async function drive() {
  // 3 virtual days before the first gate; 100,000× makes T-48h → T+7d take seconds.
  const start = t0Of(plan).toMillis() - 48 * 3_600_000 - 3 * 86_400_000;
  const clock = new CompressedClock(100_000, start - Date.now());
  const runner = Runner.open({
    stateDir, plan, planDir: dir, registry, adapters, clock, env: process.env, mode: 'drive', command: 'team-child drive', retries: 0,
    clockOffset: { get: () => clock.offsetMs, set: (value) => (clock.offsetMs = value) },
  });
  for (;;) {
    const blocked = await runner.drive({ waitGates: true });
    if (blocked.kind === 'ended') {
      runner.close();
      process.stdout.write(`ENDED ${blocked.location.ended}\n`);
      return 0;
    }
    if (blocked.kind !== 'signoff' && blocked.kind !== 'confirm') {
      runner.close();
      process.stdout.write(`STOPPED ${blocked.kind} ${blocked.location.stepId}\n`);
      return 1;
    }
    process.stdout.write(`WAITING ${blocked.kind} ${blocked.location.stepId} ${Date.now()}\n`);
    // The UI keeps its process alive with the terminal; here a timer does, until the event arrives.
    const alive = setInterval(() => {}, 1_000);
    await new Promise((resolve) => {
      const stop = runner.onEvent(() => {
        stop();
        resolve();
      });
    });
    clearInterval(alive);
    process.stdout.write(`APPLIED ${Date.now()}\n`);
  }
}

async function main() {
  if (mode === 'drive') return drive();
  const session = { plan, planFile: join(dir, 'plan'), planDir: dir, stateDir, clock: new RealClock(), registry, adapters, env: process.env };
  const io = { out: (line) => process.stdout.write(`${line}\n`) };
  const [stepId, phrase] = rest;
  return mode === 'signoff' ? signoff(session, io, stepId, {}) : confirm(session, io, stepId, { phrase });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ExitError ? error.exitCode : 70);
  },
);
