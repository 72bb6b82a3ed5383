import { EXIT } from '../../engine/errors.js';
import * as events from '../../services/events.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

/** The recording commands: parse, record one event through the events service, print where the run stands. */

export const signoff = async (globals: GlobalOptions, stepId: string, options: { by: string; note?: string; reject?: boolean }, io: Io) => {
  io.out(events.signoff(await openSession(globals, io), stepId, options));
  return EXIT.ok;
};

export const confirm = async (globals: GlobalOptions, stepId: string, options: { by: string; phrase: string }, io: Io) => {
  io.out(events.confirm(await openSession(globals, io), stepId, options));
  return EXIT.ok;
};

export const retry = async (globals: GlobalOptions, stepId: string, io: Io) => {
  io.out(events.retry(await openSession(globals, io), stepId));
  return EXIT.ok;
};

export const skip = async (globals: GlobalOptions, stepId: string, options: { by: string; reason: string }, io: Io) => {
  io.out(events.skip(await openSession(globals, io), stepId, options));
  return EXIT.ok;
};

export const rollback = async (globals: GlobalOptions, options: { by: string; reason: string }, io: Io) => {
  const aborting = () => io.out('The source was never frozen, so this aborts the cutover (restore TTL, send the cancellation notice).');
  io.out(events.rollback(await openSession(globals, io), options, aborting));
  return EXIT.ok;
};
