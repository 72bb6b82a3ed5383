import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import type { ReconcileResult } from '../reconcile/index.js';

/**
 * `cutover reconcile` keeps every run as `<stateDir>/reconcile/<checkedAt>.json`: the full result
 * (named keys, gaps), so the decision and the report can use a run whose journal line had to be
 * skipped because a runner held the lock. Owner-only: the keys name rows of personal data.
 */

export interface StoredReconciliation extends ReconcileResult {
  runId: string;
}

export function reconcileDir(stateDir: string): string {
  return join(stateDir, 'reconcile');
}

/** Write one run; returns the file's path. Never overwrites an earlier run with the same time. */
export async function storeReconciliation(stateDir: string, runId: string, result: ReconcileResult): Promise<string> {
  const dir = reconcileDir(stateDir);
  const stem = result.checkedAt.replaceAll(':', '-');
  let file = join(dir, `${stem}.json`);
  for (let n = 2; existsSync(file); n += 1) file = join(dir, `${stem}-${n}.json`);
  const stored: StoredReconciliation = { runId, ...result };
  await writeFileAtomic(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, dirMode: 0o700 });
  return file;
}

/** Every stored run of this cutover, oldest first. A file that does not parse is left out. */
export function loadStoredReconciliations(stateDir: string, runId?: string): StoredReconciliation[] {
  const dir = reconcileDir(stateDir);
  if (!existsSync(dir)) return [];
  const runs: StoredReconciliation[] = [];
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.json')).sort()) {
    try {
      const stored = JSON.parse(readFileSync(join(dir, name), 'utf8')) as StoredReconciliation;
      if (runId === undefined || stored.runId === runId) runs.push(stored);
    } catch {
      // A torn file cannot come from writeFileAtomic; one edited by hand is not evidence.
    }
  }
  return runs.sort((a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt));
}

/** When reconciliation last compared every table (for the textfile's staleness alert). */
export function lastCompleteRun(runs: readonly ReconcileResult[]): Date | undefined {
  const complete = runs.filter((run) => run.totals.problems === 0).at(-1);
  return complete ? new Date(complete.checkedAt) : undefined;
}
