import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { join } from 'node:path';
import { planDatabase } from '../../adapters/postgres.js';
import { output } from '../outputs.js';
import { stepGroup, type StepContext, type StepResult } from '../types.js';
import { normalizeTableName } from '../data/catalog.js';
import { describeGrant, readGrantRecord, WRITE_PRIVILEGES } from '../data/freeze.js';
import { exportDir } from '../data/index.js';
import type { CutoverPoint } from '../data/manifest.js';
import { DELTA_DIR, MANUAL_REVIEW_FILE, readDeltaManifest } from './delta-manifest.js';
import { exportDelta, type DeltaTableSpec } from './export-delta.js';
import { freezeTarget } from './freeze-target.js';
import { reimportDelta } from './reimport.js';
import { plural } from '../../engine/words.js';

/**
 * The rollback branch's data steps (DESIGN §5): freeze the target, export what was written there after
 * the cutover point, and, once the source is unfrozen (rollback.unfreeze-source, in the data steps),
 * put the append-only rows back and list the rest for review. Each is idempotent or resumable; each
 * says so and passes when there is nothing to do (the target never loaded, no rows after the switch).
 */

/** `<exportsDir>/<run id>/rollback-delta`. */
export function deltaDir(ctx: Pick<StepContext, 'planDir' | 'plan' | 'runId'>): string {
  return join(exportDir(ctx), DELTA_DIR);
}

/** Where rollback.freeze-target records the target's grants before revoking them. */
export function targetGrantRecordFile(ctx: Pick<StepContext, 'stateDir' | 'runId'>): string {
  return join(ctx.stateDir, `freeze-target-grants.${ctx.runId}.json`);
}

const tableNames = (ctx: StepContext) => ctx.plan.tables.map((t) => normalizeTableName(t.name));
const roleList = (ctx: StepContext) => ctx.plan.appRoles.join(', ');
const cutoverPoint = (ctx: StepContext): CutoverPoint | null => output(ctx.outputs, 'freeze.snapshot') ?? null;

function deltaSpecs(ctx: StepContext): DeltaTableSpec[] {
  return ctx.plan.tables.map((t) => ({
    name: normalizeTableName(t.name),
    key: t.key,
    appendOnly: t.appendOnly,
    timestampColumn: t.timestampColumn,
  }));
}

/** When the first attempt of rollback.freeze-target began, recorded once: a re-run reports the same. */
async function firstFrozenAt(ctx: StepContext): Promise<number> {
  const file = join(ctx.stateDir, `freeze-target-since.${ctx.runId}`);
  try {
    return Number((await readFile(file, 'utf8')).trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Only the driver runs a step, so no second writer races this; written durably (and, in team mode, kept with the run).
  const now = Date.now();
  await writeFileAtomic(file, `${now}\n`, { mode: 0o600 });
  return now;
}

const freezeTargetStep = {
  async run(ctx: StepContext): Promise<StepResult> {
    // From here no system takes writes until rollback.unfreeze-source, which reports how long that was.
    const readOnlySince = await firstFrozenAt(ctx);
    const result = await freezeTarget({
      target: planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir),
      runId: ctx.runId,
      tables: tableNames(ctx),
      appRoles: ctx.plan.appRoles,
      recordFile: targetGrantRecordFile(ctx),
    });
    if (!result.loaded) {
      return {
        summary: `Nothing to freeze: the target was never loaded by run ${ctx.runId}, so the application never wrote there`,
        output: { loaded: false, revoked: [] },
      };
    }
    if (result.missingRoles.length > 0) ctx.note(`freeze-target: ${result.missingRoles.join(', ')} do not exist on the target (they cannot write there)`);
    for (const grant of result.revoked) ctx.note(`freeze-target: revoked ${describeGrant(grant)}`);
    return {
      summary:
        `Target frozen: ${plural(result.revoked.length, 'write grant')} on ${tableNames(ctx).length} tables revoked from ` +
        `${result.roles.join(', ') || 'no app role (none exists on the target)'}; ended ${plural(result.terminatedSessions, 'session')}`,
      // The same on a re-run (the record keeps what the first run revoked); session counts stay in the summary.
      output: { loaded: true, revoked: result.revoked, roles: result.roles, readOnlySince },
    };
  },
  async dryRun(ctx: StepContext): Promise<string> {
    const recorded = await readGrantRecord(targetGrantRecordFile(ctx)).catch(() => []);
    return [
      `On the target (${ctx.plan.target.urlEnv}), unless no table of run ${ctx.runId} is in cutover_meta.loaded (never loaded),`,
      `the same freeze as freeze.enable: in one transaction, record every ${WRITE_PRIVILEGES.join('/')} grant to ${roleList(ctx)}`,
      `or PUBLIC on the ${tableNames(ctx).length} plan tables into ${targetGrantRecordFile(ctx)}, then revoke each as its grantor:`,
      `  SET LOCAL ROLE <grantor>; REVOKE <privilege> ON TABLE <table> FROM <role>;`,
      `check has_table_privilege() is false for every app role, and end the app roles' sessions:`,
      `  SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (${roleList(ctx)}) OR <member of them>;`,
      recorded.length > 0
        ? `Already revoked by an earlier attempt: ${plural(recorded.length, 'grant')}.`
        : `Undo (not part of the rollback): re-grant the record with the same code as rollback.unfreeze-source.`,
    ].join('\n');
  },
};

const exportDeltaStep = {
  async run(ctx: StepContext): Promise<StepResult> {
    const dir = deltaDir(ctx);
    const summary = await exportDelta({
      source: planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir),
      target: planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir),
      tables: deltaSpecs(ctx),
      dir,
      runId: ctx.runId,
      cutoverPoint: cutoverPoint(ctx),
      progress: (p) => ctx.progress(p),
      signal: ctx.signal,
    });
    for (const warning of summary.warnings) ctx.note(warning);
    const { manifest } = summary;
    if (!manifest.targetLoaded) {
      return {
        summary: `No delta: the target was never loaded by run ${ctx.runId}, so nothing was written there after the cutover point`,
        output: { dir, targetLoaded: false, tables: [] },
      };
    }
    const kept = summary.tables.filter((t) => t.kept).map((t) => t.table);
    if (kept.length > 0) ctx.note(`export-delta: already exported by an earlier attempt: ${kept.join(', ')}`);
    for (const s of manifest.skipped) ctx.note(`export-delta: ${s.table} not compared (${s.reason})`);
    for (const r of manifest.reserved) ctx.note(`export-delta: source ${r.sequence} reserved through ${r.through} (ids the target used)`);
    const appendNew = summary.tables.filter((t) => t.appendOnly).reduce((n, t) => n + t.new, 0);
    const review = summary.tables.filter((t) => !t.appendOnly).reduce((n, t) => n + t.new + t.changed + t.deleted, 0);
    const late = Object.values(manifest.tables).reduce((n, e) => n + (e.appendOnly ? (e.newStampedBeforeCutover ?? 0) : 0), 0);
    const nothing = appendNew === 0 && review === 0;
    return {
      summary: nothing
        ? `Nothing written to the target after the cutover point: ${summary.tables.length} tables identical to the source`
        : `Delta exported to ${dir}: ${plural(appendNew, 'append-only row')} to re-import` +
          (late > 0 ? ` (${late} stamped before the cutover point)` : '') +
          `, ${plural(review, 'change')} in other tables for review` +
          (kept.length ? ` (${kept.length} tables already done)` : ''),
      output: {
        dir,
        targetLoaded: true,
        tables: summary.tables.map(({ table, appendOnly, new: added, changed, deleted }) => ({ table, appendOnly, new: added, changed, deleted })),
        reserved: manifest.reserved,
      },
    };
  },
  dryRun(ctx: StepContext): string {
    const append = ctx.plan.tables.filter((t) => t.appendOnly).map((t) => normalizeTableName(t.name));
    return [
      `Into ${deltaDir(ctx)} (0700, files 0600, manifest.json), for each plan table run ${ctx.runId} loaded into the target`,
      `(cutover_meta.loaded), the difference by key between the frozen target and the still-frozen source, in SQL:`,
      `  single integer key: target rows with key > (SELECT max(key) FROM source table) are new;`,
      `  the rest, per side: SELECT hashtextextended(ROW(key)::text, 1) & 1023 AS bucket, count(*),`,
      `                            sum(<row hash, as migrate.verify>) FROM <table> GROUP BY 1;`,
      `  for differing buckets only, COPY the source's (key, row hash) into a temporary table on the target and join:`,
      `  → <table>.new.copy (key not in the source), <table>.changed.copy, <table>.deleted.copy (keys).`,
      `Append-only (re-imported by rollback.reimport): ${append.join(', ') || 'none'}; other tables go to the manual review.`,
      `Then, while the source is still frozen, on the source for every sequence the plan tables use (owned or in a default):`,
      `  SELECT setval(<sequence>, <furthest id the target used, in the sequence's direction>) unless it is already past it`,
      `so that rows re-imported after the unfreeze keep their ids without colliding with new source rows.`,
      `Tables whose three files match the manifest are kept from an earlier attempt.`,
      `Undo: none needed (files only; a sequence moved forward only skips ids).`,
    ].join('\n');
  },
};

const reimportStep = {
  async run(ctx: StepContext): Promise<StepResult> {
    const summary = await reimportDelta({
      source: planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir),
      dir: deltaDir(ctx),
      runId: ctx.runId,
      zone: ctx.plan.t0.zone,
      progress: (p) => ctx.progress(p),
      signal: ctx.signal,
    });
    if (!summary.targetLoaded) {
      return {
        summary: `Nothing to re-import: the target was never loaded by run ${ctx.runId}`,
        output: { targetLoaded: false, reportFile: summary.reportFile, tables: [], review: [] },
      };
    }
    const delta = summary.tables.reduce((n, t) => n + t.deltaRows, 0);
    const inserted = summary.tables.reduce((n, t) => n + t.inserted, 0);
    const present = summary.tables.reduce((n, t) => n + t.present, 0);
    const heldBack = summary.tables.reduce((n, t) => n + t.heldBack.count, 0);
    const conflicts = summary.tables.reduce((n, t) => n + t.conflicts.count, 0);
    const review = summary.review.reduce((n, t) => n + t.new + t.changed + t.deleted, 0);
    for (const t of summary.tables) {
      if (t.deltaRows > 0) ctx.note(`reimport: ${t.table}: ${t.inserted} inserted now, ${t.present} of ${t.deltaRows} delta rows in the source`);
    }
    const output = {
      targetLoaded: true,
      reportFile: summary.reportFile,
      tables: summary.tables.map((t) => ({
        table: t.table,
        deltaRows: t.deltaRows,
        inserted: t.inserted,
        present: t.present,
        heldBack: t.heldBack.count,
        conflicts: t.conflicts.count,
      })),
      review: summary.review,
    };
    const text =
      delta === 0
        ? `Nothing to re-import: no append-only rows were written to the target after the cutover point`
        : `Re-imported ${plural(inserted, 'row')} into the source (${present} of ${delta} delta rows now there` +
          `${inserted < present ? `, ${present - inserted} already before` : ''})`;
    const reviewText = review > 0 ? `; ${plural(review, 'change')} in other tables listed in ${MANUAL_REVIEW_FILE}` : `; nothing else to review`;
    if (heldBack + conflicts > 0) {
      return {
        summary: `${text}${reviewText}`,
        output,
        attention: {
          reason:
            `${plural(heldBack + conflicts, 'delta row')} ${heldBack + conflicts === 1 ? 'is' : 'are'} not in the source` +
            ` (${heldBack} held back for a missing parent row, ${conflicts} conflicting with source rows): see ${summary.reportFile}`,
          evidence: output.tables,
        },
      };
    }
    return { summary: `${text}${reviewText}`, output };
  },
  async dryRun(ctx: StepContext): Promise<string> {
    const manifest = await readDeltaManifest(deltaDir(ctx)).catch(() => undefined);
    const lines = manifest?.complete
      ? Object.entries(manifest.tables).map(([table, e]) =>
          e.appendOnly ? `  ${table}: ${e.new.rows} rows to re-import` : `  ${table}: ${e.new.rows} new, ${e.changed.rows} changed, ${e.deleted.rows} deleted → review`,
        )
      : ['  (the delta is not exported yet)'];
    return [
      `On the source (${ctx.plan.source.urlEnv}), for each append-only table's ${deltaDir(ctx)}/<table>.new.copy, in one transaction:`,
      `  BEGIN; SET LOCAL session_replication_role = replica;`,
      `  CREATE TEMP TABLE cutover_reimport AS SELECT <columns> FROM <table> WITH NO DATA; COPY cutover_reimport FROM STDIN;`,
      `  DELETE FROM cutover_reimport WHERE <parent row missing in the source>   (held back, reported);`,
      `  LOCK TABLE <table> IN SHARE ROW EXCLUSIVE MODE;`,
      `  INSERT INTO <table> (<columns>) OVERRIDING SYSTEM VALUE SELECT … ON CONFLICT (<key>) DO NOTHING;`,
      `  SELECT setval(<sequence>, max(<id>)) when behind; COMMIT;`,
      `then ${MANUAL_REVIEW_FILE} (0600) with the other tables' new, changed and deleted keys.`,
      `Undo: DELETE FROM <table> WHERE <key> IN (the keys of <table>.new.copy). Delta:`,
      ...lines,
    ].join('\n');
  },
};

export const rollbackSteps = stepGroup({
  'rollback.freeze-target': freezeTargetStep,
  'rollback.export-delta': exportDeltaStep,
  'rollback.reimport': reimportStep,
});
