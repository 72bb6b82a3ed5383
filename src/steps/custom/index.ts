import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { parseDuration } from '../../../machines/schedule.js';
import { planDatabase, inTransaction, retryOnlyConnectionErrors, withConnection } from '../../adapters/postgres.js';
import { MissingSecretError, readSecret } from '../../adapters/secrets.js';
import { actionOf, describeAction, undoStepId } from '../../config/custom-steps.js';
import type { CustomActionPlan, Plan } from '../../config/schema.js';
import type { StepAction, StepContext, StepRegistry, StepResult } from '../types.js';

/**
 * The actions of the steps a plan adds (`steps` in the plan): an HTTP request, SQL, or a command, and
 * their undos. The dry run is `describeAction` of the same spec that runs, so `cutover plan`, the
 * checklist and the run say the same thing.
 *
 * A failure of an action that is not declared idempotent is not retried by the engine: a request
 * that timed out may have taken effect, and only a person can tell (`cutover retry` or `skip`).
 */

/** What a step keeps of a response body or a command's output, for the journal. */
const KEEP_CHARS = 2_000;

const tail = (text: string) => (text.length > KEEP_CHARS ? `…${text.slice(-KEEP_CHARS)}` : text);

function notRetried(error: unknown): never {
  if (error instanceof Error) Object.defineProperty(error, 'retryable', { value: false, configurable: true });
  throw error;
}

async function runHttp(action: Extract<CustomActionPlan, { kind: 'http' }>, ctx: StepContext): Promise<StepResult> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(action.headers)) {
    headers[name] = 'valueEnv' in value ? readSecret(ctx.env, value.valueEnv, `the ${name} header of ${ctx.stepId}`) : value.value;
  }
  let body: string | undefined;
  if (typeof action.body === 'string') body = action.body;
  else if (action.body !== undefined) {
    body = JSON.stringify(action.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(action.url, {
    method: action.method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(action.timeoutMs)]),
  });
  const text = await response.text();
  if (response.status !== action.expectStatus) {
    throw new Error(`${action.method} ${action.url} answered HTTP ${response.status} (expected ${action.expectStatus}): ${tail(text).slice(0, 300)}`);
  }
  return { summary: `${action.method} ${action.url}: HTTP ${response.status}`, output: { status: response.status, body: tail(text) } };
}

async function runSql(action: Extract<CustomActionPlan, { kind: 'sql' }>, ctx: StepContext): Promise<StepResult> {
  const db = planDatabase(ctx.plan, ctx.env, action.database, ctx.planDir);
  // Read-only unless the step declares it writes: the database itself refuses a write then.
  const result = await retryOnlyConnectionErrors(() =>
    withConnection(db, (client) => inTransaction(client, () => client.query(action.sql), action.writes ? 'BEGIN' : 'BEGIN READ ONLY')),
  );
  const rows = result.rows.length;
  const said = result.command === 'SELECT' || result.rowCount === null ? `returned ${rows} row(s)` : `${result.rowCount} row(s) affected`;
  // A few rows for the record, within the journal's budget (a row may hold a large value).
  const first = result.rows.slice(0, 5);
  const output = { command: result.command, rows, firstRows: JSON.stringify(first).length <= KEEP_CHARS ? first : tail(JSON.stringify(first)) };
  if (action.expect === 'rows' && rows === 0) throw Object.assign(new Error(`${ctx.stepId}: the query returned no row (expected at least one)`), { retryable: false });
  if (action.expect === 'no-rows' && rows > 0) {
    throw Object.assign(new Error(`${ctx.stepId}: the query returned ${rows} row(s) (expected none); first: ${JSON.stringify(result.rows[0]).slice(0, 300)}`), { retryable: false });
  }
  return { summary: `${action.database}: ${result.command} ${said}`, output };
}

function runCommand(action: Extract<CustomActionPlan, { kind: 'command' }>, ctx: StepContext): Promise<StepResult> {
  const [program, ...args] = action.argv as [string, ...string[]];
  const timeoutMs = parseDuration(action.timeout);
  return new Promise((done, fail) => {
    // No shell: the arguments reach the program exactly as written in the plan.
    const child = spawn(program, args, { cwd: resolve(ctx.planDir, action.cwd ?? '.'), env: ctx.env, shell: false, stdio: ['ignore', 'pipe', 'pipe'], signal: ctx.signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout = tail(stdout + chunk.toString('utf8'))));
    child.stderr.on('data', (chunk: Buffer) => (stderr = tail(stderr + chunk.toString('utf8'))));
    let timedOut = false;
    // Asked to stop at the timeout, made to a little later: a program that ignores SIGTERM must not hang the run.
    let forced: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      clearTimeout(forced);
      fail(new Error(`${program} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(forced);
      ctx.note(`${program} exited ${code ?? signal}`, { exitCode: code, stdout, stderr });
      if (timedOut) fail(new Error(`${program} ran longer than ${action.timeout} and was stopped`));
      else if (code !== 0) fail(new Error(`${program} exited with ${code ?? signal}${stderr ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`));
      else done({ summary: `${program} exited 0`, output: { exitCode: 0, stdout } });
    });
  });
}

async function runAction(action: CustomActionPlan, idempotent: boolean, ctx: StepContext): Promise<StepResult> {
  try {
    switch (action.kind) {
      case 'http':
        return await runHttp(action, ctx);
      case 'sql':
        return await runSql(action, ctx);
      case 'command':
        return await runCommand(action, ctx);
    }
  } catch (error) {
    if (!idempotent) notRetried(error);
    throw error;
  }
}

/** The action of a plan step. */
function customAction(action: CustomActionPlan, idempotent: boolean): StepAction {
  return { run: (ctx) => runAction(action, idempotent, ctx), dryRun: () => describeAction(action) };
}

/** The undo of a plan step: runs only if the step finished (its output is recorded), like a saga's compensation. */
function undoAction(stepId: string, undo: CustomActionPlan & { idempotent: boolean }): StepAction {
  return {
    run: async (ctx) => (ctx.outputs[stepId] === undefined ? { summary: `nothing to undo: ${stepId} did not finish` } : runAction(undo, undo.idempotent, ctx)),
    dryRun: () => `if ${stepId} finished: ${describeAction(undo)}`,
  };
}

/** Actions of every step the plan adds (sign-offs have none: people do them). */
export function customStepActions(plan: Pick<Plan, 'steps'>): StepRegistry {
  const actions: StepRegistry = {};
  for (const step of plan.steps ?? []) {
    const action = actionOf(step);
    if (!action || step.kind === 'signoff') continue;
    actions[step.id] = customAction(action, step.idempotent);
    if (step.undo) {
      for (const branch of ['rollback', 'abort'] as const) actions[undoStepId(step.id, branch)] = undoAction(step.id, step.undo);
    }
  }
  return actions;
}

/**
 * `cutover check` for the plan's own steps: every header secret they will read is set now (the
 * request itself is not made: it has an effect). One finding per variable, whatever uses it.
 */
export function checkCustomSteps(plan: Pick<Plan, 'steps'>, env: Record<string, string | undefined>): { system: string; ok: boolean; message: string }[] {
  const uses = new Map<string, string[]>();
  for (const step of plan.steps ?? []) {
    if (step.kind === 'signoff') continue;
    for (const [label, action] of [[step.id, step], [`${step.id} (undo)`, step.undo]] as const) {
      if (action?.kind !== 'http') continue;
      for (const [name, value] of Object.entries(action.headers)) {
        if ('valueEnv' in value) uses.set(value.valueEnv, [...(uses.get(value.valueEnv) ?? []), `the ${name} header of ${label}`]);
      }
    }
  }
  return [...uses].map(([envName, purposes]) => {
    try {
      readSecret(env, envName, purposes.join(', '));
      return { system: 'plan steps', ok: true, message: `${envName} is set (${purposes.join(', ')})` };
    } catch (error) {
      if (!(error instanceof MissingSecretError)) throw error;
      return { system: 'plan steps', ok: false, message: error.message };
    }
  });
}
