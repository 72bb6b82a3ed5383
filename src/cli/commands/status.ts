import { DateTime } from 'luxon';
import { EXIT } from '../../engine/errors.js';
import { describeRunner, peekRun } from '../../engine/peek.js';
import { buildView, type RunView, type StepView } from '../../engine/view.js';
import { loadPlan } from '../../config/load.js';
import { clockFromEnv, stateDirOf } from '../session.js';
import type { GlobalOptions, Io } from '../io.js';

export const MARKS: Record<StepView['status'], string> = {
  pending: '·',
  running: '▶',
  waiting: '…',
  done: '✓',
  failed: '✗',
  skipped: '↷',
  unknown: '?',
  rejected: '⊘',
  attention: '!',
};

export function renderStatus(view: RunView, zone: string): string {
  const at = (ms: number | undefined) => (ms === undefined ? '' : DateTime.fromMillis(ms, { zone }).toFormat('LLL dd HH:mm ZZZZ'));
  const lines = [`Run ${view.runId} — ${view.headline}`, `T0 ${at(view.t0)}${view.switchedAt ? `, switched ${at(view.switchedAt)}` : ''}`];
  lines.push(view.rollbackPossible ? 'Rollback possible (cutover rollback --by NAME --reason TEXT).' : view.abortPossible ? 'Before the point of no return (freeze.enable): the cutover can still be aborted.' : '');
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

export async function status(globals: GlobalOptions, options: { json?: boolean }, io: Io): Promise<number> {
  const { plan, file } = await loadPlan(globals.config);
  const { clock } = clockFromEnv(io.env);
  const stateDir = stateDirOf(globals, file);
  const { snapshot, started } = peekRun(stateDir, plan);
  const view = buildView(snapshot, clock.now());
  const runner = started ? describeRunner(stateDir, snapshot.status === 'done') : undefined;
  io.out(options.json ? JSON.stringify({ ...view, ...(runner ? { runner } : {}) }, null, 2) : [renderStatus(view, plan.t0.zone), ...(runner ? ['', runner.text] : [])].join('\n'));
  return EXIT.ok;
}
