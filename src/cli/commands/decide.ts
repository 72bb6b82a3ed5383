import { EXIT } from '../../engine/errors.js';
import { decide as decideService, type DecideRequest } from '../../services/decide.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

export interface DecideFlags extends DecideRequest {
  json?: boolean;
}

/**
 * `cutover decide [--json]`, and `--assert INPUT --by NAME [--note TEXT]` (or `--withdraw INPUT`) to
 * record a human-only input first. Exit 1 when the verdict is rollback, 0 otherwise.
 */
export async function decide(globals: GlobalOptions, flags: DecideFlags, io: Io): Promise<number> {
  const { json, ...request } = flags;
  const { decision, recorded } = decideService(await openSession(globals, io), request);
  if (json) {
    const { text: _text, ...rest } = decision;
    io.out(JSON.stringify({ ...rest, ...(recorded ? { recorded } : {}) }, null, 2));
  } else {
    if (recorded) {
      const note = flags.note ? ` ("${flags.note}")` : '';
      io.out(`Recorded: ${flags.assert ?? flags.withdraw} ${flags.withdraw ? 'withdrawn' : 'asserted'} by ${flags.by}${note} (journal line ${recorded.seq}).`);
    }
    io.out(`Run ${decision.runId}, evidence as of ${decision.evaluatedAt}:`);
    io.out(decision.text.trimEnd());
    if (decision.verdict === 'rollback') io.out('\nTo roll back: cutover rollback --by NAME --reason TEXT (at the first-day review, approving review.decision does it).');
  }
  return decision.verdict === 'rollback' ? EXIT.attention : EXIT.ok;
}
