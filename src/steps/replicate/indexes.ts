import type pg from 'pg';
import { quoteLiteral, quoteQualified } from '../../adapters/postgres.js';
import { readTables } from '../data/catalog.js';
import { REBUILD_INDEXES_ABOVE_ROWS } from '../data/load.js';
import { META_SCHEMA } from './names.js';

/**
 * Indexes set aside during the initial copy, as migrate.load does for large tables: one sorted build
 * after the copy is several times faster than maintaining every B-tree row by row while several
 * workers insert (bench/initial-copy.ts). The definitions are recorded on the target *before* the
 * drop, so a copy killed half-way still rebuilds exactly what it dropped; the rebuild skips what
 * already exists, so running it twice is harmless. Everything is back before the subscription starts
 * (the apply worker finds rows to update and delete through the primary key).
 */

const SET_ASIDE = `${META_SCHEMA}.replicate_indexes`;

export async function setIndexesAside(source: pg.Client, target: pg.Client, runId: string, tables: readonly string[], label: string): Promise<number> {
  await target.query(
    `CREATE TABLE IF NOT EXISTS ${SET_ASIDE} (run_id text NOT NULL, table_name text NOT NULL, kind text NOT NULL,
       name text NOT NULL, definition text NOT NULL, comment text, PRIMARY KEY (run_id, table_name, name))`,
  );
  const estimates = new Map((await readTables(source, tables, 'source database')).map((t) => [t.id, t.estimatedRows]));
  let dropped = 0;
  for (const table of await readTables(target, tables, label)) {
    if ((estimates.get(table.id) ?? 0) < REBUILD_INDEXES_ABOVE_ROWS) continue;
    await target.query('BEGIN');
    try {
      for (const index of table.secondaryIndexes) {
        await target.query(`INSERT INTO ${SET_ASIDE} VALUES ($1, $2, 'index', $3, $4, $5) ON CONFLICT DO NOTHING`, [runId, table.id, index.name, index.definition, index.comment]);
        await target.query(`DROP INDEX ${index.name}`);
        dropped++;
      }
      for (const constraint of table.rebuildableConstraints) {
        await target.query(`INSERT INTO ${SET_ASIDE} VALUES ($1, $2, 'constraint', $3, $4, NULL) ON CONFLICT DO NOTHING`, [
          runId,
          table.id,
          constraint.name,
          `ALTER TABLE ${table.quoted} ADD CONSTRAINT ${constraint.name} ${constraint.definition}`,
        ]);
        await target.query(`ALTER TABLE ${table.quoted} DROP CONSTRAINT ${constraint.name}`);
        dropped++;
      }
      await target.query('COMMIT');
    } catch (error) {
      await target.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }
  return dropped;
}

/** Build again everything set aside for `runId` (constraints first), then forget the record. */
export async function rebuildIndexes(target: pg.Client, runId: string): Promise<number> {
  const present = await target.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [SET_ASIDE]);
  if (!present.rows[0]?.present) return 0;
  const { rows } = await target.query<{ table_name: string; kind: string; name: string; definition: string; comment: string | null }>(
    `SELECT table_name, kind, name, definition, comment FROM ${SET_ASIDE} WHERE run_id = $1 ORDER BY kind DESC, name`,
    [runId],
  );
  await target.query(`SET maintenance_work_mem = '256MB'`);
  for (const row of rows) {
    const exists =
      row.kind === 'constraint'
        ? await target.query(`SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND quote_ident(conname) = $2`, [quoteQualified(row.table_name), row.name])
        : await target.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE quote_ident(n.nspname) || '.' || quote_ident(c.relname) = $1`, [row.name]);
    if (!exists.rowCount) await target.query(row.definition);
    if (row.kind === 'index' && row.comment !== null) await target.query(`COMMENT ON INDEX ${row.name} IS ${quoteLiteral(row.comment)}`);
  }
  await target.query(`DELETE FROM ${SET_ASIDE} WHERE run_id = $1`, [runId]);
  return rows.length;
}
