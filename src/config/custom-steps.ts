import { builtinRunbook, insertionProblem, withInsertions, type Branch, type Runbook, type StepDef, type StepInsertion } from '../../machines/runbook.js';
import { approverNames, peopleOf, sameName } from './people.js';
import type { CustomActionPlan, CustomStepPlan, Plan } from './schema.js';

/**
 * The steps a plan adds (`steps` in the plan), turned into runbook steps. Pure: what a step does is
 * described from its spec here, and that same text is the step's dry run (src/steps/custom), its
 * line in the checklist and in `cutover plan`.
 */

/** What an action does, in one line, from its spec alone. Header values never appear, only where they come from. */
export function describeAction(action: CustomActionPlan): string {
  switch (action.kind) {
    case 'http': {
      const headers = Object.entries(action.headers).map(([name, value]) => ('valueEnv' in value ? `${name} from $${value.valueEnv}` : `${name}: ${value.value}`));
      const body = action.body === undefined ? '' : ` with body ${typeof action.body === 'string' ? JSON.stringify(action.body) : JSON.stringify(action.body)}`;
      return `${action.method} ${action.url}${headers.length ? ` (headers: ${headers.join(', ')})` : ''}${body}; expects HTTP ${action.expectStatus}`;
    }
    case 'sql': {
      const expect = action.expect === 'rows' ? '; expects at least one row' : action.expect === 'no-rows' ? '; expects no row' : '';
      return `${action.writes ? 'run (read-write)' : 'run read-only'} on the ${action.database}: ${action.sql.replace(/\s+/g, ' ')}${expect}`;
    }
    case 'command':
      return `run ${action.argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ')} (no shell${action.cwd ? `, in ${action.cwd}` : ''}; stopped after ${action.timeout})`;
  }
}

/** The id of the step that undoes a plan step in a branch. */
export function undoStepId(stepId: string, branch: Branch): string {
  return `${stepId}.undo-on-${branch}`;
}

/** A plan step's own action, or undefined for a sign-off. */
export function actionOf(step: CustomStepPlan): CustomActionPlan | undefined {
  return step.kind === 'signoff' ? undefined : step;
}

/**
 * The branches whose undo step a plan step gets: the rollback always; the abort only for a step that
 * can run before the freeze (after it, the cutover can no longer be aborted).
 */
function undoBranches(book: Runbook, step: CustomStepPlan): Branch[] {
  const order = book.mainPhases.flatMap((phase) => phase.steps.map((candidate) => candidate.id));
  const freeze = order.indexOf(book.stepMarked('marksFreeze').id);
  const at = order.indexOf(step.id);
  return at !== -1 && at < freeze ? ['rollback', 'abort'] : ['rollback'];
}

/** The branch's last step before its notice to users: undo steps go there, before users are told. */
function undoAnchor(book: Runbook, branch: Branch): string {
  const steps = book.branchPhase(branch).steps;
  return steps.findLast((step) => step.kind !== 'email')?.id ?? steps.at(-1)!.id;
}

function stepDefOf(step: CustomStepPlan, planned: string | undefined, undoneBy: string[]): StepDef {
  const action = actionOf(step);
  return {
    id: step.id,
    kind: action ? 'action' : 'signoff',
    title: step.title,
    description: step.description ?? (action ? describeAction(action) : 'A sign-off the plan adds.'),
    ...(action ? { does: describeAction(action) } : {}),
    ...(planned ? { planned } : {}),
    ...(step.kind !== 'signoff' && !step.idempotent ? { notIdempotent: true } : {}),
    ...(undoneBy.length ? { undoneBy } : {}),
    addedByPlan: true,
  };
}

const cache = new WeakMap<Plan, Runbook>();

/**
 * The runbook of a plan: the built-in one with the plan's steps inserted, and for each step with an
 * undo, an undo step in the branches that may need it (in reverse order, as compensations run). A
 * plan without steps of its own gets the built-in runbook itself. The plan loader has checked the
 * insertions (customStepProblems); a plan that was not checked throws here.
 */
export function runbookOfPlan(plan: Pick<Plan, 'steps'>): Runbook {
  // Plans built in code (tests) may lack the field the schema defaults.
  if (!plan.steps?.length) return builtinRunbook;
  const cached = cache.get(plan as Plan);
  if (cached) return cached;
  // Planned times come from the step followed: a step added after +90m shows at +90m.
  const placed = withInsertions(
    builtinRunbook,
    plan.steps.map((step) => ({ phase: step.phase, after: step.after, step: { id: step.id, kind: 'action', title: step.title, description: '' } })),
  );
  const undos: StepInsertion[] = [];
  const undoneBy = new Map<string, string[]>();
  for (const step of [...plan.steps].reverse()) {
    if (step.kind === 'signoff' || !step.undo) continue;
    for (const branch of undoBranches(placed, step)) {
      const id = undoStepId(step.id, branch);
      undoneBy.set(step.id, [...(undoneBy.get(step.id) ?? []), id]);
      undos.push({
        phase: builtinRunbook.branchPhase(branch).id,
        after: undoAnchor(builtinRunbook, branch),
        step: {
          id,
          kind: 'action',
          title: `Undo: ${step.title}`,
          description: `Undoes ${step.id} if it finished (nothing to do otherwise).`,
          does: describeAction(step.undo),
          ...(step.undo.idempotent ? {} : { notIdempotent: true }),
          addedByPlan: true,
        },
      });
    }
  }
  const steps: StepInsertion[] = plan.steps.map((step) => {
    const siblings = placed.findStep(step.id)!.phase.steps;
    const index = siblings.findIndex((candidate) => candidate.id === step.id);
    const planned = siblings.slice(0, index).findLast((candidate) => candidate.planned)?.planned;
    return { phase: step.phase, after: step.after, step: stepDefOf(step, planned, undoneBy.get(step.id) ?? []) };
  });
  const book = withInsertions(builtinRunbook, [...steps, ...undos]);
  cache.set(plan as Plan, book);
  return book;
}

/** The plan steps that cannot go where they say, or name approvers the plan does not know. */
export function customStepProblems(plan: Plan): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const people = peopleOf(plan);
  let book = builtinRunbook;
  plan.steps.forEach((step, index) => {
    const path = `steps[${index}]`;
    const insertion: StepInsertion = { phase: step.phase, after: step.after, step: { id: step.id, kind: 'action', title: step.title, description: '' } };
    const problem = insertionProblem(book, insertion);
    if (problem) {
      problems.push({ path: `${path}.${problem.field}`, message: problem.message });
      return;
    }
    book = withInsertions(book, [insertion]);
    if (step.kind === 'signoff') {
      const named = step.approvers ?? [];
      named.forEach((name, at) => {
        if (!people.some((person) => sameName(person.name, name))) {
          problems.push({ path: `${path}.approvers[${at}]`, message: `${name} is not a person of this plan: declare them in approvers.default (or name someone who is)` });
        }
      });
      const count = new Set(approverNames(plan, step.approvers ?? plan.approvers.default)).size;
      if (step.quorum > count) problems.push({ path: `${path}.quorum`, message: `quorum ${step.quorum} is more than the ${count} approver(s) who may sign` });
    } else if (step.undo && book.findStep(step.id)!.phase.branch) {
      problems.push({ path: `${path}.undo`, message: `${step.id} is in the ${step.phase} branch: a branch step has no undo (nothing runs after a branch to call it)` });
    }
  });
  return problems;
}

/** The rule of a sign-off the plan adds: its approvers when it names them, and its quorum. */
export function customSignoffRule(plan: Pick<Plan, 'steps'>, stepId: string): { approvers?: string[]; quorum: number } | undefined {
  const step = plan.steps?.find((candidate) => candidate.id === stepId);
  if (step?.kind !== 'signoff') return undefined;
  return { ...(step.approvers ? { approvers: step.approvers } : {}), quorum: step.quorum };
}
