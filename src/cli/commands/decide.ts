import { loadPlan } from '../../config/load.js';
import { EXIT, ExitError } from '../../engine/errors.js';
import { decideRun, recordAssertion } from '../../steps/checks/decide-run.js';
import type { GlobalOptions, Io } from '../io.js';
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
 * `cutover decide [--json]`, and `--assert INPUT --by NAME [--note TEXT]` (or `--withdraw INPUT`) to
 * record a human-only input first. Exit 1 when the verdict is rollback, 0 otherwise.
 */
export async function decide(globals: GlobalOptions, flags: DecideFlags, io: Io): Promise<number> {
  if (flags.assert && flags.withdraw) throw new ExitError('Give --assert or --withdraw, not both.', EXIT.usage);
  const name = flags.assert ?? flags.withdraw;
  if (name && !flags.by) throw new ExitError(`--by NAME is required with --${flags.assert ? 'assert' : 'withdraw'}: an assertion names who makes it.`, EXIT.usage);
  if (!name && (flags.by || flags.note)) throw new ExitError('--by and --note go with --assert or --withdraw.', EXIT.usage);
  const { plan, file } = await loadPlan(globals.config);
  const { clock } = clockFromEnv(io.env);
  const session = { plan, stateDir: stateDirOf(globals, file), clock };
  const recorded = name
    ? recordAssertion(session, { name, by: flags.by!, ...(flags.note ? { note: flags.note } : {}), ...(flags.withdraw ? { withdraw: true } : {}) })
    : undefined;
  const decision = decideRun(session);
  if (flags.json) {
    const { text: _text, ...rest } = decision;
    io.out(JSON.stringify({ ...rest, ...(recorded ? { recorded } : {}) }, null, 2));
  } else {
    if (recorded) {
      const note = flags.note ? ` ("${flags.note}")` : '';
      io.out(`Recorded: ${name} ${flags.withdraw ? 'withdrawn' : 'asserted'} by ${flags.by}${note} (journal line ${recorded.seq}).`);
    }
    io.out(`Run ${decision.runId}, evidence as of ${decision.evaluatedAt}:`);
    io.out(decision.text.trimEnd());
    if (decision.verdict === 'rollback') io.out('\nTo roll back: cutover rollback --by NAME --reason TEXT (at the first-day review, approving review.decision does it).');
  }
  return decision.verdict === 'rollback' ? EXIT.attention : EXIT.ok;
}
