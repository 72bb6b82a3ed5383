import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseAt, type Database } from '../../src/adapters/postgres.js';
import type { EmbeddedServer } from '../../src/rehearsal/embedded.js';

/** A source and a target database on one embedded server, plus a private scratch folder. */
export interface Pair {
  source: Database;
  target: Database;
  sourceUrl: string;
  targetUrl: string;
  dir: string;
  /** Run SQL on one side with a short-lived superuser connection. */
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(side: 'source' | 'target', text: string, values?: unknown[]): Promise<T[]>;
  cleanup(): Promise<void>;
}

let counter = 0;

export async function makePair(server: EmbeddedServer, name = 'db'): Promise<Pair> {
  counter++;
  const sourceUrl = await server.createDatabase(`${name}_source_${counter}`);
  const targetUrl = await server.createDatabase(`${name}_target_${counter}`);
  const dir = await mkdtemp(join(tmpdir(), 'cutover-data-'));
  return {
    source: databaseAt(sourceUrl, 'source database (TEST_SOURCE_URL)'),
    target: databaseAt(targetUrl, 'target database (TEST_TARGET_URL)'),
    sourceUrl,
    targetUrl,
    dir,
    async sql(side, text, values) {
      const client = new pg.Client(side === 'source' ? sourceUrl : targetUrl);
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The same URL with another user and password (the server's own password is random). */
export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

/** The server's password, to check that it never shows up in outputs. */
export function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** Every row of a table as PostgreSQL row text, ordered: for tests that compare two databases exactly. */
export async function tableText(pair: Pair, side: 'source' | 'target', table: string, orderBy: string): Promise<string[]> {
  const client = new pg.Client(side === 'source' ? pair.sourceUrl : pair.targetUrl);
  await client.connect();
  try {
    await client.query(`SET TimeZone = 'UTC'; SET extra_float_digits = 3`);
    const result = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t ORDER BY ${orderBy}`);
    return result.rows.map((r) => r.row);
  } finally {
    await client.end();
  }
}
