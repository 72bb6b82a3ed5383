import { join, resolve } from 'node:path';
import { parseDuration } from '../../../machines/schedule.js';
import { planDatabase, retryOnlyConnectionErrors } from '../../adapters/postgres.js';
import { readSecret } from '../../adapters/secrets.js';
import { output } from '../outputs.js';
import { stepGroup, type StepContext, type StepResult } from '../types.js';
import { exportAuthUsers } from './auth-users.js';
import { EXCLUDED_SCHEMAS, normalizeTableName } from './catalog.js';
import { exportTables } from './export.js';
import { forecastDowntime, LOAD_PER_EXPORT, VERIFY_PER_EXPORT } from './export-forecast.js';
import { verifyExport } from './export-verify.js';
import {
  describeGrant,
  freezeSource,
  readGrantRecord,
  snapshotCutoverPoint,
  unfreezeSource,
  verifyNoWrites,
  WRITE_PRIVILEGES,
  type FreezeResult,
  type RecordedGrant,
} from './freeze.js';
import { loadTables, META_SCHEMA, REBUILD_INDEXES_ABOVE_ROWS } from './load.js';
import { digestFile, readManifest, writeManifest, type CutoverPoint } from './manifest.js';
import { anchorOf, requireJournaledExport, type ExportAnchor } from './anchor.js';
import { requireNoWritesSince, type WriteCounters } from './proof.js';
import { checkTargetReady, formatBytes } from './target-ready.js';
import { DataMismatchError, digestsFromManifest, verifyTables, type VerifyReport } from './verify.js';
import { takeDeltaScopes } from '../replicate/delta-verify.js';
import { plural } from '../../engine/words.js';
import { peopleInstant } from '../../engine/time-format.js';

declare module '../outputs.js' {
  interface StepOutputs {
    /** The grants the freeze revoked (exactly what unfreeze restores) and the sessions it ended. */
    'freeze.enable': { revoked: RecordedGrant[]; terminatedSessions: number; terminatedRoles: string[] };
    /** The cutover point, and the engine clock's time when it was taken. */
    'freeze.snapshot': CutoverPoint & { clockAt: string; counters: Record<string, WriteCounters> };
    /** The export as journaled: the manifest's hash and every file's sha256 and digest. */
    'export.tables': { anchor?: ExportAnchor };
  }
}

/**
 * The data path's step actions (DESIGN §3). Each is idempotent: a re-run after a crash picks up
 * where the last one stopped (export and load per table) or repeats a harmless check. Outputs are
 * small summaries: never rows, never connection strings.
 */

export const AUTH_USERS_FILE = 'auth-users.json';

/** The run's export folder: `<plan dir>/<exportsDir>/<run id>`. */
export function exportDir(ctx: Pick<StepContext, 'planDir' | 'plan' | 'runId'>): string {
  return resolve(ctx.planDir, ctx.plan.exportsDir, ctx.runId);
}

/** Where freeze.enable records the grants before revoking them (see FreezeOptions.recordFile). */
export function grantRecordFile(ctx: Pick<StepContext, 'stateDir' | 'runId'>): string {
  return join(ctx.stateDir, `freeze-grants.${ctx.runId}.json`);
}

const tableNames = (ctx: StepContext) => ctx.plan.tables.map((t) => normalizeTableName(t.name));
const source = (ctx: StepContext) => planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir);
const target = (ctx: StepContext) => planDatabase(ctx.plan, ctx.env, 'target', ctx.planDir);
const cutoverPoint = (ctx: StepContext): CutoverPoint | null => output(ctx.outputs, 'freeze.snapshot') ?? null;
const roleList = (ctx: StepContext) => ctx.plan.appRoles.join(', ');
/** How a refused write names the window, e.g. `the maintenance window of "FreshTrack" (2026-12-05T22:00 America/New_York, 150m)`. */
const windowName = (ctx: StepContext) =>
  `the maintenance window of "${ctx.plan.name}" (${ctx.plan.t0.at} ${ctx.plan.t0.zone}, ${ctx.plan.windowDuration})`;

function tableLines(ctx: StepContext): string {
  const counts = cutoverPoint(ctx)?.counts;
  return tableNames(ctx)
    .map((t) => `  ${t}${counts?.[t] !== undefined ? ` (${counts[t]} rows at the cutover point)` : ''}`)
    .join('\n');
}

function rate(rows: number, ms: number): number {
  return ms > 0 ? Math.round((rows / ms) * 1000) : 0;
}

const freezeEnable = {
  async run(ctx: StepContext): Promise<StepResult> {
    const result = await freezeSource({
      source: source(ctx),
      tables: tableNames(ctx),
      appRoles: ctx.plan.appRoles,
      recordFile: grantRecordFile(ctx),
      window: windowName(ctx),
    });
    const roles = [...new Set(result.terminated.map((s) => s.role))];
    // One journal line per table: who lost which write privilege (the full record is in the output).
    const byTable = new Map<string, Map<string, string[]>>();
    for (const g of result.revoked) {
      const holders = byTable.get(g.table) ?? new Map<string, string[]>();
      const holder = `${g.grantee} (granted by ${g.grantor})`;
      holders.set(holder, [...(holders.get(holder) ?? []), `${g.privilege}${g.column ? ` (${g.column})` : ''}`]);
      byTable.set(g.table, holders);
    }
    for (const [table, holders] of byTable) {
      ctx.note(`freeze: revoked on ${table}: ${[...holders].map(([who, privileges]) => `${privileges.join(', ')} from ${who}`).join('; ')}`);
    }
    ctx.note(`freeze: guard trigger on ${plural(result.guarded.length, 'table')}: ${result.guarded.join(', ')}`);
    return {
      summary:
        `Revoked ${plural(result.revoked.length, 'write grant')} on ` +
        `${plural(tableNames(ctx).length, 'table')} from ${roleList(ctx)}; every write refused on ${plural(result.guarded.length, 'table')}; ended ${plural(result.terminated.length, 'session')}` +
        `${roles.length ? ` (${roles.join(', ')})` : ''}`,
      output: {
        revoked: result.revoked,
        guarded: result.guarded,
        terminatedSessions: result.terminated.length,
        terminatedRoles: roles,
      },
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `On the source (${ctx.plan.source.urlEnv}), in one transaction: record every ${WRITE_PRIVILEGES.join('/')} grant`,
      `to ${roleList(ctx)} or PUBLIC on the ${tableNames(ctx).length} plan tables (from pg_class.relacl and`,
      `pg_attribute.attacl) into ${grantRecordFile(ctx)}, then revoke each one as its grantor:`,
      `  SET LOCAL ROLE <grantor>; REVOKE <privilege> ON TABLE <table> FROM <role>;`,
      `and the same for USAGE/UPDATE on the sequences those tables use (nextval, setval);`,
      `then, for every write path the revoke cannot see (SECURITY DEFINER functions, views, rules, triggers,`,
      `cascades, the auth service), on every table of the plan's schemas, partitions included, and auth.users/auth.identities:`,
      `  CREATE OR REPLACE TRIGGER cutover_freeze_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON <table>`,
      `    FOR EACH STATEMENT EXECUTE FUNCTION _cutover_freeze.refuse_write();   -- raises SQLSTATE 25006`,
      `  ALTER TABLE <table> ENABLE ALWAYS TRIGGER cutover_freeze_guard;`,
      `and check that has_table_privilege() is false for every app role. Tables:`,
      tableLines(ctx),
      `Then end the app roles' sessions (and those of login roles that can SET ROLE to them, e.g. authenticator):`,
      `  SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (${roleList(ctx)}) OR <member of them>;`,
    ].join('\n');
  },
};

const freezeVerifyNoWrites = {
  async run(ctx: StepContext): Promise<StepResult> {
    const quietWindowMs = parseDuration(ctx.plan.freeze.quietWindow);
    const result = await verifyNoWrites({
      source: source(ctx),
      tables: tableNames(ctx),
      appRoles: ctx.plan.appRoles,
      clock: ctx.clock,
      quietWindowMs,
      signal: ctx.signal,
      barrier: true,
    });
    return {
      summary:
        `No writes for ${ctx.plan.freeze.quietWindow} on ${result.tables} tables; ${result.attempts.length} INSERT attempts as ${roleList(ctx)} were refused; ` +
        `the guard trigger refused our own INSERT on all ${result.guarded}`,
      output: { quietWindowMs, tables: result.tables, refusedAttempts: result.attempts.length, guarded: result.guarded },
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `Read n_tup_ins/n_tup_upd/n_tup_del of the ${tableNames(ctx).length} plan tables from pg_stat_user_tables,`,
      `wait ${ctx.plan.freeze.quietWindow}, read them again: any change fails the step.`,
      `Then, for each of ${roleList(ctx)} and each table, in a transaction that is rolled back:`,
      `  BEGIN; SET LOCAL ROLE <role>; INSERT INTO <table> DEFAULT VALUES; ROLLBACK;`,
      `which must fail with "permission denied"; and, as the migration login, INSERT INTO <table> DEFAULT VALUES`,
      `(rolled back), which the freeze's guard trigger must refuse with SQLSTATE 25006.`,
    ].join('\n');
  },
};

const freezeSnapshot = {
  async run(ctx: StepContext): Promise<StepResult> {
    const point = await snapshotCutoverPoint({ source: source(ctx), tables: tableNames(ctx) });
    const rows = Object.values(point.counts).reduce((a, b) => a + b, 0);
    return {
      summary: `Cutover point ${peopleInstant(point.at, ctx.plan.t0.zone)} at WAL ${point.lsn}: ${rows} rows in ${Object.keys(point.counts).length} tables`,
      output: { ...point, clockAt: new Date(ctx.clock.now()).toISOString() },
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `In one REPEATABLE READ transaction on the source:`,
      `  SELECT now(), pg_current_wal_lsn();`,
      `  SELECT count(*) FROM <table>; for each of:`,
      tableLines(ctx),
      `with the write counters (n_tup_ins/upd/del of pg_stat_user_tables) read before and after, which must agree;`,
      `they are compared again at the end of export.tables, at migrate.verify and right before dns.switch.`,
    ].join('\n');
  },
};

const exportTablesStep = {
  async run(ctx: StepContext): Promise<StepResult> {
    const dir = exportDir(ctx);
    const summary = await exportTables({
      source: source(ctx),
      tables: tableNames(ctx),
      dir,
      runId: ctx.runId,
      cutoverPoint: cutoverPoint(ctx),
      progress: (p) => ctx.progress(p),
      signal: ctx.signal,
    });
    const skipped = summary.tables.filter((t) => t.skipped).map((t) => t.table);
    if (skipped.length > 0) ctx.note(`already exported by an earlier attempt: ${skipped.join(', ')}`);
    const authUsers = await exportSupabaseUsers(ctx, dir);
    const quiet = await requireNoWritesSince(ctx, 'the end of export.tables');
    // Anchored in the journal with this step's result: later steps check the files against it.
    const anchor = await anchorOf(dir);
    ctx.note(`export anchored in the journal: manifest sha256 ${anchor.manifestSha256}, ${Object.keys(anchor.tables).length} files`);
    return {
      summary:
        `Exported ${summary.rows} rows (${formatBytes(summary.bytes)}) from ${summary.tables.length} tables in ` +
        `${(summary.durationMs / 1000).toFixed(1)} s${skipped.length ? ` (${skipped.length} already done)` : ''}` +
        (authUsers ? `; ${authUsers.users} auth users` : '') +
        (quiet ? `; ${quiet}` : ''),
      output: {
        dir,
        rows: summary.rows,
        bytes: summary.bytes,
        durationMs: summary.durationMs,
        rowsPerSecond: rate(summary.rows, summary.durationMs),
        snapshotLsn: summary.snapshotLsn,
        tables: summary.tables.map((t) => ({ table: t.table, rows: t.rows, bytes: t.bytes, skipped: t.skipped })),
        authUsers: authUsers?.users ?? null,
        anchor,
      },
    };
  },
  dryRun(ctx: StepContext): string {
    const supabase = ctx.plan.source.supabase;
    return [
      `Export into ${exportDir(ctx)} (mode 0700; files 0600), all tables from one snapshot:`,
      `  BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot();`,
      `and per table, on 2 connections importing that snapshot (SET TRANSACTION SNAPSHOT):`,
      `  COPY <table> (<columns except generated ones>) TO STDOUT   → <schema>.<table>.copy (text format)`,
      tableLines(ctx),
      `with manifest.json (rows, bytes, sha256, columns, duration, cutover point). Tables already complete are skipped.`,
      `The manifest's sha256 and every file's rows, bytes, sha256 and content digest go into the journal with the`,
      `step's result; migrate.load, export.verify and migrate.verify check the files against it.`,
      supabase
        ? `Auth users: GET /auth/v1/admin/users (auth.admin.listUsers, 1000 per page, until a short page) at ${supabase.urlEnv} → ${AUTH_USERS_FILE}.`
        : `Auth users: not exported (plan.source.supabase is not set).`,
    ].join('\n');
  },
};

/** Auth users into the export, when the plan names a Supabase project; skipped when already complete. */
async function exportSupabaseUsers(ctx: StepContext, dir: string): Promise<{ users: number } | null> {
  const supabase = ctx.plan.source.supabase;
  if (!supabase) return null;
  const manifest = (await readManifest(dir))!;
  if (manifest.authUsers) {
    const digest = await digestFile(join(dir, manifest.authUsers.file)).catch(() => undefined);
    if (digest?.sha256 === manifest.authUsers.sha256) return { users: manifest.authUsers.users };
  }
  const url = readSecret(ctx.env, supabase.urlEnv, 'the Supabase project URL (https://<project>.supabase.co)');
  const key = readSecret(ctx.env, supabase.serviceRoleKeyEnv, "the Supabase service role key (Project settings → API)");
  const result = await exportAuthUsers({
    url,
    serviceRoleKey: key,
    file: join(dir, AUTH_USERS_FILE),
    signal: ctx.signal,
    onPage: (page, users) => ctx.progress({ label: `auth users (page ${page})`, done: users, unit: 'users' }),
  });
  if (result.retries > 0) ctx.note(`auth users: ${result.retries} admin API requests retried`);
  manifest.authUsers = {
    file: AUTH_USERS_FILE,
    users: result.users,
    pages: result.pages,
    bytes: result.bytes,
    sha256: result.sha256,
    exportedAt: new Date().toISOString(),
  };
  manifest.updatedAt = new Date().toISOString();
  await writeManifest(dir, manifest);
  return { users: result.users };
}

const exportVerifyStep = {
  async run(ctx: StepContext): Promise<StepResult> {
    const journaled = await requireJournaledExport(ctx, exportDir(ctx), 'export.verify');
    if (journaled) ctx.note(journaled);
    const check = await verifyExport({ dir: exportDir(ctx), tables: tableNames(ctx), cutoverPoint: cutoverPoint(ctx) });
    return {
      summary:
        `Export sound: ${check.tables} files, ${check.rows} rows, ${formatBytes(check.bytes)}, checksums and counts match` +
        (check.authUsers !== null ? `; ${check.authUsers} auth users` : ''),
      output: check,
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `Re-read every file in ${exportDir(ctx)}: size and sha256 as in manifest.json, one line per row,`,
      `row counts equal to the cutover point's, folder 0700 and files 0600. Tables:`,
      tableLines(ctx),
    ].join('\n');
  },
};

const migrateLoad = {
  async run(ctx: StepContext): Promise<StepResult> {
    const journaled = await requireJournaledExport(ctx, exportDir(ctx), 'migrate.load');
    if (journaled) ctx.note(journaled);
    const summary = await loadTables({
      target: target(ctx),
      dir: exportDir(ctx),
      runId: ctx.runId,
      tables: tableNames(ctx),
      progress: (p) => ctx.progress(p),
      signal: ctx.signal,
    });
    for (const warning of summary.warnings) ctx.note(warning);
    const skipped = summary.tables.filter((t) => t.skipped);
    return {
      summary:
        `Loaded ${summary.rows} rows into ${summary.tables.length} tables in ${(summary.durationMs / 1000).toFixed(1)} s` +
        (skipped.length ? ` (${skipped.length} already loaded)` : ''),
      output: {
        rows: summary.rows,
        durationMs: summary.durationMs,
        rowsPerSecond: rate(summary.rows, summary.durationMs),
        sequences: summary.sequences,
        tables: summary.tables.map((t) => ({
          table: t.table,
          rows: t.rows,
          skipped: t.skipped,
          durationMs: t.durationMs,
          indexesRebuilt: t.indexesRebuilt,
        })),
      },
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `On the target (${ctx.plan.target.urlEnv}), parents first, one transaction per table:`,
      `  (first, the table's catalog entries are recorded in ${META_SCHEMA}.schema_before for migrate.verify)`,
      `  BEGIN; SET LOCAL session_replication_role = replica;`,
      `  ALTER TABLE <table and partitions> DISABLE TRIGGER <each enabled trigger, ALWAYS and REPLICA included>;`,
      `  TRUNCATE ONLY <table>   (DELETE FROM ONLY when other tables reference it);`,
      `  DROP INDEX <secondary indexes>; ALTER TABLE <table> DROP CONSTRAINT <primary key/unique no foreign key uses>`,
      `    (only for tables of ${REBUILD_INDEXES_ABOVE_ROWS} rows or more, never partitioned indexes);`,
      `  COPY <table> (<columns>) FROM STDIN [WITH (FREEZE)];   ← ${exportDir(ctx)}/<schema>.<table>.copy`,
      `  ALTER TABLE <table> ADD CONSTRAINT ...; CREATE INDEX ...; their comments and statistics targets again;`,
      `  ALTER TABLE <table> ENABLE [ALWAYS|REPLICA] TRIGGER <each, as it was>;`,
      `  ANALYZE <table>; INSERT INTO ${META_SCHEMA}.loaded (run, table, rows, sha256); COMMIT;`,
      `Then every sequence the tables use (owned or in a column default) set to the source's position from`,
      `manifest.json, or just past its columns' values in the sequence's direction when those go further:`,
      `  SELECT setval(<sequence>, <position>, <is_called>);`,
      `Tables already recorded as loaded with the same file and row count are skipped:`,
      tableLines(ctx),
    ].join('\n');
  },
};

const migrateVerify = {
  async run(ctx: StepContext): Promise<StepResult> {
    const journaled = await requireJournaledExport(ctx, exportDir(ctx), 'migrate.verify');
    if (journaled) ctx.note(journaled);
    const sourceDigests = digestsFromManifest(await readManifest(exportDir(ctx)));
    // Strategy replicate: what window.pre-verify proved equal before the freeze is not scanned again.
    const delta = ctx.plan.strategy === 'replicate' ? await takeDeltaScopes(source(ctx), target(ctx), ctx.runId) : undefined;
    const report = await retryOnlyConnectionErrors(() =>
      verifyTables({ source: source(ctx), target: target(ctx), tables: ctx.plan.tables, sourceDigests, runId: ctx.runId, excludedTables: ctx.plan.excludedTables, delta }),
    );
    if (!report.ok) throw new DataMismatchError(report);
    const rows = report.tables.reduce((sum, t) => sum + t.targetRows, 0);
    const quiet = await requireNoWritesSince(ctx, 'migrate.verify');
    return {
      summary:
        `Source and target identical: ${plural(report.tables.length, 'table')}, ${plural(rows, 'row')} (counts, content hashes, no orphans); ${plural(report.sequences?.checked ?? 0, 'sequence')} positioned; every source table accounted for; target schema as before the load` +
        (delta ? `; ${describeDelta(report)}` : '') +
        (quiet ? `; ${quiet}` : ''),
      output: {
        durationMs: report.durationMs,
        ...(delta ? { comparedInFreeze: comparedInFreeze(report) } : {}),
        sequences: report.sequences,
        schema: report.schema && { checked: report.schema.checked, changes: report.schema.changes.length },
        accounted: report.accounted && {
          sourceTables: report.accounted.sourceTables,
          planned: report.accounted.planned,
          excluded: report.accounted.excluded,
        },
        tables: report.tables.map((t) => ({
          table: t.table,
          rows: t.targetRows,
          hash: t.targetHash,
          sourceDigestFrom: t.sourceDigestFrom,
          ...(t.delta ? { delta: t.delta } : {}),
        })),
      },
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `On both databases, per table (computed inside PostgreSQL, compared side by side):`,
      `  SELECT count(*), sum(hash_record_extended(ROW(<integer, uuid, date/time, bytea columns>, ROW(<other columns>)::text), 0)) FROM <table>;`,
      `(the row hash reconcile and the rollback delta use too; the source's was computed by export.tables over the export`,
      `snapshot, recorded in manifest.json); a difference is narrowed down to keys by buckets of`,
      `hashtextextended(ROW(<key>)::text, 1) & 1023 (missing rows, extra rows, changed values); then, on the target,`,
      `  SELECT count(*) FROM <child> c WHERE NOT EXISTS (SELECT 1 FROM <parent> p WHERE p.<key> = c.<fk>);`,
      `for every foreign key; every sequence the tables use must not hand out a value the source or the`,
      `columns already hold; the target's indexes (valid, attached), constraints (validated), triggers (enable state),`,
      `comments and statistics targets as recorded before the load.`,
      ...(ctx.plan.strategy === 'replicate'
        ? [
            `Strategy replicate: counts and sequences whole, but the content only of the key ranges window.pre-verify found`,
            `different or that its triggers (cutover_meta.verify_marks, both sides) marked since; the triggers are then dropped.`,
          ]
        : []),
      `Tables:`,
      tableLines(ctx),
    ].join('\n');
  },
};

/** Strategy replicate: how much content migrate.verify compared in the freeze, and what window.pre-verify had proven before. */
function comparedInFreeze(report: VerifyReport) {
  const ranged = report.tables.filter((t) => t.delta);
  return {
    tablesByRange: ranged.length,
    tablesWhole: report.tables.length - ranged.length,
    ranges: ranged.reduce((sum, t) => sum + t.delta!.ranges, 0),
    of: ranged.reduce((sum, t) => sum + t.delta!.of, 0),
    rows: ranged.reduce((sum, t) => sum + t.delta!.rows, 0),
    differedBefore: ranged.reduce((sum, t) => sum + t.delta!.differedBefore, 0),
    touched: ranged.reduce((sum, t) => sum + t.delta!.touched, 0),
  };
}

function describeDelta(report: VerifyReport): string {
  const c = comparedInFreeze(report);
  if (c.tablesByRange === 0) return 'content compared whole in the freeze (no verify before it was recorded)';
  return (
    `content compared in the freeze: ${c.ranges} of ${c.of} key ranges (${plural(c.rows, 'row')}; ranges that differed at window.pre-verify: ${c.differedBefore}, written since: ${c.touched})` +
    (c.tablesWhole ? ` and ${plural(c.tablesWhole, 'table')} whole` : '') +
    `, the other ranges proven equal by window.pre-verify and not written since; counts and sequences compared whole`
  );
}

const finalTargetReady = {
  async run(ctx: StepContext): Promise<StepResult> {
    const readiness = await checkTargetReady({
      source: source(ctx),
      target: target(ctx),
      tables: tableNames(ctx),
      excludedTables: ctx.plan.excludedTables,
      appRoles: ctx.plan.appRoles,
    });
    for (const warning of readiness.warnings) ctx.note(warning);
    const space = readiness.freeSpace.measured
      ? `${formatBytes(readiness.freeSpace.freeBytes!)} free of ${formatBytes(readiness.freeSpace.neededBytes)} needed`
      : readiness.freeSpace.note!;
    return {
      summary: `Target ready: ${readiness.tables} tables with matching columns, ${readiness.extensions.present.length} extensions; ${space}`,
      output: readiness,
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `Every source table of the plan's schemas must be in plan.tables or plan.excludedTables (with a reason);`,
      `compare the ${tableNames(ctx).length} plan tables' columns (name, type, generated) between source and target,`,
      `check the source's extensions exist on the target (Supabase platform ones excepted),`,
      `and, when the target's data folder is local, that it has twice the source tables' size free.`,
      `Internal schemas never compared: ${EXCLUDED_SCHEMAS.join(', ')}, _*, pg_*.`,
    ].join('\n');
  },
};

const finalExportDryRun = {
  async run(ctx: StepContext): Promise<StepResult> {
    const windowMs = parseDuration(ctx.plan.windowDuration);
    const result = await forecastDowntime({
      source: source(ctx),
      tables: tableNames(ctx),
      scratchDir: `${exportDir(ctx)}.dry-run`,
      runId: ctx.runId,
      quietWindowMs: parseDuration(ctx.plan.freeze.quietWindow),
      windowMs,
      progress: (p) => ctx.progress(p),
      signal: ctx.signal,
    });
    const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
    const summary =
      `Exported ${result.rows} rows in ${(result.exportMs / 1000).toFixed(1)} s (${result.rowsPerSecond} rows/s); ` +
      `forecast for the data path ${minutes(result.forecast.totalMs)} of a ${ctx.plan.windowDuration} window`;
    return {
      summary,
      output: result,
      ...(result.fitsWindow
        ? {}
        : { attention: { reason: `The forecast data-path time (${minutes(result.forecast.totalMs)}) exceeds the window (${ctx.plan.windowDuration})`, evidence: result.forecast } }),
    };
  },
  dryRun(ctx: StepContext): string {
    return [
      `Export every plan table from the source into ${exportDir(ctx)}.dry-run (deleted afterwards), timed;`,
      `forecast = quiet window (${ctx.plan.freeze.quietWindow}) + export + load (${LOAD_PER_EXPORT}× export) + verify (${VERIFY_PER_EXPORT}× export),`,
      `compared with the ${ctx.plan.windowDuration} window.`,
    ].join('\n');
  },
};

const rollbackUnfreezeSource = {
  async run(ctx: StepContext): Promise<StepResult> {
    const grants = await recordedGrants(ctx);
    const result = await unfreezeSource({ source: source(ctx), grants });
    const since = (ctx.outputs['rollback.freeze-target'] as { readOnlySince?: number } | undefined)?.readOnlySince;
    const readOnlyMs = since === undefined ? undefined : Date.now() - since;
    return {
      summary:
        `Removed the write barrier from ${result.unguarded.length} tables and restored ${result.restored} write ` +
        `grant${result.restored === 1 ? '' : 's'} revoked at freeze.enable; the source accepts writes again` +
        (readOnlyMs === undefined ? '' : `; no system accepted writes for ${(readOnlyMs / 1000).toFixed(1)} s of the rollback (from rollback.freeze-target)`),
      output: { restored: result.restored, unguarded: result.unguarded, ...(readOnlyMs === undefined ? {} : { readOnlyMs }) },
    };
  },
  async dryRun(ctx: StepContext): Promise<string> {
    const grants = await recordedGrants(ctx).catch(() => []);
    if (grants.length === 0) {
      return 'Drop every cutover_freeze_guard trigger, then _cutover_freeze; re-grant the write privileges recorded by freeze.enable (none recorded yet).';
    }
    return [
      `On the source, in one transaction: DROP TRIGGER cutover_freeze_guard ON <table> for every table that has it,`,
      `DROP FUNCTION _cutover_freeze.refuse_write(); DROP SCHEMA _cutover_freeze; then, as each grant's original grantor:`,
      ...grants.slice(0, 20).map((g) => `  GRANT ${describeGrant(g)}`),
      ...(grants.length > 20 ? [`  … and ${grants.length - 20} more`] : []),
    ].join('\n');
  },
};

/** The grants freeze.enable revoked: its output, or its record file if the output was never saved. */
async function recordedGrants(ctx: StepContext): Promise<RecordedGrant[]> {
  const revoked = output(ctx.outputs, 'freeze.enable')?.revoked;
  if (revoked) return revoked;
  return readGrantRecord(grantRecordFile(ctx));
}

export const dataSteps = stepGroup({
  'freeze.enable': freezeEnable,
  'freeze.verify-no-writes': freezeVerifyNoWrites,
  'freeze.snapshot': freezeSnapshot,
  'export.tables': exportTablesStep,
  'export.verify': exportVerifyStep,
  'migrate.load': migrateLoad,
  'migrate.verify': migrateVerify,
  'final.target-ready': finalTargetReady,
  'final.export-dry-run': finalExportDryRun,
  'rollback.unfreeze-source': rollbackUnfreezeSource,
});
