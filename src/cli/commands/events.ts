import * as events from '../../services/events.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

/**
 * The recording commands: parse, record one event through the events service (or hand it to the
 * process that drives the run), print where the run stands. The exit code is the service's.
 */

export const signoff = async (globals: GlobalOptions, stepId: string, options: { by?: string; note?: string; reject?: boolean }, io: Io) =>
  events.signoff(await openSession(globals, io), io, stepId, options);

export const confirm = async (globals: GlobalOptions, stepId: string, options: { by?: string; phrase: string }, io: Io) =>
  events.confirm(await openSession(globals, io), io, stepId, options);

export const retry = async (globals: GlobalOptions, stepId: string, io: Io) => events.retry(await openSession(globals, io), io, stepId);

export const skip = async (globals: GlobalOptions, stepId: string, options: { by?: string; reason: string }, io: Io) =>
  events.skip(await openSession(globals, io), io, stepId, options);

export const rollback = async (globals: GlobalOptions, options: { by?: string; reason: string; phrase?: string }, io: Io) => {
  const aborting = () => io.out('The source was never frozen, so this aborts the cutover (restore TTL, send the cancellation notice).');
  return events.rollback(await openSession(globals, io), io, options, aborting);
};
