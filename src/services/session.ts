import { dirname, join, resolve } from 'node:path';
import type { Plan } from '../config/schema.js';
import { loadPlan } from '../config/load.js';
import { CompressedClock, ManualClock, RealClock, type Clock } from '../engine/clock.js';
import { ExitError } from '../engine/errors.js';
import { PostgresStore } from '../engine/postgres-store.js';
import { useStore } from '../engine/run-store.js';
import { Runner, type RunnerOptions } from '../engine/runner.js';
import { mirrorSideFiles } from '../engine/side-files.js';
import { registryFor } from '../steps/registry.js';
import type { Adapters, StepRegistry } from '../steps/types.js';
import { createAdapters } from '../adapters/providers.js';
import { notifierFor } from './notify-run.js';
import type { Notifier } from './notifier.js';
import type { GlobalOptions, Io } from './io.js';

/** State lives beside the plan unless --state says otherwise. */
export function stateDirOf(globals: GlobalOptions, planFile: string): string {
  return globals.state ? resolve(globals.state) : join(dirname(resolve(planFile)), '.cutover');
}

/**
 * The engine's clock. `CUTOVER_CLOCK` is for rehearsals and tests: `compressed:SPEED[@ISO]` runs
 * waits SPEED times faster (starting at ISO for a new run), `manual:ISO` stands still at ISO.
 */
export function clockFromEnv(env: Record<string, string | undefined>): { clock: Clock; offset?: RunnerOptions['clockOffset'] } {
  const spec = env.CUTOVER_CLOCK;
  if (!spec || spec === 'real') return { clock: new RealClock() };
  const compressed = /^compressed:(\d+(?:\.\d+)?)(?:@(.+))?$/.exec(spec);
  if (compressed) {
    const start = compressed[2] ? Date.parse(compressed[2]) : Date.now();
    if (Number.isNaN(start)) throw new ExitError(`CUTOVER_CLOCK: ${compressed[2]} is not a time`, 2);
    const clock = new CompressedClock(Number(compressed[1]), start - Date.now());
    return { clock, offset: { get: () => clock.offsetMs, set: (value) => (clock.offsetMs = value) } };
  }
  const manual = /^manual:(.+)$/.exec(spec);
  if (manual && !Number.isNaN(Date.parse(manual[1]!))) return { clock: new ManualClock(Date.parse(manual[1]!)) };
  throw new ExitError(`CUTOVER_CLOCK="${spec}" is not understood: use real, compressed:SPEED[@ISO] or manual:ISO`, 2);
}

/**
 * Team mode: when the plan keeps the state in PostgreSQL, the run of `stateDir` lives there for this
 * process (nothing connects until the run is read or written). Returns the store, if any.
 */
export function attachStateStore(plan: Plan, planDir: string, stateDir: string, env: Record<string, string | undefined>): PostgresStore | undefined {
  const store = stateStoreOf(plan, planDir, env);
  if (store) {
    useStore(stateDir, store);
    mirrorSideFiles(stateDir, store);
  }
  return store;
}

/** The plan's state database, not connected yet (undefined: the state is kept in files). */
export function stateStoreOf(plan: Plan, planDir: string, env: Record<string, string | undefined>): PostgresStore | undefined {
  const postgres = plan.state?.postgres;
  if (!postgres) return undefined;
  return new PostgresStore({
    plan,
    urlEnv: postgres.urlEnv,
    teamRole: postgres.teamRole,
    tls: postgres.tls ? { caFile: resolve(planDir, postgres.tls.caFile) } : undefined,
    env,
  });
}

export interface Session {
  plan: Plan;
  planFile: string;
  planDir: string;
  stateDir: string;
  clock: Clock;
  clockOffset?: RunnerOptions['clockOffset'];
  registry: StepRegistry;
  adapters: Adapters;
  env: Record<string, string | undefined>;
}

export async function openSession(globals: GlobalOptions, io: Io): Promise<Session> {
  const { plan, file, dir } = await loadPlan(globals.config);
  const { clock, offset } = clockFromEnv(io.env);
  const stateDir = stateDirOf(globals, file);
  attachStateStore(plan, dir, stateDir, io.env);
  return {
    plan,
    planFile: file,
    planDir: dir,
    stateDir,
    clock,
    ...(offset ? { clockOffset: offset } : {}),
    registry: registryFor(plan),
    adapters: createAdapters(plan, dir, io.env),
    env: io.env,
  };
}

export function openRunner(session: Session, mode: RunnerOptions['mode'], command: string, extra: Partial<RunnerOptions> = {}): Runner {
  // Only the driver tells the team: a recording command's events reach them when the driver applies them.
  let notifier: Notifier | undefined;
  const runner = Runner.open({
    stateDir: session.stateDir,
    plan: session.plan,
    planDir: session.planDir,
    registry: session.registry,
    adapters: session.adapters,
    clock: session.clock,
    env: session.env,
    mode,
    command,
    ...(session.clockOffset ? { clockOffset: session.clockOffset } : {}),
    ...extra,
    onJournal: (entry) => {
      extra.onJournal?.(entry);
      notifier?.onEntry(entry);
    },
  });
  if (mode === 'drive') notifier = notifierFor(session, runner);
  return runner;
}
