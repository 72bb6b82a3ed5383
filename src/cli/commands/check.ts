import { dirname } from 'node:path';
import { reachPlanned, reachSystems } from '../../steps/core/reach-systems.js';
import { checkNotifications } from '../../adapters/notify-check.js';
import { loadPlan } from '../../config/load.js';
import { EXIT } from '../../engine/errors.js';
import { checkCustomSteps } from '../../steps/custom/index.js';
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
  const ok = results.every((result) => result.ok);
  if (options.json) io.out(JSON.stringify({ ok, results }, null, 2));
  else for (const result of results) io.out(`${result.ok ? '✓' : '✗'} ${result.system}: ${result.message}`);
  return ok ? EXIT.ok : EXIT.attention;
}
