import type pg from 'pg';

/**
 * The plan tables' columns as the source has them, recorded when replication starts and compared in
 * the window. Logical replication carries rows, not DDL: a column added on the source while it runs
 * stops the target's apply worker ("missing some replicated columns") and the drain would only time
 * out. Comparing names it instead, with what to do.
 */
export type SchemaFingerprint = Record<string, string[]>;

export async function readFingerprint(client: pg.Client, tables: readonly string[]): Promise<SchemaFingerprint> {
  const { rows } = await client.query<{ id: string; columns: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS id,
            array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname || '.' || c.relname = ANY ($1::text[])
      GROUP BY 1`,
    [tables],
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.columns]));
}

/** One sentence per table whose columns differ, empty when none does. */
export function fingerprintChanges(before: SchemaFingerprint, now: SchemaFingerprint): string[] {
  const changes: string[] = [];
  for (const table of new Set([...Object.keys(before), ...Object.keys(now)])) {
    const was = before[table] ?? [];
    const is = now[table] ?? [];
    const added = is.filter((c) => !was.includes(c));
    const removed = was.filter((c) => !is.includes(c));
    if (added.length || removed.length) {
      changes.push(`${table}: ${[added.length ? `now has ${added.join(', ')}` : '', removed.length ? `no longer has ${removed.join(', ')}` : ''].filter(Boolean).join('; ')}`);
    }
  }
  return changes;
}
