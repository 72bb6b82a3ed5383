import { parseDuration } from '../../../machines/schedule.js';
import { planDatabase, readDatabaseUrl, withConnection, type Database } from '../../adapters/postgres.js';
import { normalizeTableName } from '../data/catalog.js';
import type { CutoverPoint } from '../data/manifest.js';
import type { StepAction, StepContext, StepResult } from '../types.js';
import { fingerprintChanges, readFingerprint, type SchemaFingerprint } from './fingerprint.js';
import { replicationNames, reverseNames } from './names.js';
import { drainReverse, dropReverse, reverseRunning, startReverse } from './reverse.js';
import { dropReplication, type Dropped } from './objects.js';
import { rebuildIndexes } from './indexes.js';
import { forgetHolder, prepareReplication } from './prepare.js';
import { copySequences, drainToFreeze, recordReplicatedTables } from './window.js';
import { preVerify, stopMarking } from './delta-verify.js';

/**
 * The `replicate` strategy's step actions. prep.replicate is its own step; in the window it takes
 * over three data steps (see `byStrategy` in the registry), and abort, rollback and close begin by
 * removing whatever it left (see `withReplicationCleanup`).
 */

const tableNames = (ctx: StepContext) => ctx.plan.tables.map((t) => normalizeTableName(t.name));
const source = (ctx: StepContext): Database => planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir);
const target = (ctx: StepContext): Database => planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir);
const isReplicate = (ctx: Pick<StepContext, 'plan'>) => ctx.plan.strategy === 'replicate';

export const prepReplicate: StepAction = {
  async run(ctx) {
    if (!isReplicate(ctx)) {
      return { summary: 'Strategy is copy: nothing to prepare (the data moves inside the window)', output: { strategy: 'copy' } };
    }
    const { workers, chunkRows } = ctx.plan.replicate;
    const result = await prepareReplication({
      source: source(ctx),
      target: target(ctx),
      sourceUrl: readDatabaseUrl(ctx.env, ctx.plan.source.urlEnv, 'source'),
      runId: ctx.runId,
      stateDir: ctx.stateDir,
      tables: ctx.plan.tables,
      workers,
      chunkRows,
      progress: (p) => ctx.progress(p),
      note: (m) => ctx.note(m),
      signal: ctx.signal,
    });
    const copy = result.copy;
    const skipped = copy?.tables.reduce((sum, t) => sum + t.chunksSkipped, 0) ?? 0;
    const summary =
      result.resumed === 'streaming'
        ? `Replication already running (subscription ${result.names.subscription})`
        : `Copied ${copy?.rows ?? 0} rows from the slot's snapshot at ${result.startLsn} with ${workers} workers` +
          (copy ? ` in ${(copy.durationMs / 1000).toFixed(1)} s (${copy.rowsPerSecond} rows/s)` : '') +
          (result.rebuilt ? `, ${result.rebuilt} indexes and keys set aside for it built again in ${(result.rebuildMs / 1000).toFixed(1)} s` : '') +
          (skipped ? `, ${skipped} chunks already copied before an interruption` : '') +
          `; subscription ${result.names.subscription} streams changes from the source`;
    return {
      summary,
      output: {
        strategy: 'replicate',
        ...result.names,
        startLsn: result.startLsn,
        resumed: result.resumed,
        droppedStaleSlot: result.droppedStaleSlot,
        rows: copy?.rows ?? null,
        durationMs: copy?.durationMs ?? null,
        rowsPerSecond: copy?.rowsPerSecond ?? null,
        indexesRebuilt: result.rebuilt,
        rebuildMs: result.rebuildMs,
        tables: copy?.tables ?? null,
        fingerprint: result.fingerprint,
      },
    };
  },
  dryRun(ctx) {
    if (!isReplicate(ctx)) return 'Nothing: the plan\'s strategy is copy.';
    const names = replicationNames('<run id>');
    return [
      `On the source (${ctx.plan.source.urlEnv}, a direct connection):`,
      `  CREATE PUBLICATION ${names.publication} FOR TABLE <the ${tableNames(ctx).length} plan tables>, cutover_meta.replication_marker;`,
      `  CREATE_REPLICATION_SLOT ${names.slot} LOGICAL pgoutput EXPORT_SNAPSHOT   (replication connection, held by a detached process)`,
      `Then ${ctx.plan.replicate.workers} workers copy every table from that snapshot (SET TRANSACTION SNAPSHOT), tables above`,
      `${ctx.plan.replicate.chunkRows} rows in key ranges: COPY (SELECT ...) TO STDOUT → COPY <table> FROM STDIN on the target,`,
      `one transaction per range, recorded in cutover_meta.replicate_copied (a resumed run skips recorded ranges). Then on the target:`,
      `  CREATE SUBSCRIPTION ${names.subscription} CONNECTION '<source>' PUBLICATION ${names.publication}`,
      `    WITH (create_slot = false, slot_name = '${names.slot}', copy_data = false);`,
    ].join('\n');
  },
};

/**
 * window.pre-verify: the content comparison done while writes still flow, so that migrate.verify in
 * the freeze compares only the key ranges written since (delta-verify.ts argues why that is a proof).
 */
const preVerifyStep: StepAction = {
  async run(ctx) {
    if (!isReplicate(ctx)) return { summary: 'Strategy is copy: the content is verified in the window', output: { strategy: 'copy' } };
    const result = await preVerify({ source: source(ctx), target: target(ctx), runId: ctx.runId, tables: ctx.plan.tables });
    const ranges = result.tables.reduce((sum, t) => sum + t.bounds.length + 1, 0);
    const differing = result.tables.reduce((sum, t) => sum + t.differing.length, 0);
    const rows = result.tables.reduce((sum, t) => sum + t.rows, 0);
    return {
      summary:
        `Compared ${rows} rows in ${ranges} key ranges of ${result.tables.length} tables in ${(result.durationMs / 1000).toFixed(1)} s while replicating: ` +
        `${differing} range${differing === 1 ? '' : 's'} differed (changes still on their way); every write to the target is marked from now on, ` +
        `so migrate.verify compares only those and the marked ranges`,
      output: {
        strategy: 'replicate',
        durationMs: result.durationMs,
        tables: result.tables.map((t) => ({ table: t.table, rows: t.rows, ranges: t.bounds.length + 1, differing: t.differing.length, keyColumn: t.keyColumn, durationMs: t.durationMs })),
      },
    };
  },
  dryRun(ctx) {
    if (!isReplicate(ctx)) return 'Nothing: the plan\'s strategy is copy.';
    return [
      `On the target (${ctx.plan.target.urlEnv}), in one transaction: for every plan table`,
      `  CREATE TRIGGER cutover_verify_mark AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW (and one AFTER TRUNCATE),`,
      `  ALTER TABLE <table> ENABLE ALWAYS TRIGGER ...   (fires for the subscription's apply worker too),`,
      `recording the first key column of every changed row in cutover_meta.verify_marks. Then, per table, key range bounds`,
      `sampled from the source, and on both sides`,
      `  SELECT width_bucket(<key>, <bounds>), count(*), sum(<row hash, as migrate.verify>) FROM <table> GROUP BY 1;`,
      `ranges that differ are recorded in cutover_meta.verified_before. Tables:`,
      ...tableNames(ctx).map((t) => `  ${t}`),
    ].join('\n');
  },
};

/** export.tables in replicate mode: the target applies everything up to the freeze. */
const drainStep: StepAction = {
  async run(ctx) {
    const point = ctx.outputs['freeze.snapshot'] as CutoverPoint | undefined;
    if (!point?.lsn) throw Object.assign(new Error('freeze.snapshot has not recorded the cutover point yet.'), { retryable: false });
    await refuseSchemaChanges(ctx);
    const result = await drainToFreeze({
      source: source(ctx),
      target: target(ctx),
      names: replicationNames(ctx.runId),
      freezeLsn: point.lsn,
      timeoutMs: parseDuration(ctx.plan.replicate.drainTimeout),
      signal: ctx.signal,
    });
    return {
      summary: `Target applied every change up to the freeze (${result.freezeLsn}) in ${(result.waitedMs / 1000).toFixed(2)} s; lag at the freeze ${result.lagBytesAtStart ?? '?'} bytes`,
      output: { strategy: 'replicate', ...result },
    };
  },
  dryRun: (ctx) =>
    [
      `Strategy replicate: no export. On the source, after the freeze:`,
      `  INSERT INTO cutover_meta.replication_marker (run_id, token, lsn) VALUES (<slot>, <token>, pg_current_wal_lsn());`,
      `then wait (up to ${ctx.plan.replicate.drainTimeout}) until that row is on the target: the subscription applies in commit order,`,
      `so every write before the freeze is then on the target.`,
    ].join('\n'),
};

/** DDL on the source since prep.replicate is not replicated: name it before waiting for a drain that cannot finish. */
async function refuseSchemaChanges(ctx: StepContext): Promise<void> {
  const recorded = (ctx.outputs['prep.replicate'] as { fingerprint?: SchemaFingerprint } | undefined)?.fingerprint;
  if (!recorded) return;
  const now = await withConnection(source(ctx), (client) => readFingerprint(client, tableNames(ctx)));
  const changes = fingerprintChanges(recorded, now);
  if (changes.length === 0) return;
  throw Object.assign(
    new Error(
      `The source's schema changed since prep.replicate, and logical replication does not carry DDL: ${changes.join('; ')}. ` +
        `Apply the same change to the target (its subscription then applies the waiting rows), then run cutover retry export.tables.`,
    ),
    { retryable: false },
  );
}

const noExportStep: StepAction = {
  async run() {
    return { summary: 'Strategy replicate: no export files to verify (the target was kept current by replication)', output: { strategy: 'replicate' } };
  },
  dryRun: () => 'Strategy replicate: nothing (no export files).',
};

/** migrate.load in replicate mode: sequences across, then the replication taken down. */
const detachStep: StepAction = {
  async run(ctx) {
    const point = ctx.outputs['freeze.snapshot'] as CutoverPoint | undefined;
    if (!point?.lsn) throw Object.assign(new Error('freeze.snapshot has not recorded the cutover point yet.'), { retryable: false });
    const sequences = await copySequences({ source: source(ctx), target: target(ctx), tables: tableNames(ctx) });
    // As migrate.load does in copy mode: the rollback's delta export looks for the tables a run filled.
    await recordReplicatedTables({ target: target(ctx), runId: ctx.runId, counts: point.counts, lsn: point.lsn });
    const dropped = await dropAll(ctx, { marks: false });
    // Both sides frozen and equal, nothing written to the target yet: from here its writes flow back.
    const reverse = await startReverse({
      source: source(ctx),
      target: target(ctx),
      targetUrl: readDatabaseUrl(ctx.env, ctx.plan.target.urlEnv, 'target'),
      names: reverseNames(ctx.runId),
      tables: tableNames(ctx),
    });
    return {
      summary:
        `${sequences.length} sequence${sequences.length === 1 ? '' : 's'} positioned as on the source; ` +
        `replication removed (${describeDropped(dropped)}); ` +
        (reverse.started
          ? `the target's changes now flow back to the source (subscription ${reverseNames(ctx.runId).subscription} on the source), so a rollback loses nothing`
          : `no reverse replication (${reverse.reason}): a rollback exports the target's changes and re-imports them`),
      output: { strategy: 'replicate', sequences, dropped, reverse },
    };
  },
  dryRun: (ctx) =>
    [
      `Strategy replicate: for every sequence a plan table uses (owned by a column or only in a column default), on the target,`,
      `as migrate.load does in copy mode: the source's position, or just past the columns' values in the sequence's direction:`,
      `  SELECT setval(<sequence>, <position>, <is_called>);`,
      `  INSERT INTO cutover_meta.loaded (run_id, table_name, rows, sha256) ... ('replicated up to <freeze LSN>'), per plan table;`,
      `then DROP SUBSCRIPTION on the target (${ctx.plan.target.urlEnv}), and on the source pg_drop_replication_slot, DROP PUBLICATION,`,
      `DROP TABLE cutover_meta.replication_marker.`,
    ].join('\n'),
};

async function dropAll(ctx: StepContext, options: { marks: boolean }): Promise<Dropped> {
  const names = replicationNames(ctx.runId);
  const src = await source(ctx).connect();
  try {
    const tgt = await target(ctx).connect();
    try {
      // At abort, rollback and close: the verify marks of window.pre-verify (their triggers would slow
      // every write). Not at the detach: migrate.verify, after it, reads them.
      if (options.marks) {
        await stopMarking(src);
        await stopMarking(tgt);
      }
      const dropped = await dropReplication(src, tgt, names);
      // An initial copy stopped half-way set the large tables' indexes aside: the target gets them back.
      await rebuildIndexes(tgt, ctx.runId);
      return dropped;
    } finally {
      await tgt.end().catch(() => {});
    }
  } finally {
    await src.end().catch(() => {});
    await forgetHolder(ctx.stateDir, ctx.runId);
  }
}

function describeDropped(d: Dropped): string {
  const gone = [d.subscription && 'subscription', d.slot && 'slot', d.publication && 'publication', d.marker && 'marker table'].filter(Boolean);
  return gone.length ? `dropped ${gone.join(', ')}` : 'nothing was left';
}

/** In replicate mode, `replicate` runs instead of `copy`. */
export function byStrategy(copy: StepAction, replicate: StepAction): StepAction {
  return {
    run: (ctx) => (isReplicate(ctx) ? replicate.run(ctx) : copy.run(ctx)),
    dryRun: (ctx) => (isReplicate(ctx) ? replicate.dryRun(ctx) : copy.dryRun(ctx)),
  };
}

/**
 * Abort, rollback and close begin by removing every replication object of the run, so that nothing
 * is left on the source (an orphaned slot keeps WAL until the disk fills). Idempotent: whatever is
 * already gone is skipped.
 */
export function withReplicationCleanup(inner: StepAction, options: { drainReverse?: boolean } = {}): StepAction {
  return {
    async run(ctx): Promise<StepResult> {
      if (!isReplicate(ctx)) return inner.run(ctx);
      // The rollback drains the reverse replication once the target is frozen (its marker table must
      // still be there); abort and close just remove it, before anything else.
      const drain = options.drainReverse === true;
      let reverse = drain ? undefined : await endReverse(ctx, false);
      const result = drain ? await inner.run(ctx) : undefined;
      if (drain) reverse = await endReverse(ctx, true);
      const dropped = await dropAll(ctx, { marks: true });
      ctx.note(`replication of this run: ${describeDropped(dropped)}`);
      const done = result ?? (await inner.run(ctx));
      const output = done.output && typeof done.output === 'object' ? done.output : { result: done.output };
      return {
        ...done,
        summary: `${done.summary}; replication: ${describeDropped(dropped)}${reverse ? `; ${reverse.text}` : ''}`,
        output: { ...output, replicationDropped: dropped, ...(reverse ? { reverse: reverse.output } : {}) },
      };
    },
    async dryRun(ctx) {
      const text = await inner.dryRun(ctx);
      if (!isReplicate(ctx)) return text;
      return `${text}\nFirst, strategy replicate: drop this run's subscription (target), slot, publication and marker table (source), if any remain.`;
    },
  };
}

/**
 * The reverse replication, if it runs: at the rollback (the target frozen by then) drained first, so
 * the source holds every write the target took; at abort and close simply removed.
 */
async function endReverse(ctx: StepContext, drain: boolean): Promise<{ text: string; output: Record<string, unknown> } | undefined> {
  const names = reverseNames(ctx.runId);
  if (!(await reverseRunning(source(ctx), names))) return undefined;
  const drained = drain
    ? await drainReverse({ source: source(ctx), target: target(ctx), names, timeoutMs: parseDuration(ctx.plan.replicate.drainTimeout), signal: ctx.signal })
    : undefined;
  const dropped = await withConnection(source(ctx), (src) => withConnection(target(ctx), (tgt) => dropReverse(src, tgt, names)));
  return {
    text: drained
      ? `the source applied every change the target took up to its freeze (${drained.freezeLsn}) through reverse replication in ${(drained.waitedMs / 1000).toFixed(2)} s, then it was removed`
      : `reverse replication removed (${describeDropped(dropped)})`,
    output: { drained: drained ?? null, dropped },
  };
}

export const replicateSteps = {
  'prep.replicate': prepReplicate,
  'window.pre-verify': preVerifyStep,
  drain: drainStep,
  noExport: noExportStep,
  detach: detachStep,
};
