import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';

/**
 * One real PostgreSQL server per suite file (DESIGN §10). Call at the top level of a test file;
 * the returned getter is valid inside tests.
 */
export function usePostgres(): () => EmbeddedServer {
  let server: EmbeddedServer | undefined;
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('PostgreSQL is not started yet: use the getter inside a test');
    return server;
  };
}
