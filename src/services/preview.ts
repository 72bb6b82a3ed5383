import type { AnyMachineSnapshot } from 'xstate';
import { plannedAt, plannedSwitchOffset, phaseOpensAt, type Timing } from '../../machines/schedule.js';
import type { RunContext } from '../../machines/machine.js';
import { runbookOfPlan } from '../config/custom-steps.js';
import { settingsFromPlan } from '../config/settings.js';
import { peekRun } from '../engine/peek.js';
import { describeLocation, locate } from '../engine/view.js';
import { outputsOf } from '../steps/outputs.js';
import type { StepContext } from '../steps/types.js';
import type { Session } from './session.js';

/**
 * What a step would do, without doing it: the one preview behind `cutover plan`, `cutover run
 * --dry-run` and the UI's "Does:" line, so the three never differ.
 */

/** Before the first `cutover run` there is no run id yet; paths that hold one show where it goes. */
const NO_RUN_YET = '<run id>';

export function previewContext(session: Session, stepId: string, signal: AbortSignal, outputs: Record<string, unknown> = {}, runId = NO_RUN_YET): StepContext {
  return {
    plan: session.plan,
    planDir: session.planDir,
    runId,
    stepId,
    attempt: 0,
    clock: session.clock,
    stateDir: session.stateDir,
    outputs,
    adapters: session.adapters,
    progress: () => {},
    note: () => {},
    signal,
    env: session.env,
  };
}

/** One step's dry-run text; never throws (a preview that cannot be made says why). */
export async function previewStep(session: Session, stepId: string, outputs: Record<string, unknown>, signal: AbortSignal, runId?: string): Promise<string> {
  const step = runbookOfPlan(session.plan).findStep(stepId)?.step;
  const action = session.registry[stepId];
  if (step?.kind === 'signoff' && !action) {
    const rule = settingsFromPlan(session.plan).signoff[stepId];
    return rule ? `wait for ${rule.quorum} sign-off(s) from ${rule.approvers.join(', ')}` : 'wait for a sign-off';
  }
  if (!action) return 'NOT IMPLEMENTED: this step fails when reached';
  try {
    return await action.dryRun(previewContext(session, stepId, signal, outputs, runId));
  } catch (error) {
    return `(dry-run text unavailable: ${error instanceof Error ? error.message : String(error)})`;
  }
}

export interface PlannedStep {
  id: string;
  kind: string;
  title: string;
  plannedAt?: number;
  dryRun: string;
}

export interface PlannedPhase {
  id: string;
  title: string;
  opensAt?: number;
  steps: PlannedStep[];
}

/** `cutover plan`: every phase and step with its planned time and dry-run text, from the stored run if any. */
export async function previewPlan(session: Session): Promise<{ t0: number; phases: PlannedPhase[] }> {
  const settings = settingsFromPlan(session.plan);
  const { snapshot, started } = peekRun(session.stateDir, session.plan);
  const context = snapshot.context as RunContext;
  const runId = started ? context.runId : undefined;
  const timing: Timing = { t0: settings.t0, switchedAt: context.switchedAt, plannedSwitch: settings.t0 + plannedSwitchOffset(), cadences: settings.cadences };
  const outputs = outputsOf(context.steps);
  const controller = new AbortController();
  const phases: PlannedPhase[] = [];
  for (const phase of runbookOfPlan(session.plan).phases) {
    const steps: PlannedStep[] = [];
    for (const step of phase.steps) {
      const at = plannedAt(timing, phase.id, step);
      steps.push({ id: step.id, kind: step.kind, title: step.title, ...(at !== undefined ? { plannedAt: at } : {}), dryRun: await previewStep(session, step.id, outputs, controller.signal, runId) });
    }
    const opensAt = phaseOpensAt(timing, phase.id);
    phases.push({ id: phase.id, title: phase.title, ...(opensAt !== undefined ? { opensAt } : {}), steps });
  }
  return { t0: settings.t0, phases };
}

/**
 * `cutover run --dry-run`: from where the run stands, the next steps' dry-run texts up to the first
 * one that waits for a person.
 */
export async function previewNext(session: Session): Promise<{ from: string; steps: { id: string; dryRun: string }[] }> {
  const { snapshot, started } = peekRun(session.stateDir, session.plan);
  return { from: describeLocation(snapshot, session.clock.now(), session.plan.t0.zone), steps: await previewFrom(session, snapshot, started) };
}

async function previewFrom(session: Session, snapshot: AnyMachineSnapshot, started: boolean): Promise<{ id: string; dryRun: string }[]> {
  const location = locate(snapshot);
  const book = runbookOfPlan(session.plan);
  const ordered = book.mainPhases.flatMap((phase) => phase.steps);
  // From the current step, or from the first step of a phase whose gate has not opened yet.
  const firstOfPhase = location.phaseId ? book.findPhase(location.phaseId)?.steps[0]?.id : undefined;
  const start = Math.max(0, ordered.findIndex((step) => step.id === (location.stepId ?? firstOfPhase)));
  const outputs = outputsOf((snapshot.context as RunContext).steps);
  const controller = new AbortController();
  const steps: { id: string; dryRun: string }[] = [];
  for (const step of ordered.slice(start)) {
    steps.push({ id: step.id, dryRun: await previewStep(session, step.id, outputs, controller.signal, started ? (snapshot.context as RunContext).runId : undefined) });
    if (step.kind === 'signoff' || step.kind === 'confirm' || step.kind === 'decision') break;
  }
  return steps;
}
