import type { RunEvent } from '../../../machines/machine.js';
import { EXIT } from '../../engine/errors.js';
import { describeLocation } from '../../engine/view.js';
import type { GlobalOptions, Io } from '../io.js';
import { openRunner, openSession } from '../session.js';

/**
 * Sign-offs, confirmations, retries, skips and rollback requests: restore the run, record the event
 * (journal first), persist, stop. Actions it makes due are not run here but by the next `cutover run`.
 */
async function sendEvent(globals: GlobalOptions, io: Io, command: string, build: (now: number, frozen: boolean) => RunEvent): Promise<number> {
  const session = await openSession(globals, io);
  const runner = openRunner(session, 'command', command);
  try {
    // In command mode a step the state shows as running is held, not run: the event applies (or is
    // refused with the reason) and the step runs, if still due, in the next `cutover run`.
    runner.start();
    const event = build(session.clock.now(), runner.context().frozen);
    runner.send(event);
    io.out(describeLocation(runner.snapshot(), session.clock.now()));
    return EXIT.ok;
  } finally {
    runner.close();
  }
}

export const signoff = (globals: GlobalOptions, stepId: string, options: { by: string; note?: string; reject?: boolean }, io: Io) =>
  sendEvent(globals, io, `cutover signoff ${stepId}`, (at) => ({
    type: 'SIGNOFF',
    stepId,
    by: options.by,
    at,
    ...(options.note ? { note: options.note } : {}),
    ...(options.reject ? { reject: true } : {}),
  }));

export const confirm = (globals: GlobalOptions, stepId: string, options: { by: string; phrase: string }, io: Io) =>
  sendEvent(globals, io, `cutover confirm ${stepId}`, (at) => ({ type: 'CONFIRM', stepId, by: options.by, phrase: options.phrase, at }));

export const retry = (globals: GlobalOptions, stepId: string, io: Io) =>
  sendEvent(globals, io, `cutover retry ${stepId}`, (at) => ({ type: 'RETRY', stepId, at }));

export const skip = (globals: GlobalOptions, stepId: string, options: { by: string; reason: string }, io: Io) =>
  sendEvent(globals, io, `cutover skip ${stepId}`, (at) => ({ type: 'SKIP', stepId, by: options.by, reason: options.reason, at }));

/** Before the freeze there is nothing to roll back: the same request aborts the cutover instead. */
export const rollback = (globals: GlobalOptions, options: { by: string; reason: string }, io: Io) =>
  sendEvent(globals, io, 'cutover rollback', (at, frozen) => {
    if (!frozen) io.out('The source was never frozen, so this aborts the cutover (restore TTL, send the cancellation notice).');
    return { type: frozen ? 'ROLLBACK' : 'ABORT', by: options.by, reason: options.reason, at };
  });
