import type pg from 'pg';
import { META_SCHEMA } from '../data/load.js';

/**
 * Tables migrate.load finished for `runId`, from the target's own record (`cutover_meta.loaded`,
 * written in the same transaction as each table's rows). A table not in it was never filled by this
 * run: the application cannot have written there through the new system, and comparing it with the
 * source would report every source row as deleted.
 */
export async function loadedTables(client: pg.Client, runId: string): Promise<Set<string>> {
  const exists = await client.query<{ present: boolean }>(`SELECT to_regclass('${META_SCHEMA}.loaded') IS NOT NULL AS present`);
  if (!exists.rows[0]!.present) return new Set();
  const result = await client.query<{ table_name: string }>(`SELECT table_name FROM ${META_SCHEMA}.loaded WHERE run_id = $1`, [runId]);
  return new Set(result.rows.map((r) => r.table_name));
}
