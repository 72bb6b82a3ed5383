import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import type { z } from 'zod';
import { builtinRunbook } from '../../machines/runbook.js';
import { customStepProblems, runbookOfPlan } from './custom-steps.js';
import { ExitError } from '../engine/errors.js';
import { planSchema, type Plan } from './schema.js';
import { approverNames, approverProblems } from './people.js';
import { resolveT0 } from './settings.js';

export interface PlanProblem {
  /** Where in the plan: `tables[2].timestampColumn`. */
  path: string;
  message: string;
}

export class PlanError extends ExitError {
  constructor(
    readonly file: string,
    readonly problems: PlanProblem[],
  ) {
    super(
      `The plan ${file} has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n` +
        problems.map((problem) => `  ${problem.path || '(plan)'}: ${problem.message}`).join('\n') +
        '\nFix the plan and run `cutover check` again.',
      2,
    );
    this.name = 'PlanError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) text += typeof part === 'number' ? `[${part}]` : `${text ? '.' : ''}${String(part)}`;
  return text;
}

function closest(word: string, candidates: string[]): string | undefined {
  const lower = word.toLowerCase();
  return candidates.find((candidate) => candidate.toLowerCase() === lower || candidate.toLowerCase().startsWith(lower.slice(0, 4)));
}

function shapeKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  // Walk the schema along the issue's path to list the fields allowed there (for "did you mean").
  let node: any = schema;
  for (const part of path) {
    while (node?.def?.innerType) node = node.def.innerType;
    if (node?.def?.type === 'array') node = node.def.element;
    else if (node?.def?.type === 'object') node = node.def.shape?.[part as string];
    else if (node?.def?.type === 'union') node = node.def.options.find((o: any) => o.def?.shape?.[part as string]) ?? node.def.options[0];
    else return [];
    while (node?.def?.innerType) node = node.def.innerType;
    if (node?.def?.type === 'array' && typeof part === 'number') continue;
  }
  while (node?.def?.innerType) node = node.def.innerType;
  if (node?.def?.type === 'union') return node.def.options.flatMap((o: any) => Object.keys(o.def?.shape ?? {}));
  return Object.keys(node?.def?.shape ?? {});
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = input;
  for (const part of path) node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[part] : undefined;
  return node;
}

function problemsOf(error: z.ZodError, input: unknown): PlanProblem[] {
  return error.issues.flatMap((issue): PlanProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const suggestion = closest(key, shapeKeys(planSchema, issue.path));
        return {
          path: formatPath([...issue.path, key]),
          message: `unknown field${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
        };
      });
    }
    let message = issue.message.replace(/^Invalid input: /, '');
    if (issue.path.length > 0 && valueAt(input, issue.path) === undefined) message = `missing (${message})`;
    return [{ path: formatPath(issue.path), message }];
  });
}

/** Rules that span fields: what zod's per-field checks cannot see. */
function crossCheck(plan: Plan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const t0 = resolveT0(plan.t0);
  if (!t0.ok) problems.push({ path: t0.path, message: t0.message });
  const names = new Set<string>();
  plan.tables.forEach((table, index) => {
    // Names are canonical ids already (schema.ts), so equal tables have equal names.
    const name = table.name;
    if (names.has(name)) problems.push({ path: `tables[${index}].name`, message: `${name} is listed twice` });
    names.add(name);
    if (table.reconcile?.bucket && !table.timestampColumn) {
      problems.push({ path: `tables[${index}].reconcile.bucket`, message: 'bucketing by time needs timestampColumn on the table' });
    }
  });
  problems.push(...approverProblems(plan));
  const stepProblems = customStepProblems(plan);
  problems.push(...stepProblems);
  // The plan's own steps are in its runbook once they all have a place.
  const book = stepProblems.length ? builtinRunbook : runbookOfPlan(plan);
  const signoffs = new Set(book.signoffStepIds());
  for (const [stepId, rule] of Object.entries(plan.approvers.steps)) {
    const path = `approvers.steps.${stepId}`;
    if (!book.findStep(stepId)) problems.push({ path, message: `there is no step "${stepId}" (see \`cutover plan\` for step ids)` });
    else if (!signoffs.has(stepId)) problems.push({ path, message: `${stepId} is not a sign-off step` });
    const approvers = new Set(approverNames(plan, rule.approvers ?? plan.approvers.default));
    if (rule.quorum > approvers.size) {
      problems.push({ path: `${path}.quorum`, message: `quorum ${rule.quorum} is more than the ${approvers.size} approver(s) who may sign` });
    }
  }
  plan.excludedTables.forEach((table, index) => {
    if (names.has(table.name)) {
      problems.push({ path: `excludedTables[${index}].name`, message: `${table.name} is in tables too: a table is either migrated or excluded` });
    }
  });
  plan.dns.records.forEach((record, index) => {
    const zone = plan.dns.zone;
    if (record.name !== zone && !record.name.endsWith(`.${zone}`)) {
      problems.push({ path: `dns.records[${index}].name`, message: `${record.name} is not in the zone ${zone}` });
    }
    if (record.cutoverTtl > record.normalTtl) {
      problems.push({ path: `dns.records[${index}].cutoverTtl`, message: `the cutover TTL (${record.cutoverTtl}s) should be lower than the normal TTL (${record.normalTtl}s)` });
    }
  });
  if (plan.environment === 'staging' && plan.mail.provider === 'resend' && plan.mail.allowList.length === 0) {
    problems.push({ path: 'mail.allowList', message: 'a staging plan that sends real mail needs an allow-list of recipients' });
  }
  return problems;
}

/** Validate a plan object; throws PlanError naming every problem's path. */
export function parsePlan(input: unknown, file = 'the plan'): Plan {
  const parsed = planSchema.safeParse(input);
  if (!parsed.success) throw new PlanError(file, problemsOf(parsed.error, input));
  const problems = crossCheck(parsed.data);
  if (problems.length) throw new PlanError(file, problems);
  return parsed.data;
}

/** The module that `import { defineConfig } from 'cutover'` resolves to inside a plan file. */
function selfModule(): string {
  const here = fileURLToPath(import.meta.url);
  const extension = here.endsWith('.ts') ? '.ts' : '.js';
  return join(dirname(here), '..', `index${extension}`);
}

export interface LoadedPlan {
  plan: Plan;
  file: string;
  dir: string;
}

/** Load `cutover.config.ts` (or .js/.mjs/.json) and validate it. */
export async function loadPlan(file: string): Promise<LoadedPlan> {
  const path = resolve(file);
  if (!existsSync(path)) {
    throw new ExitError(`No plan at ${path}. Write one with \`cutover init\`, or point to it with --config FILE.`, 2);
  }
  const jiti = createJiti(import.meta.url, { alias: { cutover: selfModule() }, moduleCache: false, fsCache: false });
  let module: unknown;
  try {
    module = await jiti.import(path, { default: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ExitError(`The plan ${path} could not be read: ${message}`, 2);
  }
  return { plan: parsePlan(module, path), file: path, dir: dirname(path) };
}
