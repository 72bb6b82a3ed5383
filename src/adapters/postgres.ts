import pg from 'pg';
import { parseTableName } from '../config/identifiers.js';

/**
 * PostgreSQL connections for the data path. Connection strings come only from environment variables
 * named by the plan; they never appear in messages, outputs or the journal.
 */

export type DatabaseSide = 'source' | 'target';

/**
 * Settings pinned on every session, on both sides, so that text produced by COPY and by `row::text`
 * (which the content hashes are computed over) is byte-identical for equal values:
 * - TimeZone / DateStyle fix how timestamptz and dates are written;
 * - extra_float_digits=3 writes floats with every digit (what pg_dump uses), so they round-trip;
 * - client_encoding=UTF8 makes export files UTF-8 whatever the server encoding;
 * - row_security=off makes a query that row-level security would filter fail instead of silently
 *   returning fewer rows (pg_dump does the same): an export must never lose rows to a policy;
 * - no statement or idle-in-transaction timeout: Supabase sets them per role, and a COPY of a large
 *   table or the snapshot-holding transaction of an export legitimately run for minutes.
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  extra_float_digits: '3',
  client_encoding: 'UTF8',
  row_security: 'off',
  statement_timeout: '0',
  idle_in_transaction_session_timeout: '0',
};

/** Something that opens connections to one database, and says which one in messages. */
export interface Database {
  /** e.g. `source database (SOURCE_DATABASE_URL)`; safe to print. */
  readonly label: string;
  connect(): Promise<pg.Client>;
}

/** Read a connection URL from the environment variable the plan names, or say what to set. */
export function readDatabaseUrl(
  env: Record<string, string | undefined>,
  envName: string,
  side: DatabaseSide,
): string {
  const url = env[envName];
  if (url === undefined || url.trim() === '') {
    throw new Error(
      `The ${side} database is not configured: environment variable ${envName} is not set. ` +
        `Set it to the ${side} connection string (postgres://user:password@host:5432/db; a direct or ` +
        `session-pooler URL, not a transaction pooler) before running this step.`,
    );
  }
  return url;
}

/** A database reached through `url`, described by `label` in every message. */
export function databaseAt(url: string, label: string): Database {
  return {
    label,
    connect: () => connectDatabase(url, label),
  };
}

/** The plan's source or target database, reading its URL from `env` when a connection is opened. */
export function planDatabase(
  plan: { source: { urlEnv: string }; target: { urlEnv: string } },
  env: Record<string, string | undefined>,
  side: DatabaseSide,
): Database {
  const envName = plan[side].urlEnv;
  const label = `${side} database (${envName})`;
  return {
    label,
    connect: () => connectDatabase(readDatabaseUrl(env, envName, side), label),
  };
}

export async function connectDatabase(url: string, label: string): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client({ connectionString: url, application_name: 'cutover' });
  } catch (error) {
    throw new Error(`The connection string for the ${label} is not valid: ${redact(error, url)}`);
  }
  // An idle connection can be terminated by the server (or by our own freeze); pg then emits
  // 'error' on the client, which would crash the process without a listener. The next query on
  // the client fails with a clear error instead.
  client.on('error', () => {});
  try {
    await client.connect();
    // SET rather than startup `options`, because poolers (PgBouncer, Supavisor) may refuse unknown
    // startup parameters but pass SET through in session mode.
    await client.query(
      Object.entries(SESSION_SETTINGS)
        .map(([name, value]) => `SET ${name} = '${value}'`)
        .join('; '),
    );
  } catch (error) {
    await client.end().catch(() => {});
    throw new Error(`Could not connect to the ${label}: ${redact(error, url)}`);
  }
  return client;
}

/** Open a connection, run `work`, always close. */
export async function withConnection<T>(db: Database, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Run `work` in a transaction; roll back on any error. */
export async function inTransaction<T>(
  client: pg.Client,
  work: () => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  await client.query(begin);
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The message of `error` with the URL and its password removed. */
export function redact(error: unknown, url: string): string {
  let message = error instanceof Error ? error.message : String(error);
  const secrets = [url];
  try {
    const parsed = new URL(url);
    if (parsed.password) secrets.push(parsed.password, decodeURIComponent(parsed.password));
  } catch {
    // Not a URL (a key=value string): the whole string is already in the list.
  }
  for (const secret of secrets) if (secret) message = message.split(secret).join('***');
  return message;
}

/** `"schema"."name"` from a table's canonical id `schema.name` (or a bare name, taken as public). */
export function quoteQualified(name: string): string {
  const { schema, table } = splitTableName(name);
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** The two names of a table's canonical id (see config/identifiers.ts): `public."User"` → public, User. */
export function splitTableName(name: string): { schema: string; table: string } {
  return parseTableName(name);
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
