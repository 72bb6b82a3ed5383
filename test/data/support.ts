import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { databaseAt, type Database } from '../../src/adapters/postgres.js';
import type { Plan } from '../../src/config/schema.js';
import type { Clock, ManualClock } from '../../src/engine/clock.js';
import type { EmbeddedServer } from '../../src/rehearsal/embedded.js';
import type { Adapters, Progress, StepContext } from '../../src/steps/types.js';

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

/** What a data-step test holds across its steps: the run it plays and what the steps reported. */
export interface DataRun {
  plan: Plan;
  planDir: string;
  runId: string;
  clock: Clock;
  /** The outputs of the steps run so far, as the runner hands them to the next step. */
  outputs: Record<string, unknown>;
  /** Connection strings live only here, as in a real run. */
  env: Record<string, string | undefined>;
  notes: string[];
  /** Default: `.cutover` in the plan's folder. */
  stateDir?: string;
  progress?: Progress[];
  /** Default: DNS and mail refuse, since the data path touches neither. */
  adapters?: Adapters;
}

/** A StepContext as the runner gives one to a data step (first attempt). */
export function dataStepContext(run: DataRun, stepId: string, overrides: Partial<StepContext> = {}): StepContext {
  return {
    plan: run.plan,
    planDir: run.planDir,
    runId: run.runId,
    stepId,
    attempt: 1,
    clock: run.clock,
    stateDir: run.stateDir ?? join(run.planDir, '.cutover'),
    outputs: run.outputs,
    adapters: run.adapters ?? {
      dns: () => {
        throw new Error('no DNS in data steps');
      },
      mail: () => {
        throw new Error('no mail in data steps');
      },
    },
    progress: (report) => run.progress?.push(report),
    note: (message) => run.notes.push(message),
    signal: new AbortController().signal,
    env: run.env,
    ...overrides,
  };
}

/** Run `work`, moving the manual clock to each deadline it waits for (waiting for the wait, not sleeping). */
export async function withClockDriven<T>(clock: ManualClock, work: Promise<T>, duringWait?: () => Promise<void>): Promise<T> {
  let finished = false;
  work.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) {
    const deadline = clock.nextDeadline();
    if (deadline !== undefined) {
      await duringWait?.();
      duringWait = undefined;
      clock.set(deadline);
    }
    await delay(5);
  }
  return work;
}
