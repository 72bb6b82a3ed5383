import { runbookOfPlan } from '../../config/custom-steps.js';
import { loadPlan } from '../../config/load.js';
import { EXIT } from '../../engine/errors.js';
import { showLog } from '../../services/journal-log.js';
import type { GlobalOptions, Io } from '../io.js';
import { attachStateStore, stateDirOf } from '../../services/session.js';

export interface LogFlags {
  follow?: boolean;
  step?: string;
  json?: boolean;
}

/** `cutover log [--follow] [--step ID] [--json]`: read the journal; --follow until Ctrl-C. */
export async function log(globals: GlobalOptions, flags: LogFlags, io: Io): Promise<number> {
  const { plan, file, dir } = await loadPlan(globals.config);
  const stateDir = stateDirOf(globals, file);
  attachStateStore(plan, dir, stateDir, io.env);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await showLog(
      { stateDir, zone: plan.t0.zone, runbook: runbookOfPlan(plan), ...(flags.step ? { stepId: flags.step } : {}), json: Boolean(flags.json), follow: Boolean(flags.follow), signal: controller.signal, warn: (text) => io.err(text) },
      (line) => io.out(line),
    );
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
