import type { ApproverEntry, Plan } from './schema.js';

/** A person who may act on the run, and the accounts they are recognised by. */
export interface Person {
  /** As written in the plan; this is the name on the record. */
  name: string;
  /** OS account on the operations host. */
  os: string;
  /** PostgreSQL login (team mode). */
  pg?: string;
}

/** Names compare without regard to case or surrounding space: "Dana" and "dana " are one person. */
export function sameName(a: string, b: string): boolean {
  return fold(a) === fold(b);
}

function fold(name: string): string {
  return name.normalize('NFC').trim().toLocaleLowerCase('en-US');
}

function nameOf(entry: ApproverEntry): string {
  return typeof entry === 'string' ? entry : entry.name;
}

/** Every list of approvers in the plan, with its path for messages. */
function approverLists(plan: Pick<Plan, 'approvers'>): { path: string; list: ApproverEntry[] }[] {
  return [
    { path: 'approvers.default', list: plan.approvers.default },
    ...Object.entries(plan.approvers.steps).flatMap(([stepId, rule]) => (rule.approvers ? [{ path: `approvers.steps.${stepId}.approvers`, list: rule.approvers }] : [])),
    ...(plan.approvers.skip ? [{ path: 'approvers.skip', list: plan.approvers.skip }] : []),
  ];
}

/**
 * Everyone the plan names. A person declared with an object (`{ name, os }`) anywhere is that person
 * everywhere their name appears; a plain name nobody declared is its own OS account.
 */
export function peopleOf(plan: Pick<Plan, 'approvers'>): Person[] {
  const people = new Map<string, Person>();
  const entries = approverLists(plan).flatMap(({ list }) => list);
  for (const entry of entries) {
    if (typeof entry === 'string') continue;
    if (!people.has(fold(entry.name))) people.set(fold(entry.name), { name: entry.name, os: entry.os ?? entry.name, ...(entry.pg ? { pg: entry.pg } : {}) });
  }
  for (const entry of entries) {
    if (typeof entry === 'string' && !people.has(fold(entry))) people.set(fold(entry), { name: entry, os: entry });
  }
  return [...people.values()];
}

/** The names on the record for a list of approvers (as the plan's declaration spells them). */
export function approverNames(plan: Pick<Plan, 'approvers'>, list: readonly ApproverEntry[]): string[] {
  const people = peopleOf(plan);
  return list.map((entry) => people.find((person) => sameName(person.name, nameOf(entry)))?.name ?? nameOf(entry));
}

/**
 * What makes approvers ambiguous: the same person twice in a list (a quorum of 2 they could never
 * reach with two different people), names that differ only in case, one account for two people, or
 * one name declared with two different accounts.
 */
export function approverProblems(plan: Pick<Plan, 'approvers'>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const spelled = new Map<string, string>();
  const declared = new Map<string, { os: string; pg?: string; path: string }>();
  for (const { path, list } of approverLists(plan)) {
    const seen = new Map<string, number>();
    list.forEach((entry, index) => {
      const name = nameOf(entry);
      const at = `${path}[${index}]`;
      const earlier = seen.get(fold(name));
      if (earlier !== undefined) problems.push({ path: at, message: `${name} is already listed at ${path}[${earlier}]: each person counts once toward a quorum` });
      else seen.set(fold(name), index);
      const spelling = spelled.get(fold(name));
      if (spelling !== undefined && spelling !== name) problems.push({ path: at, message: `"${name}" and "${spelling}" differ only in case or spacing: write one person's name one way` });
      else spelled.set(fold(name), name);
      if (typeof entry !== 'string') {
        const os = entry.os ?? entry.name;
        const before = declared.get(fold(name));
        if (before && (before.os !== os || before.pg !== entry.pg)) {
          problems.push({ path: at, message: `${name} is declared at ${before.path} with other accounts: declare a person once and name them elsewhere` });
        } else if (!before) declared.set(fold(name), { os, ...(entry.pg ? { pg: entry.pg } : {}), path: at });
      }
    });
  }
  const byAccount = new Map<string, string>();
  for (const person of peopleOf(plan)) {
    for (const [kind, account] of [['OS account', person.os], ['PostgreSQL login', person.pg]] as const) {
      if (!account) continue;
      const key = `${kind}:${account}`;
      const other = byAccount.get(key);
      if (other && !sameName(other, person.name)) problems.push({ path: 'approvers', message: `${other} and ${person.name} are both the ${kind} ${account}: one account is one person` });
      byAccount.set(key, person.name);
    }
  }
  return problems;
}
