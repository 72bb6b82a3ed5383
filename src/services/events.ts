import type { RunEvent } from '../../machines/machine.js';
import { describeLocation } from '../engine/view.js';
import { openRunner, type Session } from './session.js';

/**
 * Sign-offs, confirmations, retries, skips and rollback requests: restore the run, record the event
 * (journal first), persist, stop. Actions it makes due are not run here but by the next `cutover run`.
 * Returns where the run stands afterwards, in words.
 */
export function sendEvent(session: Session, command: string, build: (now: number, frozen: boolean) => RunEvent): string {
  const runner = openRunner(session, 'command', command);
  try {
    // In command mode a step the state shows as running is held, not run: the event applies (or is
    // refused with the reason) and the step runs, if still due, in the next `cutover run`.
    runner.start();
    runner.send(build(session.clock.now(), runner.context().frozen));
    return describeLocation(runner.snapshot(), session.clock.now());
  } finally {
    runner.close();
  }
}

export const signoff = (session: Session, stepId: string, options: { by: string; note?: string; reject?: boolean }) =>
  sendEvent(session, `cutover signoff ${stepId}`, (at) => ({
    type: 'SIGNOFF',
    stepId,
    by: options.by,
    at,
    ...(options.note ? { note: options.note } : {}),
    ...(options.reject ? { reject: true } : {}),
  }));

export const confirm = (session: Session, stepId: string, options: { by: string; phrase: string }) =>
  sendEvent(session, `cutover confirm ${stepId}`, (at) => ({ type: 'CONFIRM', stepId, by: options.by, phrase: options.phrase, at }));

export const retry = (session: Session, stepId: string) => sendEvent(session, `cutover retry ${stepId}`, (at) => ({ type: 'RETRY', stepId, at }));

export const skip = (session: Session, stepId: string, options: { by: string; reason: string }) =>
  sendEvent(session, `cutover skip ${stepId}`, (at) => ({ type: 'SKIP', stepId, by: options.by, reason: options.reason, at }));

/**
 * Before the freeze there is nothing to roll back: the same request aborts the cutover instead.
 * `aborting` is told before the event is sent, so the operator reads why first.
 */
export const rollback = (session: Session, options: { by: string; reason: string }, aborting: () => void) =>
  sendEvent(session, 'cutover rollback', (at, frozen) => {
    if (!frozen) aborting();
    return { type: frozen ? 'ROLLBACK' : 'ABORT', by: options.by, reason: options.reason, at };
  });
