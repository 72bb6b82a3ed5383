import { statfs } from 'node:fs/promises';
import type pg from 'pg';
import { quoteQualified, withConnection, type Database } from '../../adapters/postgres.js';
import { accountForTables, describeUnaccounted } from './accounted.js';
import { readSequences } from './sequences.js';
import { AUTH_PLAN_TABLES, existingTables, normalizeTableName, readTables, type TableInfo } from './catalog.js';

/**
 * final.target-ready: the target can take the load. The plan's tables exist there with the same data
 * columns and types, the source's extensions are installed, and (when the target's data folder is
 * on this machine) there is room for the data.
 */

/** Extensions that belong to the Supabase platform, not to the application's schema. */
const PLATFORM_EXTENSIONS = new Set([
  'plpgsql',
  'pg_graphql',
  'pg_net',
  'pgsodium',
  'supabase_vault',
  'pg_stat_statements',
  'pgjwt',
  'pg_cron',
  'pgmq',
  'wrappers',
  'index_advisor',
  'hypopg',
  'supautils',
]);

/** Space needed on the target, as a multiple of the source tables' size (data, indexes, WAL while loading). */
const SPACE_FACTOR = 2;

export interface TargetReadiness {
  tables: number;
  /** Extensions of the source that the target has, and platform ones that were not required. */
  extensions: { present: string[]; notRequired: string[] };
  freeSpace: { measured: boolean; freeBytes?: number; neededBytes: number; note?: string };
  /** Not blocking: tables the plan excludes, non-empty target tables, missing app roles. */
  warnings: string[];
}

export async function checkTargetReady(options: {
  source: Database;
  target: Database;
  tables: readonly string[];
  /** Tables of the migrated schemas the plan leaves behind on purpose, with why. */
  excludedTables?: readonly { name: string; reason: string }[];
  appRoles: readonly string[];
}): Promise<TargetReadiness> {
  const names = options.tables.map(normalizeTableName);
  const problems: string[] = [];
  const warnings: string[] = [];

  const sourceSide = await withConnection(options.source, async (client) => {
    const tables = await readTables(client, names, options.source.label);
    return {
      tables,
      sequences: await readSequences(client, tables),
      extensions: await listExtensions(client),
      accounting: await accountForTables(client, { tables: names.map((name) => ({ name })), excludedTables: options.excludedTables ?? [] }),
    };
  });
  const neededBytes = sourceSide.tables.reduce((sum, t) => sum + t.totalBytes, 0) * SPACE_FACTOR;
  if (sourceSide.accounting.unaccounted.length > 0) problems.push(describeUnaccounted(sourceSide.accounting));
  for (const excluded of options.excludedTables ?? []) warnings.push(`${excluded.name} stays behind (plan.excludedTables): ${excluded.reason}`);

  const result = await withConnection(options.target, async (client) => {
    const present = await existingTables(client, names);
    const missingTables = names.filter((n) => !present.includes(n));
    const hasAuth = (await client.query<{ ok: boolean }>(`SELECT to_regnamespace('auth') IS NOT NULL AS ok`)).rows[0]!.ok;
    for (const id of missingTables) {
      problems.push(
        AUTH_PLAN_TABLES.includes(id) && !hasAuth
          ? `${id} is a plan table, but the target has no schema auth: only a self-hosted Supabase target has it. ` +
              `Remove ${id} from plan.tables (auth users are exported through the admin API) or install the auth schema on the target`
          : `table ${id} does not exist on the target`,
      );
    }
    const targetTables = await readTables(client, present, options.target.label);
    for (const source of sourceSide.tables) {
      const target = targetTables.find((t) => t.id === source.id);
      if (target) problems.push(...compareColumns(source, target));
    }
    for (const table of targetTables) {
      const rows = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${table.scan}) AS any`);
      if (rows.rows[0]!.any) warnings.push(`${table.id} already has rows on the target; migrate.load replaces them`);
    }
    for (const sequence of sourceSide.sequences) {
      const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [quoteQualified(sequence.sequence)]);
      if (!exists.rows[0]!.ok) {
        problems.push(`sequence ${sequence.sequence} (used by ${sequence.uses.map((u) => `${u.table}.${u.column}`).join(', ')}) does not exist on the target`);
      }
    }
    const targetExtensions = await listExtensions(client);
    const required = sourceSide.extensions.filter((e) => !PLATFORM_EXTENSIONS.has(e));
    const missing = required.filter((e) => !targetExtensions.includes(e));
    for (const e of missing) problems.push(`extension ${e} is installed on the source but not on the target (CREATE EXTENSION "${e}")`);
    const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [options.appRoles]);
    const missingRoles = options.appRoles.filter((r) => !roles.rows.some((row) => row.rolname === r));
    if (missingRoles.length > 0) warnings.push(`roles ${missingRoles.join(', ')} do not exist on the target (fine if the new application does not use them)`);
    return {
      extensions: {
        present: required.filter((e) => targetExtensions.includes(e)),
        notRequired: sourceSide.extensions.filter((e) => PLATFORM_EXTENSIONS.has(e)),
      },
      freeSpace: await measureFreeSpace(client, neededBytes),
    };
  });
  if (result.freeSpace.measured && result.freeSpace.freeBytes! < neededBytes) {
    problems.push(
      `the target's data folder has ${formatBytes(result.freeSpace.freeBytes!)} free; the load needs about ${formatBytes(neededBytes)}`,
    );
  }
  if (problems.length > 0) {
    throw new Error(`The target is not ready:\n- ${problems.join('\n- ')}\nApply the application's schema to the target and run final.target-ready again.`);
  }
  return { tables: names.length, ...result, warnings };
}

/** Data columns (generated ones excluded) must match by name and type; generated columns must exist. */
export function compareColumns(source: TableInfo, target: TableInfo): string[] {
  const problems: string[] = [];
  for (const column of source.columns) {
    const other = target.columns.find((c) => c.name === column.name);
    if (!other) problems.push(`${source.id}.${column.name} does not exist on the target`);
    else if (other.type !== column.type) problems.push(`${source.id}.${column.name} is ${column.type} on the source but ${other.type} on the target`);
    else if (other.generated !== column.generated) {
      problems.push(`${source.id}.${column.name} is ${column.generated ? '' : 'not '}generated on the source but ${other.generated ? '' : 'not '}on the target`);
    }
  }
  for (const column of target.columns) {
    if (!source.columns.some((c) => c.name === column.name) && column.notNull && !column.generated && !column.identity) {
      problems.push(`${target.id}.${column.name} exists only on the target and is NOT NULL: the load cannot fill it`);
    }
  }
  return problems;
}

async function listExtensions(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ extname: string }>('SELECT extname FROM pg_extension ORDER BY 1');
  return result.rows.map((r) => r.extname);
}

/**
 * Free space is only measurable when the target's data folder is on this machine (a rehearsal, or
 * running on the database host) and the connected role may read `data_directory`.
 */
async function measureFreeSpace(client: pg.Client, neededBytes: number): Promise<TargetReadiness['freeSpace']> {
  try {
    // A path on a remote server could exist here as well and report this machine's disk.
    const address = (await client.query<{ addr: string | null }>('SELECT host(inet_server_addr()) AS addr')).rows[0]!.addr;
    if (address !== null && address !== '127.0.0.1' && address !== '::1') throw new Error('remote server');
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    const fs = await statfs(dir);
    return { measured: true, freeBytes: Number(fs.bavail) * Number(fs.bsize), neededBytes };
  } catch {
    return {
      measured: false,
      neededBytes,
      note: `free space not measurable from here: check by hand that the target has ${formatBytes(neededBytes)} free`,
    };
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
