import { DateTime } from 'luxon';
import { EXIT, ExitError } from '../../engine/errors.js';
import type { RunView } from '../../engine/view.js';
import { openSession } from '../../services/session.js';
import { MARKS, runStatus } from '../../services/status.js';
import { lagMetrics, runReplication } from '../../steps/replicate/lag.js';
import { renderMetrics, writePrometheusTextfile } from '../../steps/reconcile/prometheus-textfile.js';
import type { GlobalOptions, Io } from '../io.js';

const NEEDS_ATTENTION = new Set<RunView['phases'][number]['steps'][number]['status']>(['failed', 'unknown', 'attention', 'rejected']);

export function renderStatus(view: RunView, zone: string): string {
  const at = (ms: number | undefined) => (ms === undefined ? '' : DateTime.fromMillis(ms, { zone }).toFormat('LLL dd HH:mm ZZZZ'));
  const lines = [`Run ${view.runId} — ${view.headline}`, `T0 ${at(view.t0)}${view.switchedAt ? `, switched ${at(view.switchedAt)}` : ''}`];
  lines.push(view.rollbackPossible ? 'Rollback possible (cutover rollback --reason TEXT --phrase "rollback <zone>").' : view.abortPossible ? 'Before the point of no return (freeze.enable): the cutover can still be aborted.' : '');
  for (const phase of view.phases) {
    const touched = phase.steps.some((step) => step.status !== 'pending');
    if (phase.branch && !touched) continue;
    lines.push('', `${phase.title} (${phase.id})${phase.opensAt ? ` opens ${at(phase.opensAt)}` : ''}`);
    for (const step of phase.steps) {
      const runs = step.runs ? ` ${step.runs.done}/${step.runs.total} runs${step.runs.missed ? `, ${step.runs.missed} missed` : ''}` : '';
      const who = step.signoffs.length ? ` — ${step.signoffs.map((s) => `${s.reject ? 'rejected' : 'signed'} by ${s.by}`).join(', ')}` : '';
      const actual = step.finishedAt ? ` done ${at(step.finishedAt)}` : '';
      lines.push(`  ${MARKS[step.status]} ${step.id.padEnd(28)} planned ${at(step.plannedAt)}${actual}${runs}${who}${step.skipped ? ` — skipped by ${step.skipped.by}: ${step.skipped.reason}` : ''}`);
    }
  }
  return lines.filter((line, index) => line !== '' || index > 1).join('\n');
}

export async function status(globals: GlobalOptions, options: { json?: boolean; prometheusTextfile?: string }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  if (options.prometheusTextfile && session.plan.strategy !== 'replicate') {
    throw new ExitError('--prometheus-textfile: the plan\'s strategy is copy, which has no replication to measure (reconcile --prometheus-textfile writes the drift metrics).', EXIT.usage);
  }
  const { view, runner } = runStatus(session);
  // Strategy replicate: how far behind the target is, read from the source's slot now.
  const replication = session.plan.strategy === 'replicate' ? await runReplication(session.plan, session.env, session.planDir, view.runId) : undefined;
  io.out(
    options.json
      ? JSON.stringify({ ...view, ...(runner ? { runner } : {}), ...(replication ? { replication } : {}) }, null, 2)
      : [renderStatus(view, session.plan.t0.zone), ...(replication ? ['', replication.text] : []), ...(runner ? ['', runner.text] : [])].join('\n'),
  );
  if (options.prometheusTextfile) {
    await writePrometheusTextfile(options.prometheusTextfile, renderMetrics(lagMetrics(replication?.lag ? [replication.lag] : [], session.plan.replicate)));
  }
  // The exit-code contract: 1 when something needs a person (a step failed, outcome unknown, attention,
  // rejected; or the replication is over one of the plan's thresholds).
  const needsAttention = view.phases.some((phase) => phase.steps.some((step) => NEEDS_ATTENTION.has(step.status))) || (replication?.problems.length ?? 0) > 0;
  return needsAttention ? EXIT.attention : EXIT.ok;
}
