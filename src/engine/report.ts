import { DateTime } from 'luxon';
import { runbookOfPlan } from '../config/custom-steps.js';
import type { Plan } from '../config/schema.js';
import type { JournalEntry } from './journal.js';
import type { RunView } from './view.js';

/**
 * `cutover report`: planned against actual for every step, who signed what, decisions, and the
 * reconciliation summaries. Markdown, readable in a terminal and on a wiki. Pure.
 */
export function renderReport(plan: Plan, view: RunView, journal: readonly JournalEntry[]): string {
  const zone = plan.t0.zone;
  const at = (ms: number | undefined) => (ms === undefined ? '—' : DateTime.fromMillis(ms, { zone }).toFormat('LLL dd HH:mm:ss'));
  const slip = (planned?: number, actual?: number) => {
    if (planned === undefined || actual === undefined) return '';
    const minutes = Math.round((actual - planned) / 60_000);
    return minutes === 0 ? 'on time' : `${minutes > 0 ? '+' : ''}${minutes} min`;
  };
  const durations = new Map<string, number>();
  for (const entry of journal) {
    if (entry.type === 'step.finished' && typeof entry.durationMs === 'number') {
      const id = String(entry.stepId);
      durations.set(id, (durations.get(id) ?? 0) + entry.durationMs);
    }
  }
  const lines = [
    `# Cutover report: ${plan.name}`,
    '',
    `- Run: \`${view.runId}\` (${plan.environment})`,
    `- T0 planned: ${at(view.t0)} ${zone}; switched: ${at(view.switchedAt)}`,
    `- Now: ${view.headline}`,
    ...(view.rollback ? [`- Rollback requested by ${view.rollback.by} at ${at(view.rollback.at)}: ${view.rollback.reason}`] : []),
    ...(view.abort ? [`- Aborted by ${view.abort.by} at ${at(view.abort.at)}: ${view.abort.reason}`] : []),
    '',
    '| Step | Status | Planned | Actual | Slip | Took | Result |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const phase of view.phases) {
    const touched = phase.steps.some((step) => step.status !== 'pending');
    if (phase.branch && !touched) continue;
    for (const step of phase.steps) {
      const took = durations.get(step.id);
      const result = [
        step.summary ?? '',
        step.error ? `error: ${step.error}` : '',
        step.runs ? `${step.runs.done}/${step.runs.total} runs${step.runs.missed ? `, ${step.runs.missed} missed` : ''}` : '',
        step.signoffs.map((s) => `${s.reject ? 'rejected' : 'signed'} by ${s.by}${s.note ? ` ("${s.note}")` : ''}`).join('; '),
        step.skipped ? `skipped by ${step.skipped.by}: ${step.skipped.reason}` : '',
      ]
        .filter(Boolean)
        .join(' · ')
        .replaceAll('|', '\\|');
      // A recurring step's record holds its latest run: show that run, but no slip against the first.
      const actual = step.startedAt ?? step.finishedAt;
      const slipText = step.runs ? '' : slip(step.plannedAt, actual);
      lines.push(`| \`${step.id}\` | ${step.status} | ${at(step.plannedAt)} | ${at(actual)} | ${slipText} | ${took === undefined ? '' : `${(took / 1000).toFixed(1)} s`} | ${result} |`);
    }
  }
  // Who acted at the gates, and how the system knew them (issue 12): the journal's record of it.
  const acts = journal.filter((entry) => entry.identity && (entry.type === 'event' || entry.type === 'decision.asserted' || entry.type === 'decision.withdrawn'));
  if (acts.length) {
    lines.push('', '## Who acted', '', '| When | What | Who | Recognised by |', '|---|---|---|---|');
    for (const entry of acts) {
      const identity = entry.identity as { name: string; account: string; via: string };
      const event = entry.event as { type: string; stepId?: string; reject?: boolean } | undefined;
      const what = event
        ? `${event.type === 'SIGNOFF' && event.reject ? 'REJECT' : event.type}${event.stepId ? ` \`${event.stepId}\`` : ''}`
        : `${entry.type === 'decision.asserted' ? 'asserted' : 'withdrew'} ${String(entry.name)}`;
      const how = identity.via === 'os-account' ? `OS account ${identity.account}` : identity.via === 'postgres-login' ? `PostgreSQL login ${identity.account}` : identity.via;
      lines.push(`| ${at(Date.parse(entry.at))} | ${what} | ${identity.name} | ${how}${entry.inbox ? ' (from another terminal)' : ''} |`.replaceAll('\n', ' '));
    }
  }
  const book = runbookOfPlan(plan);
  const stepOf = (entry: JournalEntry) => book.findStep(String(entry.stepId))?.step;
  const decisions = journal.filter((entry) => entry.type === 'step.finished' && stepOf(entry)?.kind === 'decision');
  if (decisions.length) {
    lines.push('', '## Decisions', '');
    for (const entry of decisions) lines.push(`- ${at(Date.parse(entry.at))} \`${String(entry.stepId)}\`: ${String(entry.summary)}`);
  }
  const reconciliations = journal.filter((entry) => entry.type === 'step.finished' && stepOf(entry)?.every === 'reconcile');
  if (reconciliations.length) {
    lines.push('', '## Reconciliations', '');
    for (const entry of reconciliations) lines.push(`- ${at(Date.parse(entry.at))} run ${String(entry.occurrence ?? '')}: ${String(entry.summary)}${entry.attention ? ` — ATTENTION: ${String(entry.attention)}` : ''}`);
  }
  lines.push('');
  return lines.join('\n');
}
