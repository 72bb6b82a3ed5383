import { planDatabase, retryOnlyConnectionErrors, withConnection } from '../../adapters/postgres.js';
import { ExitError } from '../../engine/errors.js';
import { output } from '../outputs.js';
import { stepGroup, type StepContext, type StepResult } from '../types.js';
import { defaultReconcileLimits, reconcile, type ReconcileLimits, type ReconcileResult } from './reconcile.js';
import { plural } from '../../engine/words.js';

export { reconcile, defaultReconcileLimits } from './reconcile.js';
export type {
  ReconcileLimits,
  ReconcileOptions,
  ReconcileResult,
  TableReconciliation,
  NamedKey,
  IngestionGap,
  BucketLabel,
  RowKind,
} from './reconcile.js';
export { renderReconcile } from './render-reconcile.js';
export { toPrometheusTextfile, writePrometheusTextfile } from './prometheus-textfile.js';

declare module '../outputs.js' {
  interface StepOutputs {
    'watch.reconcile': ReconcileResult;
  }
}

/** The freeze time, or a user error saying reconciliation needs the freeze to have happened. */
export function cutoverTimeOf(outputs: StepContext['outputs']): string {
  const time = output(outputs, 'freeze.snapshot')?.at;
  if (!time) {
    throw new ExitError(
      'Reconciliation needs the cutover point, and freeze.snapshot has not recorded one: run the window up to freeze.snapshot first.',
      2,
    );
  }
  return time;
}

/** What a reconciliation found, as a step result; anything but clean needs a person. */
export function reconcileStepResult(result: ReconcileResult): StepResult {
  const { totals } = result;
  const summary = result.clean
    ? `Reconciled ${plural(result.tables.length, 'table')}, ${totals.bucketsCompared.toLocaleString('en-US')} bucket${totals.bucketsCompared === 1 ? '' : 's'}: clean` +
      (totals.newRows > 0 ? ` (${totals.newRows.toLocaleString('en-US')} new row${totals.newRows === 1 ? '' : 's'} after the cutover point)` : '')
    : `Reconciled ${plural(result.tables.length, 'table')}: ${totals.missingRows} missing, ${totals.changedRows} changed, ` +
      `${plural(totals.extraRows, 'extra row')} in ${plural(totals.driftBuckets, 'bucket')}; ${plural(totals.gaps, 'ingestion gap')}` +
      (totals.problems > 0 ? `; ${plural(totals.problems, 'table')} not compared` : '');
  if (result.clean) return { summary, output: result };
  const reasons: string[] = [];
  if (totals.missingRows > 0) reasons.push(`data loss: ${plural(totals.missingRows, 'source row')} missing from the target`);
  if (totals.changedRows + totals.extraRows > 0) reasons.push(`drift: ${totals.changedRows} changed and ${plural(totals.extraRows, 'extra row')} before the freeze`);
  if (totals.gaps > 0) reasons.push(`${plural(totals.gaps, 'ingestion gap')} after the switch`);
  if (totals.unverifiedBuckets > 0) reasons.push(`${plural(totals.unverifiedBuckets, 'bucket')} could not be verified within the limits`);
  if (totals.problems > 0) reasons.push(`${plural(totals.problems, 'table')} could not be compared`);
  return {
    summary,
    output: result,
    attention: {
      reason: `Reconciliation: ${reasons.join('; ')}`,
      evidence: {
        checkedAt: result.checkedAt,
        totals,
        tables: result.tables
          .filter((t) => t.driftBuckets > 0 || t.gapCount > 0 || t.problem || t.unverifiedBuckets > 0)
          .map((t) => ({
            table: t.table,
            missingRows: t.missingRows,
            changedRows: t.changedRows,
            extraRows: t.extraRows,
            exact: t.exact,
            keys: t.keys,
            gaps: t.gaps,
            ...(t.problem ? { problem: t.problem } : {}),
          })),
      },
    },
  };
}

/** Run a reconciliation with the plan's databases and the run's cutover point. */
export async function reconcileFromContext(ctx: StepContext, limits?: Partial<ReconcileLimits>): Promise<ReconcileResult> {
  const time = cutoverTimeOf(ctx.outputs);
  // Drift is an answer, not a failure; an SQL error gives the same answer again: only connection
  // trouble is worth the engine's retry.
  return retryOnlyConnectionErrors(() =>
    withConnection(planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir), (source) =>
      withConnection(planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir), (target) =>
        reconcile(ctx.plan, {
          source,
          target,
          cutoverPoint: { time },
          ...(ctx.switchedAt ? { switchedAt: ctx.switchedAt } : {}),
          now: new Date(ctx.clock.now()),
          ...(limits ? { limits } : {}),
          onTable: (table, index, total) => ctx.progress({ label: `reconcile ${table}`, done: index, total, unit: 'tables' }),
        }),
      ),
    ),
  );
}

const watchReconcile = {
  async run(ctx: StepContext): Promise<StepResult> {
    const result = await reconcileFromContext(ctx);
    return reconcileStepResult(result);
  },
  dryRun(ctx: StepContext): string {
    const lines = [
      'Would compare source and target per table, in one read-only pass on each side:',
      ...ctx.plan.tables.map((table) => {
        const groups = [...(table.reconcile?.groupBy ?? []), ...(table.reconcile?.bucket ? [table.reconcile.bucket] : [])];
        const by = groups.length > 0 ? groups.join(' × ') : 'whole table';
        const gaps = table.appendOnly && table.timestampColumn ? `; ingestion gaps over ${ctx.plan.thresholds.readingsGap}` : '';
        return `  ${table.name}: count + content hash by ${by}${table.timestampColumn ? `, split at the freeze on ${table.timestampColumn}` : ''}${gaps}`;
      }),
      `Mismatched buckets are narrowed to row keys (at most ${defaultReconcileLimits.keysPerBucket} per bucket, ` +
        `${defaultReconcileLimits.keysPerRun.toLocaleString('en-US')} per run, ${defaultReconcileLimits.narrowTimeoutMs / 1000} s per query). No writes.`,
    ];
    return lines.join('\n');
  },
};

export const reconcileSteps = stepGroup({
  'watch.reconcile': watchReconcile,
});
