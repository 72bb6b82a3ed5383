import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/rehearsal/embedded.js';

/**
 * A server started from its own `bin` folder (StartOptions.binDir) beside one from the default
 * binaries, in one process: what a PostgreSQL 17 source next to a PostgreSQL 15 target needs. As root
 * (CI runs as root inside a 0700 clone) the folder is copied where the server's user can run it, the
 * same path the embedded package's binaries take.
 */

const pg17 = process.env.CUTOVER_PG17_BIN;

async function versionOf(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL with a per-server bin folder', () => {
  it.skipIf(!pg17)('starts PostgreSQL 17 from CUTOVER_PG17_BIN beside a default server (skipped when CUTOVER_PG17_BIN is unset: bash scripts/postgres17.sh prints it)', async () => {
    const [newer, usual] = await Promise.all([startEmbeddedPostgres({ binDir: pg17! }), startEmbeddedPostgres()]);
    try {
      expect(await versionOf(newer.url)).toBeGreaterThanOrEqual(170000);
      expect(await versionOf(usual.url)).toBeLessThan(170000);
    } finally {
      await Promise.all([newer.stop(), usual.stop()]);
    }
  }, 180_000);

  it('names a bin folder without PostgreSQL in it', async () => {
    await expect(startEmbeddedPostgres({ binDir: '/nonexistent/pg/bin' })).rejects.toThrow(
      'Cannot start the embedded PostgreSQL server: /nonexistent/pg/bin holds no initdb and postgres. Name the bin folder of a PostgreSQL installation.',
    );
  });
});
