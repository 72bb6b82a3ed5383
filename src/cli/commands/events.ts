import * as events from '../../services/events.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

/**
 * The recording commands: parse, record one event through the events service (or hand it to the
 * process that drives the run), print where the run stands. The exit code is the service's.
 */

/** `--json`: the service says it in one JSON object instead of sentences. */
const sayer = (io: Io, json: boolean | undefined): events.Sayer => ({ out: io.out, ...(io.account ? { account: io.account } : {}), json: Boolean(json) });

export const signoff = async (globals: GlobalOptions, stepId: string, options: { by?: string; note?: string; reject?: boolean; json?: boolean }, io: Io) =>
  events.signoff(await openSession(globals, io), sayer(io, options.json), stepId, options);

export const confirm = async (globals: GlobalOptions, stepId: string, options: { by?: string; phrase: string; json?: boolean }, io: Io) =>
  events.confirm(await openSession(globals, io), sayer(io, options.json), stepId, options);

export const retry = async (globals: GlobalOptions, stepId: string, options: { json?: boolean }, io: Io) => events.retry(await openSession(globals, io), sayer(io, options.json), stepId);

export const skip = async (globals: GlobalOptions, stepId: string, options: { by?: string; reason: string; json?: boolean }, io: Io) =>
  events.skip(await openSession(globals, io), sayer(io, options.json), stepId, options);

export const rollback = async (globals: GlobalOptions, options: { by?: string; reason: string; phrase?: string; json?: boolean }, io: Io) => {
  // In JSON the recorded type (ABORT rather than ROLLBACK) says it.
  const aborting = () => {
    if (!options.json) io.out('The source was never frozen, so this aborts the cutover (restore TTL, send the cancellation notice).');
  };
  return events.rollback(await openSession(globals, io), sayer(io, options.json), options, aborting);
};
