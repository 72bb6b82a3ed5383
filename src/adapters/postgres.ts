import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { parseTableName } from '../config/identifiers.js';
import { ExitError } from '../engine/errors.js';
import { readSecret } from './secrets.js';

/**
 * Every PostgreSQL connection cutover opens is made here (openClient, openPool): TLS decided before
 * anything is sent, the same pinned session settings on every session. Connection strings come only
 * from environment variables named by the plan; they never appear in messages, outputs or the journal.
 */

export type DatabaseSide = 'source' | 'target';

/**
 * Settings pinned on every session, on both sides, so that the text of a value (what COPY writes, what
 * `row::text` gives, what the row hashes of src/steps/compare are computed over) depends on the value
 * only, never on a database- or role-level setting (`ALTER DATABASE … SET IntervalStyle …`):
 * - TimeZone / DateStyle / IntervalStyle: how timestamptz, dates and intervals are written (and read
 *   back by the load);
 * - extra_float_digits=3 writes floats with every digit (what pg_dump uses), so they round-trip;
 * - bytea_output=hex, xmloption=content: how bytea is written and how xml text is parsed;
 * - lc_monetary / lc_numeric=C: how money is written and read (its symbol, separators and decimals);
 * - client_encoding=UTF8 makes export files UTF-8 whatever the server encoding.
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  xmloption: 'content',
  lc_monetary: 'C',
  lc_numeric: 'C',
  client_encoding: 'UTF8',
};

/**
 * Added for the data path (export, load, verify, reconcile, rollback), not for short checks:
 * - row_security=off makes a query that row-level security would filter fail instead of silently
 *   returning fewer rows (pg_dump does the same): an export must never lose rows to a policy;
 * - no statement or idle-in-transaction timeout: Supabase sets them per role, and a COPY of a large
 *   table or the snapshot-holding transaction of an export legitimately run for minutes.
 */
const DATA_PATH_SETTINGS: Readonly<Record<string, string>> = {
  row_security: 'off',
  statement_timeout: '0',
  idle_in_transaction_session_timeout: '0',
};

/** How one connection is secured, decided from its URL and the plan before anything is sent. */
export interface ConnectionSecurity {
  /** The host as the URL names it (`localhost` for a socket or an empty host). */
  host: string;
  loopback: boolean;
  /**
   * plain: no TLS (loopback only); verify-full: the certificate chains to the CA and names the host;
   * verify-ca: chains to the CA; no-verify: encrypted, but anyone can pose as the server.
   */
  mode: 'plain' | 'verify-full' | 'verify-ca' | 'no-verify';
  /** Why this connection must not be opened, with the fix. */
  refused?: string;
  /** Allowed, but a person should know (no-verify). */
  warning?: string;
}

/** TLS settings from the plan (`source.tls` / `target.tls`), with `caFile` already resolved to a path. */
export interface TlsOptions {
  caFile?: string;
}

export interface ConnectionOptions {
  /** e.g. `source database (SOURCE_DATABASE_URL)`; safe to print. */
  label: string;
  tls?: TlsOptions | undefined;
  applicationName?: string;
  connectTimeoutMs?: number;
  /**
   * A short check (reachability, a probe) rather than the data path: this statement timeout, and row
   * security and the role's idle timeout left as they are.
   */
  statementTimeoutMs?: number;
}

/** URL parameters about TLS: decided here, so pg's own reading of them never overrides ours. */
const TLS_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'uselibpqcompat'];

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === '' || bare === 'localhost' || bare.startsWith('/') || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

function parseUrl(url: string, label: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw new Error(`unexpected scheme ${parsed.protocol}`);
    return parsed;
  } catch {
    throw new ConnectionRefusedError(
      `The connection string for the ${label} is not a postgres:// URL: write it as ` +
        `postgres://user:password@host:5432/db?sslmode=verify-full.`,
    );
  }
}

/**
 * The TLS decision for `url` (pure: no connection). A host that is not loopback is never reached in
 * plain text: the URL must ask for TLS (`sslmode=verify-full`, `require`, `verify-ca`, or `no-verify`
 * with a warning) or the plan must name a CA file; `disable`, `allow` and `prefer` (which falls back to
 * plain text) are refused. `require` is verified like `verify-full`, as pg does: a certificate nobody
 * checks stops only a passive eavesdropper. Loopback hosts keep what the URL says (plain by default).
 */
export function connectionSecurity(url: string, label: string, planTls?: TlsOptions): ConnectionSecurity {
  const parsed = parseUrl(url, label);
  const tls = withUrlCa(url, label, planTls);
  const hostParam = parsed.searchParams.get('host');
  const host = decodeURIComponent(parsed.hostname) || hostParam || 'localhost';
  const loopback = isLoopback(host);
  const sslmode = parsed.searchParams.get('sslmode') ?? (/^(true|1)$/.test(parsed.searchParams.get('ssl') ?? '') ? 'verify-full' : undefined);
  const fix =
    `Add ?sslmode=verify-full to the URL and name the server's CA in the plan (${label.split(' ')[0]}.tls.caFile; ` +
    `Supabase: Project Settings → Database → SSL configuration → download certificate), or ?sslmode=no-verify ` +
    `(encrypted, server not authenticated) if the CA cannot be had.`;
  switch (sslmode) {
    case undefined:
      if (tls?.caFile) return { host, loopback, mode: 'verify-full' };
      if (loopback) return { host, loopback, mode: 'plain' };
      return {
        host,
        loopback,
        mode: 'plain',
        refused: `The ${label} is on ${host}, not this machine, and its URL does not ask for TLS: the data (users' emails included) would cross the network in plain text. ${fix}`,
      };
    case 'disable':
    case 'allow':
    case 'prefer':
      if (loopback) return { host, loopback, mode: 'plain' };
      return {
        host,
        loopback,
        mode: 'plain',
        refused: `The ${label} is on ${host}, not this machine, and its URL says sslmode=${sslmode}, which may send the data in plain text. ${fix}`,
      };
    case 'require':
    case 'verify-full':
      return { host, loopback, mode: 'verify-full' };
    case 'verify-ca':
      return { host, loopback, mode: 'verify-ca' };
    case 'no-verify':
      return {
        host,
        loopback,
        mode: 'no-verify',
        warning: `The ${label} is reached with sslmode=no-verify: encrypted, but the server's certificate is not checked, so anyone on the path can pose as it. Prefer sslmode=verify-full with ${label.split(' ')[0]}.tls.caFile in the plan.`,
      };
    default:
      return {
        host,
        loopback,
        mode: 'plain',
        refused: `The connection string for the ${label} has sslmode=${sslmode}, which is not one of verify-full, require, verify-ca, no-verify, disable. ${fix}`,
      };
  }
}

/** A connection that must not be opened (plain text to a remote host, a URL that cannot be read). */
export class ConnectionRefusedError extends ExitError {
  override readonly name = 'ConnectionRefusedError';
}

/** A connection that could not be opened (unreachable, refused, wrong password); `detail` is pg's message without secrets. */
export class ConnectionFailedError extends Error {
  override readonly name = 'ConnectionFailedError';
  constructor(
    label: string,
    readonly detail: string,
    readonly code: string | undefined,
  ) {
    super(`Could not connect to the ${label}: ${detail}`);
  }
}

/** The plan's CA file, or else the URL's `sslrootcert` (libpq's way of naming it). */
function withUrlCa(url: string, label: string, tls: TlsOptions | undefined): TlsOptions | undefined {
  if (tls?.caFile) return tls;
  const rootCert = parseUrl(url, label).searchParams.get('sslrootcert');
  return rootCert && rootCert !== 'system' ? { ...tls, caFile: rootCert } : tls;
}

/** pg's `ssl` option for a decision. */
function sslOption(security: ConnectionSecurity, tls: TlsOptions | undefined, label: string): pg.ClientConfig['ssl'] {
  if (security.mode === 'plain') return false;
  if (security.mode === 'no-verify') return { rejectUnauthorized: false };
  let ca: Buffer | undefined;
  if (tls?.caFile) {
    try {
      ca = readFileSync(tls.caFile);
    } catch (error) {
      throw new ConnectionRefusedError(
        `The CA file for the ${label} (${tls.caFile}) cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. ` +
          `Put the server's CA certificate (PEM) there, or fix ${label.split(' ')[0]}.tls.caFile in the plan.`,
      );
    }
  }
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    ...(security.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** The pg configuration for `url`: TLS decided by `connectionSecurity`, TLS parameters removed from the URL. */
function clientConfig(url: string, options: ConnectionOptions): pg.ClientConfig {
  const tls = withUrlCa(url, options.label, options.tls);
  const security = connectionSecurity(url, options.label, tls);
  if (security.refused) throw new ConnectionRefusedError(security.refused);
  const parsed = parseUrl(url, options.label);
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name);
  return {
    connectionString: parsed.toString(),
    ssl: sslOption(security, tls, options.label),
    application_name: options.applicationName ?? 'cutover',
    ...(options.connectTimeoutMs ? { connectionTimeoutMillis: options.connectTimeoutMs } : {}),
  };
}

/** The SET statement run first on every connection (SET rather than startup `options`: poolers such as PgBouncer or Supavisor may refuse unknown startup parameters but pass SET through in session mode). */
function settingsStatement(options: ConnectionOptions): string {
  const settings: Record<string, string> =
    options.statementTimeoutMs === undefined
      ? { ...SESSION_SETTINGS, ...DATA_PATH_SETTINGS }
      : { ...SESSION_SETTINGS, statement_timeout: String(options.statementTimeoutMs) };
  return Object.entries(settings)
    .map(([name, value]) => `SET ${name} = ${quoteLiteral(value)}`)
    .join('; ');
}

/**
 * The one place a PostgreSQL connection is opened: TLS as `connectionSecurity` decides, the pinned
 * session settings applied before the connection is handed out, and the URL and its password kept out
 * of every message.
 */
export async function openClient(url: string, options: ConnectionOptions): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client(clientConfig(url, options));
  } catch (error) {
    if (error instanceof ConnectionRefusedError) throw error;
    throw new Error(`The connection string for the ${options.label} is not valid: ${redact(error, url)}`);
  }
  // An idle connection can be terminated by the server (or by our own freeze); pg then emits
  // 'error' on the client, which would crash the process without a listener. The next query on
  // the client fails with a clear error instead.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(settingsStatement(options));
  } catch (error) {
    await client.end().catch(() => {});
    const code = (error as { code?: string }).code;
    const hint = code && CERTIFICATE_ERRORS.test(code) ? ` (${certificateHint(options.label)})` : '';
    throw new ConnectionFailedError(options.label, `${redact(error, url)}${hint}`, code);
  }
  return client;
}

/** Node's codes for a server certificate that could not be verified. */
const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

function certificateHint(label: string): string {
  return (
    `the server's TLS certificate could not be verified: name the CA that signed it in the plan ` +
    `(${label.split(' ')[0]}.tls.caFile), and connect by the host name the certificate is for`
  );
}

/**
 * Where `url` reaches a connection pooler rather than the database itself ("host:port"), or undefined:
 * Supabase's transaction pooler listens on 6543, Supavisor's hosts are `*.pooler.*`, and PgBouncer
 * often says so in its name. Session-bound work (replication, advisory locks, LISTEN) needs the direct
 * connection.
 */
export function poolerAddress(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const pooled = parsed.port === '6543' || /pooler\.|pgbouncer/i.test(parsed.hostname);
  return pooled ? `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}` : undefined;
}

/** A pool whose every connection is opened like `openClient`'s (TLS, pinned settings). */
export function openPool(url: string, options: ConnectionOptions & { max?: number }): pg.Pool {
  const settings = settingsStatement(options);
  const pool = new pg.Pool({
    ...clientConfig(url, options),
    ...(options.max ? { max: options.max } : {}),
    // Awaited before the client is handed out, so the SET is done before anything the pool's user sends.
    onConnect: async (client: pg.ClientBase) => {
      client.on('error', () => {});
      await client.query(settings);
    },
  });
  pool.on('error', () => {});
  return pool;
}

/** Something that opens connections to one database, and says which one in messages. */
export interface Database {
  /** e.g. `source database (SOURCE_DATABASE_URL)`; safe to print. */
  readonly label: string;
  connect(): Promise<pg.Client>;
}

/** Read a connection URL from the environment variable the plan names, or say what to set. */
export function readDatabaseUrl(env: Record<string, string | undefined>, envName: string, side: DatabaseSide): string {
  return readSecret(
    env,
    envName,
    `the ${side} database's connection string (postgres://user:password@host:5432/db?sslmode=verify-full; ` +
      `a direct or session-pooler URL, not a transaction pooler) before running this step`,
  );
}

/** A database reached through `url`, described by `label` in every message. */
export function databaseAt(url: string, label: string, tls?: TlsOptions): Database {
  return {
    label,
    connect: () => openClient(url, { label, tls }),
  };
}

type PlanSides = { source: { urlEnv: string; tls?: { caFile: string } | undefined }; target: { urlEnv: string; tls?: { caFile: string } | undefined } };

/** The plan's TLS settings for one side, the CA file resolved against the plan's folder. */
export function planTls(plan: PlanSides, side: DatabaseSide, planDir = '.'): TlsOptions | undefined {
  const caFile = plan[side].tls?.caFile;
  return caFile ? { caFile: resolve(planDir, caFile) } : undefined;
}

/** The plan's source or target database, reading its URL from `env` when a connection is opened. */
export function planDatabase(plan: PlanSides, env: Record<string, string | undefined>, side: DatabaseSide, planDir = '.'): Database {
  const envName = plan[side].urlEnv;
  const label = `${side} database (${envName})`;
  return {
    label,
    connect: () => openClient(readDatabaseUrl(env, envName, side), { label, tls: planTls(plan, side, planDir) }),
  };
}

/** SQLSTATEs of a lost or refused session: class 08, and the server shutting down or in recovery. */
const CONNECTION_STATES = /^(08|57P0[1-3])/;
const CONNECTION_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether `error` is connection trouble: the only failure on the data path that another attempt can
 * cure. A mismatch, a constraint violation or a permission error gives the same answer every time.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof ConnectionFailedError) return true;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_STATES.test(code) || CONNECTION_ERRNOS.has(code))) return true;
  return typeof message === 'string' && /^Connection terminated|connection timeout/i.test(message);
}

/**
 * Run data-path `work` so that the engine retries it only after connection trouble: any other error
 * is marked `retryable: false` (read by the runner), and the step fails at once with it.
 */
export async function retryOnlyConnectionErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && !isConnectionError(error)) {
      Object.defineProperty(error, 'retryable', { value: false, configurable: true });
    }
    throw error;
  }
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
