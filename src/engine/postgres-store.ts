import { hostname, userInfo } from 'node:os';
import { ConnectionFailedError, connectionSecurity, isConnectionError, poolerAddress, quoteIdent, type TlsOptions } from '../adapters/postgres.js';
import { SyncPg, SyncPgError } from '../adapters/pg-sync.js';
import { EXIT, ExitError } from './errors.js';
import { recognise, type Identity } from './identity.js';
import { parseRequest, type InboxAnswer, type InboxRequest, type PendingRequest } from './inbox.js';
import { describeHolder, processStartTicks, type Lock, type LockHolder } from './lock.js';
import type { RunStore } from './run-store.js';
import { planFingerprint } from './state-store.js';
import type { Plan } from '../config/schema.js';

/**
 * Team mode (DESIGN §2): the run's record in a small PostgreSQL database of its own, shared by
 * operators on several machines.
 *
 * - The driver's lock is a session-level advisory lock on a key derived from the plan: a driver that
 *   dies (even SIGKILL) loses its session and with it the lock, and the next `cutover run` takes over.
 *   `drivers` says who holds it, for messages; the lock itself is the server's.
 * - The journal is `events`: one row per line, numbered per run, each row the very line the file
 *   journal would hold (the same hash chain, checked by the same code). A trigger refuses UPDATE,
 *   DELETE and TRUNCATE; the primary key refuses a second line with a taken number.
 * - Outside requests are rows of `inbox`, stamped by a trigger with the session's login: who asks is
 *   the login the server authenticated, never what the row says. A NOTIFY wakes the driver.
 *
 * One session per process, opened when first needed (commands that never touch the run never connect).
 */

export const STATE_SCHEMA = 'cutover_state';
/** The NOTIFY channel; the payload is the run key, so several plans can share one state database. */
const CHANNEL = 'cutover_state';

export interface PostgresStateOptions {
  plan: Pick<Plan, 'name' | 'environment' | 'approvers'>;
  urlEnv: string;
  /** Members of this role may use the schema cutover creates (granted when it is created). */
  teamRole?: string | undefined;
  tls?: TlsOptions | undefined;
  env: Record<string, string | undefined>;
  /** How often a driver looks at the inbox without a wake-up (default 2 s; NOTIFY is the fast path). */
  pollMs?: number;
}

/**
 * A pooler cannot hold a session-level advisory lock or deliver LISTEN notifications in transaction
 * mode (port 6543 is Supabase's transaction pooler): the same rule as the replicate check.
 */
export function statePoolerProblem(url: string, envName: string): string | undefined {
  const pooler = poolerAddress(url);
  if (!pooler) return undefined;
  return (
    `${envName} points at a connection pooler (${pooler}): the state database needs a direct connection, ` +
    'because the driver\'s lock is held by its session and wake-ups come by LISTEN, which a transaction pooler cannot carry. Use the database\'s own host and port (5432).'
  );
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export class PostgresStore implements RunStore {
  readonly kind = 'postgres';
  readonly pollMs: number;
  readonly where: string;
  private readonly key: string;
  private readonly label: string;
  private session?: { db: SyncPg; login: string; backendPid: number };
  /** Our own close ends the session too: that is not a loss. */
  private closing = false;

  constructor(private readonly options: PostgresStateOptions) {
    this.key = planFingerprint(options.plan);
    this.pollMs = options.pollMs ?? 2_000;
    this.label = `state database (${options.urlEnv})`;
    this.where = `the ${this.label}, run key ${this.key}`;
  }

  /** Connect (once), create the schema if it is missing, and learn the session's login. */
  connect(): { login: string; created: boolean } {
    if (this.session) return { login: this.session.login, created: false };
    const { urlEnv, env } = this.options;
    const url = env[urlEnv]?.trim();
    if (!url) {
      throw new ExitError(
        `The plan keeps the run's state in PostgreSQL (state.postgres.urlEnv = ${urlEnv}), but ${urlEnv} is not set. ` +
          `Set it to the state database's URL (postgres://login:password@host:5432/cutover_state, a direct connection), or remove state.postgres from the plan to keep the state in files.`,
        EXIT.usage,
      );
    }
    const pooler = statePoolerProblem(url, urlEnv);
    if (pooler) throw new ExitError(pooler, EXIT.usage);
    const security = connectionSecurity(url, this.label, this.options.tls);
    if (security.refused) throw new ExitError(security.refused.replace(/\w+\.tls\.caFile/, 'state.postgres.tls.caFile'), EXIT.usage);
    let db: SyncPg;
    try {
      db = new SyncPg(url, { label: this.label, applicationName: 'cutover state', connectTimeoutMs: 10_000, statementTimeoutMs: 30_000, ...(this.options.tls ? { tls: this.options.tls } : {}) });
    } catch (error) {
      if (error instanceof ExitError) throw new ExitError(error.message, EXIT.usage);
      const detail = error instanceof ConnectionFailedError ? error.detail : (error as Error).message;
      throw new ExitError(`Cannot reach the ${this.label}: ${detail}. Nothing was read or written. Check that ${urlEnv} names a reachable database and a login that may use it.`, EXIT.usage);
    }
    try {
      const created = this.ensureSchema(db);
      const [me] = db.query<{ login: string; pid: number }>('SELECT session_user::text AS login, pg_backend_pid() AS pid');
      this.session = { db, login: me!.login, backendPid: me!.pid };
      return { login: me!.login, created };
    } catch (error) {
      db.close();
      throw error instanceof SyncPgError ? this.refusal('prepare', error) : error;
    }
  }

  private get db(): SyncPg {
    this.connect();
    return this.session!.db;
  }

  /** A statement the server refused, as an operations fault that names the database and the cause. */
  private refusal(what: string, error: SyncPgError): ExitError {
    const lost = isConnectionError(error) || /terminat|not queryable|closed|not connected|did not answer|stopped/i.test(error.message);
    return new ExitError(
      lost
        ? `The connection to the ${this.label} was lost (${error.message}) while trying to ${what}: this process no longer holds the run. Nothing half-written stays (every line is its own transaction). Run the command again; \`cutover run\` resumes where the record ends.`
        : `The ${this.label} refused to ${what}: ${error.message}${error.code === '42501' ? ` (grant the login the use of schema ${STATE_SCHEMA}: see docs/operations.md, team mode)` : ''}.`,
      lost ? EXIT.attention : EXIT.usage,
    );
  }

  private q<T = Record<string, unknown>>(what: string, sql: string, params: unknown[] = []): T[] {
    try {
      return this.db.query<T>(sql, params);
    } catch (error) {
      if (error instanceof SyncPgError) throw this.refusal(what, error);
      throw error;
    }
  }

  /** Create the schema when it is missing (idempotent, one creator at a time). Returns whether it did. */
  private ensureSchema(db: SyncPg): boolean {
    const [found] = db.query<{ ok: boolean }>(`SELECT to_regclass('${STATE_SCHEMA}.side_files') IS NOT NULL AS ok`);
    if (found?.ok) return false;
    const team = this.options.teamRole ? quoteIdent(this.options.teamRole) : undefined;
    const s = STATE_SCHEMA;
    db.query(`BEGIN;
      SELECT pg_advisory_xact_lock(hashtextextended('cutover_state schema', 0));
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.events (
        run_key text NOT NULL, seq integer NOT NULL CHECK (seq > 0), at timestamptz NOT NULL, type text NOT NULL,
        line text NOT NULL, prev text NOT NULL, hash text NOT NULL, login text NOT NULL DEFAULT session_user,
        PRIMARY KEY (run_key, seq));
      CREATE TABLE IF NOT EXISTS ${s}.snapshots (run_key text PRIMARY KEY, envelope text NOT NULL, saved_at timestamptz NOT NULL DEFAULT now(), login text NOT NULL DEFAULT session_user);
      CREATE TABLE IF NOT EXISTS ${s}.drivers (run_key text PRIMARY KEY, holder jsonb NOT NULL, backend_pid integer NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.inbox (id bigserial PRIMARY KEY, run_key text NOT NULL, login text NOT NULL DEFAULT session_user, request text NOT NULL,
        posted_at timestamptz NOT NULL DEFAULT now(), answer text, answered_at timestamptz);
      CREATE TABLE IF NOT EXISTS ${s}.side_files (run_key text NOT NULL, name text NOT NULL, content text NOT NULL,
        saved_at timestamptz NOT NULL DEFAULT now(), login text NOT NULL DEFAULT session_user, PRIMARY KEY (run_key, name));
      CREATE OR REPLACE FUNCTION ${s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'cutover_state.events is append-only: % refused', TG_OP USING ERRCODE = '42501'; END $$;
      CREATE OR REPLACE FUNCTION ${s}.stamp_login() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN NEW.login := session_user;
          ELSE NEW.login := OLD.login; NEW.request := OLD.request; NEW.run_key := OLD.run_key; END IF;
          RETURN NEW;
        END $$;
      DROP TRIGGER IF EXISTS append_only ON ${s}.events;
      CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON ${s}.events FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_change();
      DROP TRIGGER IF EXISTS no_truncate ON ${s}.events;
      CREATE TRIGGER no_truncate BEFORE TRUNCATE ON ${s}.events FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_change();
      DROP TRIGGER IF EXISTS stamp_login ON ${s}.events;
      CREATE TRIGGER stamp_login BEFORE INSERT ON ${s}.events FOR EACH ROW EXECUTE FUNCTION ${s}.stamp_login();
      DROP TRIGGER IF EXISTS stamp_login ON ${s}.inbox;
      CREATE TRIGGER stamp_login BEFORE INSERT OR UPDATE ON ${s}.inbox FOR EACH ROW EXECUTE FUNCTION ${s}.stamp_login();
      ${
        team
          ? `GRANT USAGE ON SCHEMA ${s} TO ${team};
      GRANT SELECT, INSERT ON ${s}.events TO ${team};
      GRANT SELECT, INSERT, UPDATE ON ${s}.snapshots, ${s}.drivers, ${s}.side_files TO ${team};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.inbox TO ${team};
      GRANT USAGE ON SEQUENCE ${s}.inbox_id_seq TO ${team};`
          : ''
      }
      COMMIT;`);
    return true;
  }

  readJournalLines(): string[] {
    return this.q<{ line: string }>('read the journal', `SELECT line FROM ${STATE_SCHEMA}.events WHERE run_key = $1 ORDER BY seq`, [this.key]).map((row) => row.line);
  }

  appendJournalLine(seq: number, line: string, entry: { at: string; type: string; prev: string; hash: string }): void {
    try {
      this.db.query(`INSERT INTO ${STATE_SCHEMA}.events (run_key, seq, at, type, line, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [this.key, seq, entry.at, entry.type, line, entry.prev, entry.hash]);
    } catch (error) {
      if (!(error instanceof SyncPgError)) throw error;
      if (error.code === '23505') {
        throw new ExitError(`Journal line ${seq} in ${this.where} was written by another process: only the driver holding the lock writes. Nothing was written; run the command again.`, EXIT.locked);
      }
      throw this.refusal(`write journal line ${seq}`, error);
    }
  }

  loadStateText(): string | undefined {
    return this.q<{ envelope: string }>('read the state', `SELECT envelope FROM ${STATE_SCHEMA}.snapshots WHERE run_key = $1`, [this.key])[0]?.envelope;
  }

  saveStateText(text: string): void {
    this.q('save the state', `INSERT INTO ${STATE_SCHEMA}.snapshots (run_key, envelope) VALUES ($1, $2) ON CONFLICT (run_key) DO UPDATE SET envelope = excluded.envelope, saved_at = now(), login = session_user`, [this.key, text]);
  }

  saveSideFile(name: string, content: string): void {
    this.q(
      `keep the side file ${name}`,
      `INSERT INTO ${STATE_SCHEMA}.side_files (run_key, name, content) VALUES ($1, $2, $3)
       ON CONFLICT (run_key, name) DO UPDATE SET content = excluded.content, saved_at = now(), login = session_user`,
      [this.key, name, content],
    );
  }

  sideFiles(): Array<{ name: string; content: string }> {
    return this.q<{ name: string; content: string }>('read the side files', `SELECT name, content FROM ${STATE_SCHEMA}.side_files WHERE run_key = $1 ORDER BY name`, [this.key]);
  }

  private tryLock(): boolean {
    return Boolean(this.q<{ got: boolean }>('take the driver\'s lock', 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS got', [`cutover:${this.key}`])[0]?.got);
  }

  acquireLock(command: string, options: { force?: boolean }): Lock {
    this.connect();
    const { login, backendPid } = this.session!;
    const startTicks = processStartTicks(process.pid);
    const me: LockHolder = { pid: process.pid, host: hostname(), user: userInfo().username, command, since: new Date().toISOString(), login, session: backendPid, ...(startTicks !== undefined ? { startTicks } : {}) };
    if (!this.tryLock()) {
      const holder = this.readLock();
      if (!options.force) {
        throw new ExitError(
          `Another runner holds this cutover: ${holder ? describeHolder(holder) : 'a session of the state database'}${holder?.login ? `, PostgreSQL login ${holder.login}` : ''}. Only one runner may drive a cutover. Use that one, or stop it first.`,
          EXIT.locked,
        );
      }
      // `cutover unlock`: end the holder's session; its advisory lock goes with it.
      if (holder?.session) this.q('end the holder\'s session', 'SELECT pg_terminate_backend($1)', [holder.session]);
      let got = false;
      for (let look = 0; look < 100 && !(got = this.tryLock()); look++) sleepSync(100);
      if (!got) throw new ExitError(`The lock of ${this.where} is still held: the holder's session could not be ended. Ask the database's administrator to end it (pg_terminate_backend).`, EXIT.locked);
    }
    const previous = this.q<{ holder: LockHolder }>('read the driver', `SELECT holder FROM ${STATE_SCHEMA}.drivers WHERE run_key = $1`, [this.key])[0]?.holder;
    this.q('record the driver', `INSERT INTO ${STATE_SCHEMA}.drivers (run_key, holder, backend_pid) VALUES ($1, $2, $3) ON CONFLICT (run_key) DO UPDATE SET holder = excluded.holder, backend_pid = excluded.backend_pid`, [this.key, JSON.stringify(me), backendPid]);
    this.q('listen for requests', `LISTEN ${CHANNEL}`);
    let released = false;
    return {
      ...(previous && !previous.released ? { tookOverFrom: previous } : {}),
      release: () => {
        if (released) return;
        released = true;
        try {
          this.db.query(`UPDATE ${STATE_SCHEMA}.drivers SET holder = holder || jsonb_build_object('released', now()) WHERE run_key = $1 AND backend_pid = pg_backend_pid()`, [this.key]);
          this.db.query(`UNLISTEN ${CHANNEL}`);
          this.db.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`cutover:${this.key}`]);
        } catch {
          // The session is gone: so is its lock.
        }
      },
    };
  }

  readLock(): LockHolder | undefined {
    // Held means: the recorded session still holds an advisory lock (a dead driver's session does not).
    return this.q<{ holder: LockHolder }>(
      'read the driver',
      `SELECT d.holder FROM ${STATE_SCHEMA}.drivers d
        WHERE d.run_key = $1 AND NOT d.holder ? 'released'
          AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = d.backend_pid)`,
      [this.key],
    )[0]?.holder;
  }

  postRequest(request: InboxRequest): string {
    const [row] = this.q<{ id: string }>('hand in the request', `INSERT INTO ${STATE_SCHEMA}.inbox (run_key, request) VALUES ($1, $2) RETURNING id::text AS id`, [this.key, JSON.stringify(request)]);
    this.q('wake the driver', 'SELECT pg_notify($1, $2)', [CHANNEL, this.key]);
    return `pg-${row!.id}`;
  }

  pendingRequests(): PendingRequest[] {
    return this.q<{ id: string; login: string; request: string }>(
      'read the inbox',
      `SELECT id::text AS id, login, request FROM ${STATE_SCHEMA}.inbox WHERE run_key = $1 AND answer IS NULL ORDER BY id`,
      [this.key],
    ).map((row) => {
      const parsed = parseRequest(row.request);
      return { id: `pg-${row.id}`, uid: -1, login: row.login, ...('request' in parsed ? { request: parsed.request } : { problem: parsed.problem }) };
    });
  }

  answerRequest(id: string, answer: InboxAnswer): void {
    this.q('answer the request', `UPDATE ${STATE_SCHEMA}.inbox SET answer = $3, answered_at = now() WHERE run_key = $1 AND id = $2`, [this.key, id.replace(/^pg-/, ''), JSON.stringify(answer)]);
  }

  readAnswer(id: string): InboxAnswer | undefined {
    const text = this.q<{ answer: string | null }>('read the answer', `SELECT answer FROM ${STATE_SCHEMA}.inbox WHERE run_key = $1 AND id = $2`, [this.key, id.replace(/^pg-/, '')])[0]?.answer;
    return text ? (JSON.parse(text) as InboxAnswer) : undefined;
  }

  pruneAnswers(): void {
    // The journal keeps each request's record; the answer only told the sender.
    this.q('prune answered requests', `DELETE FROM ${STATE_SCHEMA}.inbox WHERE run_key = $1 AND answered_at < now() - interval '24 hours'`, [this.key]);
  }

  onRequest(listener: () => void): () => void {
    return this.db.onNotice((notice) => {
      if ('channel' in notice && notice.channel === CHANNEL && notice.payload === this.key) listener();
    });
  }

  onLost(listener: () => void): () => void {
    return this.db.onNotice((notice) => {
      if ('ended' in notice && !this.closing) listener();
    });
  }

  identity(): Identity {
    return recognise(this.options.plan, this.connect().login, 'postgres-login');
  }

  close(): void {
    this.closing = true;
    this.session?.db.close();
    this.session = undefined;
    this.closing = false;
  }
}
