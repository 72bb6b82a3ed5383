import { loadPlan } from '../../config/load.js';
import { rollbackPhrase } from '../../config/settings.js';
import { EXIT, ExitError } from '../../engine/errors.js';
import { decideRun, recordAssertion } from '../../steps/checks/decide-run.js';
import type { GlobalOptions, Io } from '../io.js';
import { establishActor, handToDriver } from './events.js';
import { clockFromEnv, stateDirOf } from '../session.js';

export interface DecideFlags {
  json?: boolean;
  /** security-breach | db-corruption | auth-broken */
  assert?: string;
  withdraw?: string;
  by?: string;
  note?: string;
}

/**
 * `cutover decide [--json]`, and `--assert INPUT [--by NAME] [--note TEXT]` (or `--withdraw INPUT`) to
 * record a human-only input first. Exit 1 when the verdict is rollback, 0 otherwise.
 */
export async function decide(globals: GlobalOptions, flags: DecideFlags, io: Io): Promise<number> {
  if (flags.assert && flags.withdraw) throw new ExitError('Give --assert or --withdraw, not both.', EXIT.usage);
  const name = flags.assert ?? flags.withdraw;
  if (!name && (flags.by || flags.note)) throw new ExitError('--by and --note go with --assert or --withdraw.', EXIT.usage);
  const { plan, file } = await loadPlan(globals.config);
  const { clock } = clockFromEnv(io.env);
  const session = { plan, stateDir: stateDirOf(globals, file), clock };
  // Who asserts is the OS account running this; --by, when given, must name that same person.
  const identity = name ? establishActor(session, io, { type: flags.withdraw ? 'WITHDRAW' : 'ASSERT', input: name }, flags.by) : undefined;
  const assertion = name ? { name, ...(flags.note ? { note: flags.note } : {}), ...(flags.withdraw ? { withdraw: true } : {}) } : undefined;
  let recorded: ReturnType<typeof recordAssertion> | undefined;
  try {
    recorded = assertion ? recordAssertion(session, { ...assertion, identity: identity! }) : undefined;
  } catch (error) {
    // Another process drives the run: it writes the line (the journal has one writer at a time).
    if (!(error instanceof ExitError && error.exitCode === EXIT.locked)) throw error;
    const handed = await handToDriver(session, io, { assertion: assertion!, command: `cutover decide --${flags.withdraw ? 'withdraw' : 'assert'} ${name}` });
    if (handed !== EXIT.ok) return handed;
  }
  const decision = decideRun(session);
  if (flags.json) {
    const { text: _text, ...rest } = decision;
    io.out(JSON.stringify({ ...rest, ...(recorded ? { recorded } : {}) }, null, 2));
  } else {
    if (recorded) {
      const note = flags.note ? ` ("${flags.note}")` : '';
      io.out(`Recorded: ${name} ${flags.withdraw ? 'withdrawn' : 'asserted'} by ${identity!.name}${note} (journal line ${recorded.seq}).`);
    }
    io.out(`Run ${decision.runId}, evidence as of ${decision.evaluatedAt}:`);
    io.out(decision.text.trimEnd());
    if (decision.verdict === 'rollback') io.out(`\nTo roll back: cutover rollback --reason TEXT --phrase "${rollbackPhrase(plan)}" (at the first-day review, approving review.decision does it).`);
  }
  return decision.verdict === 'rollback' ? EXIT.attention : EXIT.ok;
}
