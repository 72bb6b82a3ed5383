import { DateTime } from 'luxon';
import { EXIT } from '../../engine/errors.js';
import { previewPlan } from '../../services/preview.js';
import { openSession } from '../../services/session.js';
import type { GlobalOptions, Io } from '../io.js';

/** The timeline with absolute times in the plan's zone and each step's dry-run text. */
export async function plan(globals: GlobalOptions, options: { json?: boolean }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  const preview = await previewPlan(session);
  const zone = session.plan.t0.zone;
  const format = (ms: number | undefined) => (ms === undefined ? null : DateTime.fromMillis(ms, { zone }).toISO());
  const phases = preview.phases.map((phase) => ({
    id: phase.id,
    title: phase.title,
    opensAt: format(phase.opensAt),
    steps: phase.steps.map((step) => ({ id: step.id, kind: step.kind, title: step.title, plannedAt: format(step.plannedAt), dryRun: step.dryRun })),
  }));
  if (options.json) {
    io.out(JSON.stringify({ name: session.plan.name, environment: session.plan.environment, zone, t0: format(preview.t0), phases }, null, 2));
    return EXIT.ok;
  }
  io.out(`${session.plan.name} [${session.plan.environment.toUpperCase()}] — T0 ${format(preview.t0)} (${zone})`);
  for (const phase of phases) {
    io.out('');
    io.out(`${phase.title} (${phase.id})${phase.opensAt ? ` — opens ${phase.opensAt}` : ' — branch'}`);
    for (const step of phase.steps) {
      io.out(`  ${step.plannedAt ?? '                             '}  ${step.id} [${step.kind}]`);
      io.out(`      ${step.dryRun.split('\n').join('\n      ')}`);
    }
  }
  return EXIT.ok;
}
