import type { Plan } from '../config/schema.js';
import { assertionsInForce, ASSERTED, HUMAN_INPUTS, WITHDRAWN, type HumanInputName } from '../steps/checks/decision-inputs.js';
import { authorityOf, authorize } from './authority.js';
import { EXIT, ExitError } from './errors.js';
import { identityRecord, type Identity } from './identity.js';
import type { JournalEntry } from './journal.js';

/** A human-only decision input asserted or withdrawn by a person (`cutover decide --assert`). */
export interface Assertion {
  /** As typed: security-breach, db-corruption or auth-broken. */
  name: string;
  note?: string;
  /** Withdraw an earlier assertion instead (a mistake, or the problem was ruled out). */
  withdraw?: boolean;
}

/** Refuse an unknown input or a person without authority; nothing here reads the run. */
export function checkAssertion(plan: Plan, identity: Identity, assertion: Assertion): void {
  if (!(assertion.name in HUMAN_INPUTS)) {
    throw new ExitError(`"${assertion.name}" is not something a person can assert here. Use one of: ${Object.keys(HUMAN_INPUTS).join(', ')}.`, EXIT.usage);
  }
  const verdict = authorize(authorityOf(plan), identity, { type: assertion.withdraw ? 'WITHDRAW' : 'ASSERT', input: assertion.name });
  if (!verdict.ok) throw new ExitError(verdict.message, EXIT.usage);
}

/**
 * The journal line for an assertion, judged against the journal so far: the same line whether the
 * command writes it under the lock or the driving process writes it from the inbox.
 */
export function assertionLine(plan: Plan, identity: Identity, assertion: Assertion, journal: readonly JournalEntry[]): { type: string; fields: Record<string, unknown> } {
  checkAssertion(plan, identity, assertion);
  const input = HUMAN_INPUTS[assertion.name as HumanInputName];
  if (assertion.withdraw && !assertionsInForce(journal)[input]) {
    throw new ExitError(`Nobody has asserted ${assertion.name}: there is nothing to withdraw.`, EXIT.usage);
  }
  return {
    type: assertion.withdraw ? WITHDRAWN : ASSERTED,
    fields: { input, name: assertion.name, by: identity.name, identity: identityRecord(identity), note: assertion.note ?? '' },
  };
}
