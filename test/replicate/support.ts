import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';

/** One real PostgreSQL server with wal_level = logical per suite file (source and target databases on it). */
export function useLogicalPostgres(): () => EmbeddedServer {
  let server: EmbeddedServer | undefined;
  beforeAll(async () => {
    server = await startEmbeddedPostgres({ settings: { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10 } });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('PostgreSQL is not started yet: use the getter inside a test');
    return server;
  };
}

/** Poll `condition` until true or the deadline passes (then fail with `what`). */
export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
