import pg from 'pg';
import { ConnectionFailedError, openClient, planTls, readDatabaseUrl, quoteIdent, quoteQualified, redact } from '../../adapters/postgres.js';
import type { Plan, TablePlan } from '../../config/schema.js';
import { ExitError } from '../../engine/errors.js';

/**
 * The target database after the switch: can we reach it, is every active sensor still sending
 * readings, and (stabilize, daily) how big it is and whether WAL archiving is succeeding.
 *
 * Connections here are bounded (10 s to connect, 60 s per statement): a check that hangs on an
 * unreachable host would hold up every check after it, while "unreachable" is itself the finding.
 */

const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 60_000;
/** Silent groups named per table (all are counted). */
const SILENT_NAMED = 20;

export interface SilentGroup {
  /** Grouping values, e.g. { sensor_id: '…' }; empty for an ungrouped table. */
  group: Record<string, string | null>;
  /** Its last row (ISO); it counts as silent from the later of this and the switch. */
  lastAt: string;
  silentMinutes: number;
}

export interface IngestionTable {
  table: string;
  /** Groups that sent a row within one gap threshold before the cutover point, or any time since. */
  activeGroups: number;
  silent: SilentGroup[];
  /** All silent groups (`silent` names at most 20). */
  silentCount: number;
}

export type IngestionReading =
  | { status: 'checked'; tables: IngestionTable[] }
  /** `failed`: the database could not be reached or the query failed (never read as "no gap"). */
  | { status: 'not-applicable' | 'not-switched' | 'failed'; why: string };

export interface DatabaseFacts {
  databaseBytes: number;
  archiver: {
    mode: string;
    archivedCount: number;
    failedCount: number;
    lastArchivedAt: string | null;
    lastFailedAt: string | null;
    /** archive_mode is on and the last attempt failed: backups (PITR) are not being taken. */
    failing: boolean;
  };
}

export interface TargetReading {
  database: { reachable: true; latencyMs: number } | { reachable: false; problem: string };
  ingestion: IngestionReading;
  /** Present when asked for; `unknown` says why a fact could not be read (e.g. a permission). */
  facts?: DatabaseFacts | { unknown: string };
}

export interface IngestionWindow {
  /** The freeze: a group that reported within one gap before it was active when the source froze. */
  cutoverMs: number;
  /** The switch: silence is counted from here at the earliest (the window itself is not a gap). */
  switchedMs?: number;
  nowMs: number;
  gapMs: number;
}

/** Tables whose ingestion is watched: append-only with a timestamp (readings). */
export function ingestionTables(plan: Pick<Plan, 'tables'>): TablePlan[] {
  return plan.tables.filter((table) => table.appendOnly && table.timestampColumn);
}

export async function inspectTarget(
  plan: Plan,
  env: Record<string, string | undefined>,
  window: IngestionWindow,
  options: { facts: boolean; planDir?: string },
): Promise<TargetReading> {
  // Not set (or plain text to a remote host): not a finding about the new system but a misconfigured
  // check, which fails with exit 2 (MissingSecretError, ConnectionRefusedError).
  const url = readDatabaseUrl(env, plan.target.urlEnv, 'target');
  const started = performance.now();
  let client: pg.Client;
  try {
    client = await openClient(url, {
      label: `target database (${plan.target.urlEnv})`,
      tls: planTls(plan, 'target', options.planDir),
      applicationName: 'cutover check',
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    });
  } catch (error) {
    if (error instanceof ExitError) throw error;
    const problem = `target database (${plan.target.urlEnv}) unreachable: ${error instanceof ConnectionFailedError ? error.detail : redact(error, url)}`;
    return {
      database: { reachable: false, problem },
      ingestion: { status: 'failed', why: problem },
      ...(options.facts ? { facts: { unknown: problem } } : {}),
    };
  }
  const latencyMs = Math.round(performance.now() - started);
  try {
    const ingestion = await readIngestion(client, plan, window);
    const facts = options.facts ? await readFacts(client).catch((error: Error) => ({ unknown: redact(error, url) })) : undefined;
    return { database: { reachable: true, latencyMs }, ingestion, ...(facts ? { facts } : {}) };
  } catch (error) {
    // Reachable, but a query failed (a timeout, a missing table): report it, never pass silently.
    const problem = `target database reachable, but the check query failed: ${redact(error, url)}`;
    return {
      database: { reachable: true, latencyMs },
      ingestion: { status: 'failed', why: problem },
      ...(options.facts ? { facts: { unknown: problem } } : {}),
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The ongoing silence of every active group, from one grouped max() per table over the rows since
 * one gap before the freeze (an index on the timestamp column keeps it a range scan). Closed gaps in
 * the past are the reconciliation's business; a check asks "is ingestion happening now".
 */
async function readIngestion(client: pg.Client, plan: Plan, window: IngestionWindow): Promise<IngestionReading> {
  const tables = ingestionTables(plan);
  if (tables.length === 0) return { status: 'not-applicable', why: 'no append-only table with a timestampColumn in the plan' };
  if (window.switchedMs === undefined) return { status: 'not-switched', why: 'DNS has not been switched yet' };
  const since = window.cutoverMs - window.gapMs;
  const from = Math.max(window.switchedMs, window.cutoverMs);
  const results: IngestionTable[] = [];
  for (const table of tables) {
    const groupBy = table.reconcile?.groupBy ?? [];
    const ts = quoteIdent(table.timestampColumn!);
    const groups = groupBy.map((column) => `${quoteIdent(column)}::text`);
    const sql =
      `select ${[...groups, `(extract(epoch from max(${ts})) * 1000)::float8`].join(', ')} ` +
      `from ${quoteQualified(table.name)} where ${ts} >= to_timestamp($1::float8 / 1000)` +
      (groups.length > 0 ? ` group by ${groupBy.map(quoteIdent).join(', ')}` : '');
    const { rows } = await client.query<unknown[]>({ text: sql, values: [since], rowMode: 'array' });
    const silent: SilentGroup[] = [];
    let active = 0;
    for (const row of rows) {
      const lastMs = row[groups.length] as number | null;
      if (lastMs === null) continue;
      active += 1;
      const silentFrom = Math.max(lastMs, from);
      if (window.nowMs - silentFrom > window.gapMs) {
        silent.push({
          group: Object.fromEntries(groupBy.map((column, index) => [column, row[index] as string | null])),
          lastAt: new Date(lastMs).toISOString(),
          silentMinutes: Math.floor((window.nowMs - silentFrom) / 60_000),
        });
      }
    }
    silent.sort((a, b) => b.silentMinutes - a.silentMinutes || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)));
    results.push({ table: table.name, activeGroups: active, silent: silent.slice(0, SILENT_NAMED), silentCount: silent.length });
  }
  return { status: 'checked', tables: results };
}

async function readFacts(client: pg.Client): Promise<DatabaseFacts> {
  const { rows } = await client.query<{
    bytes: string;
    mode: string;
    archived: string;
    failed: string;
    last_archived: Date | null;
    last_failed: Date | null;
  }>(
    `select pg_database_size(current_database())::text as bytes, current_setting('archive_mode') as mode,
            a.archived_count::text as archived, a.failed_count::text as failed,
            a.last_archived_time as last_archived, a.last_failed_time as last_failed
       from pg_stat_archiver a`,
  );
  const row = rows[0]!;
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  const lastArchived = row.last_archived?.getTime() ?? -Infinity;
  const lastFailed = row.last_failed?.getTime() ?? -Infinity;
  return {
    databaseBytes: Number(row.bytes),
    archiver: {
      mode: row.mode,
      archivedCount: Number(row.archived),
      failedCount: Number(row.failed),
      lastArchivedAt: iso(row.last_archived),
      lastFailedAt: iso(row.last_failed),
      failing: row.mode !== 'off' && lastFailed > lastArchived,
    },
  };
}
