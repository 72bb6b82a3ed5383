import { DateTime } from 'luxon';
import { runbook } from '../../../machines/runbook.js';
import { plannedAt, plannedSwitchOffset, phaseOpensAt, type Timing } from '../../../machines/schedule.js';
import { settingsFromPlan } from '../../config/settings.js';
import { EXIT } from '../../engine/errors.js';
import { peekRun } from '../../engine/peek.js';
import type { GlobalOptions, Io } from '../io.js';
import { openSession } from '../session.js';
import { dryRunContext } from './run.js';

/** The timeline with absolute times in the plan's zone and each step's dry-run text. */
export async function plan(globals: GlobalOptions, options: { json?: boolean }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  const settings = settingsFromPlan(session.plan);
  const { snapshot } = peekRun(session.stateDir, session.plan);
  const context = snapshot.context as { switchedAt?: number; steps: Record<string, { output?: unknown }> };
  const timing: Timing = { t0: settings.t0, switchedAt: context.switchedAt, plannedSwitch: settings.t0 + plannedSwitchOffset(), cadences: settings.cadences };
  const outputs = Object.fromEntries(Object.entries(context.steps).flatMap(([id, record]) => (record.output === undefined ? [] : [[id, record.output]])));
  const zone = session.plan.t0.zone;
  const format = (ms: number | undefined) => (ms === undefined ? null : DateTime.fromMillis(ms, { zone }).toISO());
  const controller = new AbortController();
  const phases = [];
  for (const phase of runbook) {
    const steps = [];
    for (const step of phase.steps) {
      const action = session.registry[step.id];
      let dryRun: string;
      if (step.kind === 'signoff') {
        const rule = settings.signoff[step.id]!;
        dryRun = `wait for ${rule.quorum} sign-off(s) from ${rule.approvers.join(', ')}`;
      } else if (!action) dryRun = 'NOT IMPLEMENTED: this step fails when reached';
      else {
        try {
          dryRun = await action.dryRun(dryRunContext(session, step.id, controller.signal, outputs));
        } catch (error) {
          dryRun = `(dry-run text unavailable: ${error instanceof Error ? error.message : String(error)})`;
        }
      }
      steps.push({ id: step.id, kind: step.kind, title: step.title, plannedAt: format(plannedAt(timing, phase.id, step)), dryRun });
    }
    phases.push({ id: phase.id, title: phase.title, opensAt: format(phaseOpensAt(timing, phase.id)), steps });
  }
  if (options.json) {
    io.out(JSON.stringify({ name: session.plan.name, environment: session.plan.environment, zone, t0: format(settings.t0), phases }, null, 2));
    return EXIT.ok;
  }
  io.out(`${session.plan.name} [${session.plan.environment.toUpperCase()}] — T0 ${format(settings.t0)} (${zone})`);
  for (const phase of phases) {
    io.out('', );
    io.out(`${phase.title} (${phase.id})${phase.opensAt ? ` — opens ${phase.opensAt}` : ' — branch'}`);
    for (const step of phase.steps) {
      io.out(`  ${step.plannedAt ?? '                             '}  ${step.id} [${step.kind}]`);
      io.out(`      ${step.dryRun.split('\n').join('\n      ')}`);
    }
  }
  return EXIT.ok;
}
