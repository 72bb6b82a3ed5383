import { rollbackPhrase } from '../../config/settings.js';
import { EXIT } from '../../engine/errors.js';
import { isoTime, peopleTime } from '../../engine/time-format.js';
import { decide as decideService, type DecideRequest } from '../../services/decide.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

export interface DecideFlags extends DecideRequest {
  json?: boolean;
}

/**
 * `cutover decide [--json]`, and `--assert INPUT [--by NAME] [--note TEXT]` (or `--withdraw INPUT`) to
 * record a human-only input first, as the person running the command. Exit 1 when the verdict is
 * rollback, 0 otherwise (3 when a hand-over to the driving process is still queued).
 */
export async function decide(globals: GlobalOptions, flags: DecideFlags, io: Io): Promise<number> {
  const { json, ...request } = flags;
  const session = await openSession(globals, io);
  const result = await decideService(session, { out: io.out, ...(io.account ? { account: io.account } : {}), json: Boolean(json) }, request);
  if ('handedOff' in result) return result.handedOff;
  const { decision, recorded } = result;
  if (json) {
    const { text: _text, evaluatedAt, ...rest } = decision;
    const zone = session.plan.t0.zone;
    const entry = recorded?.entry;
    io.out(JSON.stringify({ ...rest, evaluatedAt: isoTime(evaluatedAt, zone), ...(entry ? { recorded: { ...entry, at: isoTime(entry.at, zone) } } : {}) }, null, 2));
  } else {
    if (recorded?.entry) {
      const note = flags.note ? ` ("${flags.note}")` : '';
      io.out(`Recorded: ${flags.assert ?? flags.withdraw} ${flags.withdraw ? 'withdrawn' : 'asserted'} by ${recorded.identity.name}${note} (journal line ${recorded.entry.seq}).`);
    }
    io.out(`Run ${decision.runId}, evidence as of ${peopleTime(decision.evaluatedAt, session.plan.t0.zone)}:`);
    io.out(decision.text.trimEnd());
    if (decision.verdict === 'rollback') io.out(`\nTo roll back: cutover rollback --reason TEXT --phrase "${rollbackPhrase(session.plan)}" (at the first-day review, approving review.decision does it).`);
  }
  return decision.verdict === 'rollback' ? EXIT.attention : EXIT.ok;
}
