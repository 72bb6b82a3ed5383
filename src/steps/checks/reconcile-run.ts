import { relative } from 'node:path';
import type pg from 'pg';
import { planDatabase } from '../../adapters/postgres.js';
import type { Plan } from '../../config/schema.js';
import type { Clock } from '../../engine/clock.js';
import { EXIT, ExitError } from '../../engine/errors.js';
import { appendUnderLock } from '../../engine/locked-journal.js';
import {
  cutoverTimeOf,
  reconcile,
  reconcileStepResult,
  toPrometheusTextfile,
  writePrometheusTextfile,
  type ReconcileResult,
} from '../reconcile/index.js';
import { RECONCILE_SUMMARY } from './decision-inputs.js';
import { readRunEvidence } from './run-evidence.js';
import { lastCompleteRun, loadStoredReconciliations, storeReconciliation } from './stored-reconciliations.js';

/**
 * `cutover reconcile` for cron / systemd: reconcile source and target against the run's cutover
 * point, keep the result, add a summary to the journal, write the Prometheus textfile.
 *
 * It never drives the run and holds the lock only for the one journal line, so it can run while a
 * runner is working: then the line is skipped (and said so) but the stored file still counts as
 * evidence for `cutover decide` and `review.decision`.
 */

export interface ReconcileRunOptions {
  /** node_exporter textfile to write (atomically). */
  prometheusTextfile?: string;
}

export interface ReconcileRun {
  runId: string;
  result: ReconcileResult;
  /** One line, as the journal gets it. */
  summary: string;
  /** Why it is not clean, when it is not. */
  attention?: string;
  /** Where the result was stored, or why it could not be. */
  stored: { file: string } | { problem: string };
  journal: { appended: true; seq: number } | { appended: false; reason: string };
  textfile?: { file: string; written: true } | { file: string; problem: string };
  /** 0 clean; 1 drift, data loss, gaps or unverified buckets; 2 a table not compared or a write failed. */
  exitCode: number;
}

export interface ReconcileSession {
  plan: Plan;
  stateDir: string;
  env: Record<string, string | undefined>;
  clock: Clock;
  /** Folder of the plan file, for paths in it (tls.caFile). */
  planDir?: string;
}

export async function runReconcile(session: ReconcileSession, options: ReconcileRunOptions = {}): Promise<ReconcileRun> {
  const { plan, stateDir, env, clock } = session;
  const evidence = readRunEvidence(plan, stateDir, 'there is no cutover point (freeze.snapshot) to reconcile against');
  const time = cutoverTimeOf(evidence.outputs);
  const switchedAt = evidence.context.switchedAt;
  const source = await connect(plan, env, 'source', session.planDir);
  let result: ReconcileResult;
  try {
    const target = await connect(plan, env, 'target', session.planDir);
    try {
      result = await reconcile(plan, {
        source,
        target,
        cutoverPoint: { time },
        ...(switchedAt !== undefined ? { switchedAt: new Date(switchedAt).toISOString() } : {}),
        now: new Date(clock.now()),
      });
    } finally {
      await target.end().catch(() => {});
    }
  } finally {
    await source.end().catch(() => {});
  }
  const step = reconcileStepResult(result);
  let exitCode = result.clean ? EXIT.ok : classify(result);

  let stored: ReconcileRun['stored'];
  try {
    stored = { file: await storeReconciliation(stateDir, evidence.runId, result) };
  } catch (error) {
    stored = { problem: `could not store the result in ${stateDir}: ${(error as Error).message}` };
    exitCode = EXIT.usage;
  }

  const journal = appendSummary(stateDir, clock.now(), {
    source: 'cutover reconcile',
    runId: evidence.runId,
    checkedAt: result.checkedAt,
    cutoverPoint: result.cutoverPoint,
    ...(result.switchedAt ? { switchedAt: result.switchedAt } : {}),
    clean: result.clean,
    totals: result.totals,
    summary: step.summary,
    ...(step.attention ? { attention: step.attention.reason } : {}),
    ...('file' in stored ? { file: relative(stateDir, stored.file) } : {}),
  });
  if (!journal.appended && !journal.locked) exitCode = EXIT.usage;

  let textfile: ReconcileRun['textfile'];
  if (options.prometheusTextfile) {
    const file = options.prometheusTextfile;
    // Last success moves only when every table was compared, so a broken run lets the alert fire.
    const lastSuccess = lastCompleteRun([...loadStoredReconciliations(stateDir, evidence.runId), result]) ?? new Date(0);
    try {
      await writePrometheusTextfile(file, toPrometheusTextfile(result, { lastSuccess }));
      textfile = { file, written: true };
    } catch (error) {
      textfile = { file, problem: `could not write ${file}: ${(error as Error).message}` };
      exitCode = EXIT.usage;
    }
  }

  return {
    runId: evidence.runId,
    result,
    summary: step.summary,
    ...(step.attention ? { attention: step.attention.reason } : {}),
    stored,
    journal: journal.appended ? { appended: true, seq: journal.seq } : { appended: false, reason: journal.reason },
    ...(textfile ? { textfile } : {}),
    exitCode,
  };
}

/** A side that is not configured or not reachable is the operator's to fix (exit 2), not a bug. */
async function connect(plan: Plan, env: Record<string, string | undefined>, side: 'source' | 'target', planDir?: string): Promise<pg.Client> {
  try {
    return await planDatabase(plan, env, side, planDir).connect();
  } catch (error) {
    throw new ExitError((error as Error).message, EXIT.usage);
  }
}

/** Something found (1), or only "could not compare" (2). */
function classify(result: ReconcileResult): number {
  const t = result.totals;
  return t.missingRows + t.driftRows + t.gaps + t.unverifiedBuckets > 0 ? EXIT.attention : EXIT.usage;
}

type Appended = { appended: true; seq: number } | { appended: false; locked: boolean; reason: string };

/** One journal line under the lock; a runner holding it means "skip", not "fail". */
function appendSummary(stateDir: string, at: number, fields: Record<string, unknown>): Appended {
  try {
    return { appended: true, seq: appendUnderLock(stateDir, 'cutover reconcile', () => at, (journal) => journal.append(at, RECONCILE_SUMMARY, fields).seq) };
  } catch (error) {
    if (!(error instanceof ExitError)) throw error;
    if (error.exitCode === EXIT.locked) return { appended: false, locked: true, reason: `the journal line was skipped: ${error.message}` };
    return { appended: false, locked: false, reason: `the journal line was not written: ${error.message}` };
  }
}
