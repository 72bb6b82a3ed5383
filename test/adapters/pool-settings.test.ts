import { describe, expect, it } from 'vitest';
import { openPool, SESSION_SETTINGS } from '../../src/adapters/postgres.js';
import { usePostgres } from '../support/postgres.js';

/**
 * A pooled connection is handed out only once its pinned session settings are in place: the first
 * query a user sends already sees them (content hashes depend on DateStyle, IntervalStyle, …).
 */
const server = usePostgres();

describe('openPool', () => {
  it('every connection has the pinned settings before its first query', async () => {
    // The server's own default differs from the pinned one, so a connection without the SET would show it.
    const url = await server().createDatabase('pool_settings');
    const admin = openPool(url, { label: 'test database' });
    await admin.query(`ALTER DATABASE pool_settings SET IntervalStyle = 'sql_standard'`);
    await admin.end();

    const pool = openPool(url, { label: 'test database', max: 4 });
    try {
      const seen = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const { rows } = await pool.query<{ interval_style: string; date_style: string }>(
            `SELECT current_setting('IntervalStyle') AS interval_style, current_setting('DateStyle') AS date_style`,
          );
          return rows[0]!;
        }),
      );
      for (const row of seen) expect(row).toEqual({ interval_style: SESSION_SETTINGS.IntervalStyle, date_style: SESSION_SETTINGS.DateStyle });
    } finally {
      await pool.end();
    }
  });
});
