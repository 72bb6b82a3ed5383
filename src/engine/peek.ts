import { createActor, type AnyMachineSnapshot } from 'xstate';
import { buildMachine } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import { settingsFromPlan } from '../config/settings.js';
import { Journal } from './journal.js';
import { checkBinding } from './binding.js';
import { ensureStateDir } from './storage.js';
import { loadState } from './state-store.js';

/**
 * Read a run without driving it or taking the lock (status, plan, report): the stored snapshot
 * restored into an actor that is never started, so nothing runs.
 */
export function peekRun(stateDir: string, plan: Plan): { snapshot: AnyMachineSnapshot; journal: Journal; started: boolean } {
  ensureStateDir(stateDir, { create: false });
  const stored = loadState(stateDir);
  const journal = Journal.open(stateDir);
  checkBinding(stateDir, stored, journal, plan);
  const actor = createActor(buildMachine(), {
    ...(stored ? { snapshot: stored.machine as never } : {}),
    input: { runId: stored?.runId ?? '(not started)', ...settingsFromPlan(plan) },
  });
  return { snapshot: actor.getSnapshot(), journal, started: Boolean(stored) };
}
