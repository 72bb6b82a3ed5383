import type pg from 'pg';
import { planDatabase, quoteIdent, quoteQualified, splitTableName, withConnection } from '../../adapters/postgres.js';
import { tableId } from '../../config/identifiers.js';
import { AUTH_PLAN_TABLES, isExcludedSchema, listUserTables, normalizeTableName } from './catalog.js';

/**
 * Every table is accounted for: each table of the migrated schemas (the schemas of the plan's
 * tables, Supabase's own excepted) on the source is either a plan table or excluded by the plan with
 * a reason. A table nobody listed is otherwise left behind silently, with its rows.
 */

export interface PlanTables {
  tables: readonly { name: string }[];
  excludedTables?: readonly { name: string; reason: string }[];
}

export interface TableAccounting {
  /** Schemas whose every table must be accounted for. */
  schemas: string[];
  /** Source tables in those schemas, partitions counted with their parent. */
  sourceTables: number;
  planned: number;
  excluded: number;
  /** Source tables neither planned nor excluded. */
  unaccounted: string[];
  /** Plan exclusions naming no table of the source (a typo, or a table dropped since). */
  unknownExclusions: string[];
}

export async function accountForTables(client: pg.Client, plan: PlanTables): Promise<TableAccounting> {
  const planned = new Set(plan.tables.map((t) => normalizeTableName(t.name)));
  const excluded = new Set((plan.excludedTables ?? []).map((t) => normalizeTableName(t.name)));
  const schemas = [...new Set([...planned].map((id) => splitTableName(id).schema))].filter((s) => !isExcludedSchema(s)).sort();
  const all = await listUserTables(client);
  const inScope = all.filter((id) => schemas.includes(splitTableName(id).schema));
  return {
    schemas,
    sourceTables: inScope.length,
    planned: inScope.filter((id) => planned.has(id)).length,
    excluded: inScope.filter((id) => excluded.has(id)).length,
    unaccounted: inScope.filter((id) => !planned.has(id) && !excluded.has(id)),
    unknownExclusions: [...excluded].filter((id) => !all.includes(id)),
  };
}

/** The sentence `check`, final.target-ready and verify print for unaccounted tables. */
export function describeUnaccounted(accounting: TableAccounting): string {
  const n = accounting.unaccounted.length;
  return (
    `${n} source table${n === 1 ? '' : 's'} in ${accounting.schemas.join(', ')} ${n === 1 ? 'is' : 'are'} neither in plan.tables nor in ` +
    `plan.excludedTables: ${accounting.unaccounted.join(', ')}. Add each to plan.tables to migrate it, or to plan.excludedTables ` +
    `with the reason it stays behind (e.g. { name: '${accounting.unaccounted[0]}', reason: 'scratch table, not used by the application' }).`
  );
}

export interface OutsideForeignKey {
  /** Canonical id of the plan table holding the foreign key. */
  table: string;
  name: string;
  columns: string[];
  /** Canonical id of the referenced table, in a schema that is not migrated. */
  refTable: string;
  /** The target has the same foreign key (by name, on the same table). */
  onTarget: boolean;
}

/** Foreign keys from plan tables to tables the plan does not migrate, in schemas it does not migrate (auth.users, …). */
export async function foreignKeysOutside(source: pg.Client, target: pg.Client | null, plan: PlanTables): Promise<OutsideForeignKey[]> {
  const planned = plan.tables.map((t) => normalizeTableName(t.name));
  const schemas = new Set(planned.map((id) => splitTableName(id).schema));
  const query = `SELECT n.nspname AS schema, c.relname AS name, f.conname,
                        ARRAY(SELECT a.attname FROM unnest(f.conkey) k(num) JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.num)::text[] AS columns,
                        pn.nspname AS ref_schema, pc.relname AS ref_name
                   FROM unnest($1::text[], $2::text[]) AS w(schema, name)
                   JOIN pg_namespace n ON n.nspname = w.schema
                   JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
                   JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f'
                   JOIN pg_class pc ON pc.oid = f.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                  ORDER BY 1, 2, 3`;
  const values = [planned.map((id) => splitTableName(id).schema), planned.map((id) => splitTableName(id).table)];
  type Row = { schema: string; name: string; conname: string; columns: string[]; ref_schema: string; ref_name: string };
  const outside = (rows: Row[]) => rows.filter((r) => !schemas.has(r.ref_schema) && !planned.includes(tableId(r.ref_schema, r.ref_name)));
  const onSource = outside((await source.query<Row>(query, values)).rows);
  const onTarget = target ? outside((await target.query<Row>(query, values)).rows) : [];
  return onSource.map((r) => ({
    table: tableId(r.schema, r.name),
    name: r.conname,
    columns: r.columns,
    refTable: tableId(r.ref_schema, r.ref_name),
    onTarget: onTarget.some((t) => t.schema === r.schema && t.name === r.name && t.conname === r.conname),
  }));
}

/** What to do about a foreign key to a table that is not migrated, as `check` says it. */
export function describeOutsideForeignKey(fk: OutsideForeignKey, targetHasSchema: boolean): string {
  const what = `${fk.table} (${fk.columns.join(', ')}) references ${fk.refTable} (constraint ${fk.name}), which the plan does not migrate`;
  if (!fk.onTarget) return `${what}; the target has no such foreign key, so the load cannot leave orphans there`;
  const { schema } = splitTableName(fk.refTable);
  return (
    `${what}, and the target keeps that foreign key: after the load every row pointing at ${fk.refTable} is an orphan there. ` +
    (targetHasSchema && (fk.refTable === 'auth.users' || fk.refTable === 'auth.identities')
      ? `Add ${fk.refTable} to plan.tables (the target has schema ${schema}, a self-hosted Supabase), or `
      : `Migrate ${fk.refTable} first (add it to plan.tables), or `) +
    `drop the constraint on the target (ALTER TABLE ${quoteQualified(fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}) before migrate.load.`
  );
}

export interface CoverageFinding {
  system: string;
  ok: boolean;
  message: string;
}

/**
 * `cutover check`'s look at the source catalog: every table accounted for, and foreign keys to
 * tables that are not migrated. Nothing when the source cannot be reached (that is reported already).
 */
export async function checkPlanCoverage(
  plan: PlanTables & { source: { urlEnv: string }; target: { urlEnv: string } },
  env: Record<string, string | undefined>,
  planDir = '.',
): Promise<CoverageFinding[]> {
  const system = 'plan tables';
  const source = planDatabase(plan, env, 'source', planDir);
  const target = planDatabase(plan, env, 'target', planDir);
  let sourceClient: pg.Client;
  try {
    sourceClient = await source.connect();
  } catch {
    return [];
  }
  try {
    const findings: CoverageFinding[] = [];
    const accounting = await accountForTables(sourceClient, plan);
    findings.push(
      accounting.unaccounted.length > 0
        ? { system, ok: false, message: describeUnaccounted(accounting) }
        : {
            system,
            ok: true,
            message: `all ${accounting.sourceTables} source table${accounting.sourceTables === 1 ? '' : 's'} in ${accounting.schemas.join(', ')} accounted for (${accounting.planned} migrated, ${accounting.excluded} excluded with a reason)`,
          },
    );
    if (accounting.unknownExclusions.length > 0) {
      findings.push({ system, ok: false, message: `plan.excludedTables names ${accounting.unknownExclusions.join(', ')}, which the source does not have: fix the name or remove the entry` });
    }
    // Without the target, foreign keys are still listed (as if the target kept them: the safe side).
    const targetSide = await withConnection(target, async (client) => ({
      fks: await foreignKeysOutside(sourceClient, client, plan),
      hasAuth: (await client.query<{ ok: boolean }>(`SELECT to_regnamespace('auth') IS NOT NULL AS ok`)).rows[0]!.ok,
    })).catch(async () => ({
      fks: (await foreignKeysOutside(sourceClient, null, plan)).map((fk) => ({ ...fk, onTarget: true })),
      hasAuth: false,
    }));
    for (const id of plan.tables.map((t) => normalizeTableName(t.name)).filter((id) => AUTH_PLAN_TABLES.includes(id))) {
      findings.push(
        targetSide.hasAuth
          ? { system: 'auth tables', ok: true, message: `${id} is a plan table and the target has schema auth (a self-hosted Supabase)` }
          : {
              system: 'auth tables',
              ok: false,
              message: `${id} is a plan table, but the target has no schema auth: remove it from plan.tables (auth users go through the admin API), or migrate to a self-hosted Supabase`,
            },
      );
    }
    for (const fk of targetSide.fks) {
      findings.push({ system: 'foreign keys', ok: !fk.onTarget, message: describeOutsideForeignKey(fk, targetSide.hasAuth) });
    }
    return findings;
  } finally {
    await sourceClient.end().catch(() => {});
  }
}
