import type pg from 'pg';
import { databaseAt, readDatabaseUrl, withConnection } from '../../adapters/postgres.js';
import { formatName } from '../../config/identifiers.js';
import type { PlanInput } from '../../config/schema.js';
import { EXCLUDED_SCHEMAS, listUserTables, readTables, type TableInfo } from './catalog.js';

/**
 * `cutover init --from-source`: the plan's tables written from the source's catalog, to edit rather
 * than to type: every user table outside Supabase's own schemas (which are never migrated and so need
 * no entry), parents before children, its primary key, a guessed timestamp column and a guessed
 * append-only flag. A table without a primary key or unique key cannot be compared row by row, so it
 * is listed under `excludedTables` with what to do. Guesses are guesses: the person reads them.
 */

/** Timestamp column names, most telling first: when a row was written or when its event happened. */
const TIMESTAMP_NAMES = ['created_at', 'inserted_at', 'recorded_at', 'occurred_at', 'logged_at', 'triggered_at', 'timestamp', 'at', 'updated_at'];

/** Table names that usually hold rows only ever inserted: readings, events, logs, audit trails. */
const APPEND_ONLY_NAME = /(^|_|\s)(readings?|events?|logs?|audit|history|measurements?|metrics?|entries|samples?)$/i;

export interface PlanTablesFromSource {
  tables: NonNullable<PlanInput['tables']>;
  excludedTables: NonNullable<PlanInput['excludedTables']>;
  /** Supabase's schemas that were left out (they are never migrated). */
  skippedSchemas: readonly string[];
}

export async function planTablesFromSource(client: pg.Client, label: string): Promise<PlanTablesFromSource> {
  const ids = await listUserTables(client);
  const infos = ids.length > 0 ? await readTables(client, ids, label) : [];
  const keys = await primaryKeys(client, infos);
  const tables: PlanTablesFromSource['tables'] = [];
  const excludedTables: PlanTablesFromSource['excludedTables'] = [];
  for (const table of infos) {
    const key = keys.get(table.oid);
    if (!key) {
      excludedTables.push({
        name: table.id,
        reason: 'no primary key or NOT NULL unique key, so rows cannot be compared by key: give it one and move it to tables, or keep it behind',
      });
      continue;
    }
    const timestamp = guessTimestamp(table);
    tables.push({
      name: table.id,
      key: key.map(formatName),
      ...(timestamp ? { timestampColumn: formatName(timestamp) } : {}),
      appendOnly: timestamp !== undefined && APPEND_ONLY_NAME.test(table.name),
    });
  }
  return { tables, excludedTables, skippedSchemas: EXCLUDED_SCHEMAS };
}

/** Primary key columns, else those of the first unique index over NOT NULL columns only. */
async function primaryKeys(client: pg.Client, tables: readonly TableInfo[]): Promise<Map<number, string[]>> {
  const result = await client.query<{ oid: number; columns: string[] }>(
    `SELECT DISTINCT ON (i.indrelid) i.indrelid::int AS oid,
            ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(num, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.ord)::text[] AS columns
       FROM pg_index i
      WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(num) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                         WHERE NOT a.attnotnull)
      ORDER BY i.indrelid, i.indisprimary DESC, i.indnatts, i.indexrelid`,
    [tables.map((t) => t.oid)],
  );
  return new Map(result.rows.map((r) => [r.oid, r.columns]));
}

function guessTimestamp(table: TableInfo): string | undefined {
  const timestamps = table.columns.filter((c) => c.type === 'timestamp with time zone' || c.type === 'timestamp without time zone');
  for (const name of TIMESTAMP_NAMES) {
    const found = timestamps.find((c) => c.name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase() === name);
    if (found) return found.name;
  }
  return timestamps.find((c) => c.notNull)?.name;
}

/**
 * The plan `cutover init --from-source` writes: the example plan's shape (timeline, providers, people
 * to edit) with the source named by `sourceEnv` and the tables read from it.
 */
export async function planFromSource(
  base: PlanInput,
  env: Record<string, string | undefined>,
  sourceEnv: string,
): Promise<{ plan: PlanInput; found: PlanTablesFromSource }> {
  const source = databaseAt(readDatabaseUrl(env, sourceEnv, 'source'), `source database (${sourceEnv})`);
  const found = await withConnection(source, (client) => planTablesFromSource(client, source.label));
  if (found.tables.length === 0) {
    throw new Error(`The source database (${sourceEnv}) has no table with a key outside Supabase's own schemas: nothing to migrate.`);
  }
  return {
    plan: { ...base, source: { ...base.source, urlEnv: sourceEnv }, tables: found.tables, excludedTables: found.excludedTables },
    found,
  };
}
