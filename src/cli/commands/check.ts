import { dirname } from 'node:path';
import { reachPlanned, reachSystems } from '../../steps/core/reach-systems.js';
import { checkNotifications } from '../../adapters/notify-check.js';
import { loadPlan } from '../../config/load.js';
import { checkCustomSteps } from '../../steps/custom/index.js';
import type { Plan } from '../../config/schema.js';
import { EXIT, ExitError } from '../../engine/errors.js';
import { recognise } from '../../engine/identity.js';
import { STATE_SCHEMA } from '../../engine/postgres-store.js';
import { stateStoreOf } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

export interface CheckResult {
  system: string;
  ok: boolean;
  message: string;
}

/** Validate the plan (exit 2 on errors), then reach every system it names (exit 1 if one fails). */
export async function check(globals: GlobalOptions, options: { json?: boolean }, io: Io): Promise<number> {
  const { plan, file } = await loadPlan(globals.config);
  // Notification targets are checked here, not in prep.preflight: a dead chat webhook must not stop the run.
  const results: CheckResult[] = [
    { system: 'plan', ok: true, message: `${file} is valid` },
    ...(await reachSystems(plan, dirname(file), io.env)),
    ...(await reachPlanned(plan, io.env)),
    ...(await checkNotifications(plan, io.env)),
    ...checkCustomSteps(plan, io.env),
  ];
  const state = checkStateStore(plan, dirname(file), io.env);
  if (state) results.push(state.result);
  const ok = results.every((result) => result.ok);
  if (options.json) io.out(JSON.stringify({ ok, results }, null, 2));
  else for (const result of results) io.out(`${result.ok ? '✓' : '✗'} ${result.system}: ${result.message}`);
  // A state database that is not set or cannot be reached is a plan/usage error: nothing can run.
  return state?.usage ? EXIT.usage : ok ? EXIT.ok : EXIT.attention;
}

/** Team mode: reach the state database, create its schema if missing, and say who this login is. */
function checkStateStore(plan: Plan, planDir: string, env: Record<string, string | undefined>): { result: CheckResult; usage: boolean } | undefined {
  const store = stateStoreOf(plan, planDir, env);
  if (!store) return undefined;
  const system = `state database (${plan.state!.postgres!.urlEnv})`;
  try {
    const { login, created } = store.connect();
    const person = recognise(plan, login, 'postgres-login');
    const who = person.known ? `${person.name} (PostgreSQL login ${login})` : `PostgreSQL login ${login}, which no person of the plan has (approvers[].pg): it may drive the run but pass no gate`;
    return { usage: false, result: { system, ok: true, message: `reached as ${who}; schema ${STATE_SCHEMA} ${created ? 'created' : 'ready'}` } };
  } catch (error) {
    if (!(error instanceof ExitError)) throw error;
    return { usage: error.exitCode === EXIT.usage, result: { system, ok: false, message: error.message } };
  } finally {
    store.close();
  }
}
