import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ExitError, EXIT } from '../engine/errors.js';

/**
 * Where the plan is and what the environment holds, settled before any command runs (issue 14,
 * item 4): scripts and timers call `cutover` from any folder of the project, with an env file.
 */

/** The names `loadPlan` reads, in the order a folder is searched. */
export const PLAN_FILE_NAMES = ['cutover.config.ts', 'cutover.config.mjs', 'cutover.config.js', 'cutover.config.json'];

/** The plan file in `folder` or the nearest folder above it; undefined when there is none up to the root. */
export function findPlanUpward(folder: string): string | undefined {
  for (let current = resolve(folder); ; current = dirname(current)) {
    const found = PLAN_FILE_NAMES.map((name) => join(current, name)).find((path) => existsSync(path));
    if (found) return found;
    if (dirname(current) === current) return undefined;
  }
}

/**
 * The plan file: `--config` when given, else `CUTOVER_CONFIG`, else found upward from the working
 * folder (`upward: false` for `cutover init`, which writes here and must not touch a parent's plan),
 * else `cutover.config.ts` here (whose absence `loadPlan` explains).
 */
export function planFileFor(given: string | undefined, env: Record<string, string | undefined>, cwd: string, upward = true): string {
  if (given) return given;
  if (env.CUTOVER_CONFIG) return env.CUTOVER_CONFIG;
  return (upward ? findPlanUpward(cwd) : undefined) ?? join(cwd, PLAN_FILE_NAMES[0]!);
}

/**
 * `--env-file FILE`: Node's own dotenv parser (util.parseEnv, as `node --env-file` and
 * process.loadEnvFile use). A variable already set in the environment wins, as with `node --env-file`,
 * so an operator can override one value for one call. Returns the names set, never the values.
 */
export function loadEnvFile(file: string, env: Record<string, string | undefined>): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExitError(`--env-file ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code})`}. Give the path of a KEY=value file, or leave the option out.`, EXIT.usage);
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
