import { hostname } from 'node:os';
import { createActor, fromPromise, type AnyMachineSnapshot } from 'xstate';
import { buildMachine, type RunEvent, type RunStepInput, type StepOutcome, type TimerInput } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import { runbookOfPlan } from '../config/custom-steps.js';
import { settingsFromPlan } from '../config/settings.js';
import { checkBinding, checkRestorable } from './binding.js';
import { Journal, type JournalEntry } from './journal.js';
import { replayEnded } from './replay.js';
import { holderAlive, readLock, type LockHolder } from './lock.js';
import { ensureStateDir } from './storage.js';
import { loadState } from './state-store.js';

const never = () => new Promise<never>(() => {});

const sameAttempt = (entry: JournalEntry, input: RunStepInput) =>
  entry.stepId === input.stepId && entry.attempt === input.attempt && (entry.occurrence ?? null) === (input.occurrence ?? null);

/**
 * Read a run without driving it or taking the lock (status, plan, report). The stored snapshot is
 * brought up to date with the journal the way the runner does on start: outside events journaled
 * after the state was saved (a sign-off, when the process died between the two writes) are applied,
 * and a step the journal shows finished gets its recorded result. Nothing runs: actions and timers
 * are never-settling stand-ins, and the actor is stopped before returning.
 */
export function peekRun(stateDir: string, plan: Plan): { snapshot: AnyMachineSnapshot; journal: Journal; started: boolean } {
  ensureStateDir(stateDir, { create: false });
  const stored = loadState(stateDir);
  const journal = Journal.open(stateDir);
  checkBinding(stateDir, stored, journal, plan);
  const entries = journal.entries;
  const machine = buildMachine(runbookOfPlan(plan)).provide({
    actors: {
      runStep: fromPromise<StepOutcome, RunStepInput>(async ({ input }) => {
        const ended = entries.findLast((entry) => (entry.type === 'step.finished' || entry.type === 'step.failed') && sameAttempt(entry, input));
        if (ended?.type === 'step.finished' || ended?.type === 'step.failed') return replayEnded(ended);
        return never();
      }),
      timer: fromPromise<{ now: number }, TimerInput>(never),
    },
  });
  checkRestorable(machine, stored);
  const actor = createActor(machine, {
    ...(stored ? { snapshot: stored.machine as never } : {}),
    input: { runId: stored?.runId ?? '(not started)', ...settingsFromPlan(plan) },
  });
  if (!stored) return { snapshot: actor.getSnapshot(), journal, started: false };
  actor.start();
  for (const entry of entries) {
    if (entry.type === 'event' && entry.seq > stored.appliedSeq) actor.send(entry.event as RunEvent);
  }
  const snapshot = actor.getSnapshot();
  actor.stop();
  return { snapshot, journal, started: true };
}

/** Who drives the run now, for `status`: a live runner, a dead one, or none, and what resumes it. */
export interface RunnerStatus {
  text: string;
  holder?: LockHolder;
  alive?: boolean;
}

export function describeRunner(stateDir: string, ended: boolean): RunnerStatus | undefined {
  const holder = readLock(stateDir);
  if (!holder) return ended ? undefined : { text: 'No runner is driving it now: `cutover run` resumes it from here (also what the timer does).' };
  const who = `${holder.user}@${holder.host} (pid ${holder.pid}, "${holder.command}" since ${holder.since})`;
  // Team mode: the lock is a live session's advisory lock, so the holder is known to be alive wherever it runs.
  if (holder.session !== undefined) return { holder, alive: true, text: `Driven now by ${who}, PostgreSQL login ${holder.login ?? '?'}.` };
  if (holder.host !== hostname()) {
    return { holder, text: `Driven by ${who} on another host; this host cannot tell whether it still runs. If it is gone: cutover unlock --reason TEXT, then cutover run.` };
  }
  if (holderAlive(holder)) return { holder, alive: true, text: `Driven now by ${who}.` };
  return { holder, alive: false, text: `The runner ${who} is gone (it stopped without releasing the lock). \`cutover run\` takes over and resumes it from here.` };
}
