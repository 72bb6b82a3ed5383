import { findStep } from '../../machines/runbook.js';
import { DateTime } from 'luxon';
import type { Plan } from '../config/schema.js';
import type { JournalEntry } from './journal.js';
import { localizeInstants, peopleTime } from './time-format.js';
import type { PhaseView, RunView, StepView } from './view.js';

/**
 * `cutover report --html FILE`: one self-contained page for the people around the cutover. Inline
 * CSS and SVG only (no script, no font, no image from anywhere), so it opens from a mail attachment
 * or a wiki upload as it is. Pure: what it shows comes from the view, the journal and the step outputs.
 *
 * - the timeline: per phase, one row per step with its planned bar and its actual bar, slips marked,
 *   sign-offs as diamonds with who and when;
 * - the freeze window measured against the T-24h forecast and the planned window;
 * - the week's reconciliations as a trend;
 * - the decisions with the evidence at each question of the tree.
 */

export interface HtmlReportInput {
  plan: Plan;
  view: RunView;
  journal: readonly JournalEntry[];
  /** Each step's recorded output (the run's context), for the forecast and the decisions. */
  outputs: Record<string, unknown>;
}

/** A step that starts later than planned by more than this is marked as slipped. */
export const SLIP_TOLERANCE_MS = 60_000;

const escape = (text: unknown) =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 120_000) return `${(abs / 1000).toFixed(1)} s`;
  if (abs < 7_200_000) return `${Math.round(abs / 60_000)} min`;
  const hours = abs / 3_600_000;
  return hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} d`;
}

interface Span {
  start: number;
  end: number;
}

interface Row {
  step: StepView;
  planned?: Span;
  actual?: Span;
  slipMs?: number;
  runs: number;
}

/** Actual start and end of each step from the journal (every attempt and occurrence). */
function actualSpans(journal: readonly JournalEntry[]): Map<string, Span & { runs: number }> {
  const spans = new Map<string, Span & { runs: number }>();
  for (const entry of journal) {
    if (typeof entry.stepId !== 'string') continue;
    const at = Date.parse(entry.at);
    const span = spans.get(entry.stepId);
    if (entry.type === 'step.started' || entry.type === 'step.resumed') {
      if (span) span.start = Math.min(span.start, at);
      else spans.set(entry.stepId, { start: at, end: at, runs: 0 });
    } else if ((entry.type === 'step.finished' || entry.type === 'step.failed') && span) {
      span.end = Math.max(span.end, at);
      if (entry.type === 'step.finished') span.runs += 1;
    }
  }
  return spans;
}

function rowsOf(phase: PhaseView, nextOpensAt: number | undefined, spans: ReturnType<typeof actualSpans>): Row[] {
  return phase.steps.map((step, index) => {
    const nextPlanned = phase.steps.slice(index + 1).find((other) => other.plannedAt !== undefined && step.plannedAt !== undefined && other.plannedAt > step.plannedAt)?.plannedAt;
    // A recurring step is planned for its whole phase; another step until the next one is planned,
    // or, when the steps after it share its planned time, as a mark at that time (no duration is planned).
    const phaseEnd = step.kind === 'recurring' && nextOpensAt !== undefined && step.plannedAt !== undefined && nextOpensAt > step.plannedAt ? nextOpensAt : undefined;
    const plannedEnd = phaseEnd ?? nextPlanned;
    const planned = step.plannedAt !== undefined ? { start: step.plannedAt, end: plannedEnd ?? step.plannedAt } : undefined;
    const journaled = spans.get(step.id);
    // A sign-off has no "started" line: it waits from the step before it until the signature.
    const signedAt = step.signoffs.at(-1)?.at ?? step.confirmedBy?.at ?? step.skipped?.at;
    const start = journaled?.start ?? step.startedAt ?? (signedAt !== undefined ? Math.min(signedAt, planned?.start ?? signedAt) : undefined);
    const end = Math.max(journaled?.end ?? 0, step.finishedAt ?? 0, signedAt ?? 0) || undefined;
    const actual = start !== undefined ? { start, end: end ?? start } : undefined;
    const slip = actual && planned && step.kind !== 'signoff' && step.kind !== 'recurring' ? actual.start - planned.start : undefined;
    return { step, ...(planned ? { planned } : {}), ...(actual ? { actual } : {}), ...(slip !== undefined ? { slipMs: slip } : {}), runs: journaled?.runs ?? 0 };
  });
}

const LABEL = 250;
const WIDTH = 980;
const ROW = 22;

function timelineSvg(phase: PhaseView, rows: Row[], zone: string): string {
  const times = rows.flatMap((row) => [row.planned?.start, row.planned?.end, row.actual?.start, row.actual?.end]).filter((t): t is number => t !== undefined);
  if (phase.opensAt !== undefined) times.push(phase.opensAt);
  const from = Math.min(...times);
  const to = Math.max(...times, from + 60_000);
  const plot = WIDTH - LABEL - 210;
  const x = (t: number) => LABEL + ((t - from) / (to - from)) * plot;
  const height = rows.length * ROW + 30;
  const tick = (t: number, anchor: string) => `<text class="axis" x="${x(t).toFixed(1)}" y="${height - 6}" text-anchor="${anchor}">${escape(peopleTime(t, zone))}</text>`;
  const parts = [
    `<svg class="timeline" role="img" aria-label="${escape(`${phase.title}: planned and actual time of each step`)}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<line class="grid" x1="${LABEL}" x2="${LABEL + plot}" y1="${height - 22}" y2="${height - 22}"/>`,
    tick(from, 'start'),
    tick(to, 'end'),
  ];
  rows.forEach((row, index) => {
    const y = index * ROW + 4;
    const { step } = row;
    parts.push(`<g class="step status-${step.status}${row.slipMs !== undefined && row.slipMs > SLIP_TOLERANCE_MS ? ' slipped' : ''}" data-step="${escape(step.id)}">`);
    parts.push(`<text class="label" x="${LABEL - 8}" y="${y + 13}" text-anchor="end">${escape(step.id)}</text>`);
    if (row.planned) {
      const width = Math.max(x(row.planned.end) - x(row.planned.start), 3);
      parts.push(`<rect class="bar planned" x="${x(row.planned.start).toFixed(1)}" y="${y + 1}" width="${width.toFixed(1)}" height="${ROW - 8}" rx="2"><title>${escape(`${step.id} planned ${peopleTime(row.planned.start, zone)}`)}</title></rect>`);
    }
    if (row.actual) {
      const width = Math.max(x(row.actual.end) - x(row.actual.start), 3);
      const what = `${step.id} ${step.status}: ${peopleTime(row.actual.start, zone)} → ${peopleTime(row.actual.end, zone)} (${duration(row.actual.end - row.actual.start)})${row.runs > 1 ? `, ${row.runs} runs` : ''}`;
      parts.push(`<rect class="bar actual" x="${x(row.actual.start).toFixed(1)}" y="${y + 5}" width="${width.toFixed(1)}" height="${ROW - 16}" rx="1"><title>${escape(what)}</title></rect>`);
    }
    const right = Math.max(row.actual ? x(row.actual.end) : 0, row.planned ? x(row.planned.end) : 0, LABEL) + 6;
    const notes: string[] = [];
    if (row.slipMs !== undefined && row.slipMs > SLIP_TOLERANCE_MS) {
      const at = x(row.actual!.start);
      parts.push(`<path class="slip-mark" d="M${at.toFixed(1)} ${y} l-5 -0 l5 8 l5 -8 z"><title>${escape(`${step.id} started ${duration(row.slipMs)} late`)}</title></path>`);
      notes.push(`<tspan class="slip-text">+${escape(duration(row.slipMs))} late</tspan>`);
    }
    for (const signoff of step.signoffs) {
      const at = x(signoff.at);
      parts.push(`<path class="gate${signoff.reject ? ' rejected' : ''}" d="M${at.toFixed(1)} ${y + 2} l6 7 l-6 7 l-6 -7 z"><title>${escape(`${signoff.reject ? 'rejected' : 'signed'} by ${signoff.by} at ${peopleTime(signoff.at, zone)}${signoff.note ? `: ${signoff.note}` : ''}`)}</title></path>`);
    }
    if (step.signoffs.length) notes.push(`<tspan class="who">✎ ${escape(step.signoffs.map((s) => `${s.by} ${DateTime.fromMillis(s.at, { zone }).toFormat('HH:mm')}`).join(', '))}</tspan>`);
    if (step.confirmedBy) notes.push(`<tspan class="who">✎ ${escape(step.confirmedBy.by)} (typed)</tspan>`);
    if (step.skipped) notes.push(`<tspan class="who">↷ ${escape(step.skipped.by)}</tspan>`);
    if (notes.length) parts.push(`<text class="note" x="${Math.min(right, WIDTH - 205).toFixed(1)}" y="${y + 13}">${notes.join(' ')}</text>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function freezeWindow(input: HtmlReportInput, steps: Map<string, StepView>, spans: ReturnType<typeof actualSpans>): string {
  const forecast = (input.outputs['final.export-dry-run'] as { forecast?: { totalMs?: number }; windowMs?: number } | undefined)?.forecast?.totalMs;
  const frozeAt = spans.get('freeze.enable')?.start ?? steps.get('freeze.enable')?.startedAt;
  const dataDone = steps.get('migrate.verify')?.finishedAt;
  const switched = input.view.switchedAt ?? steps.get('dns.switch')?.finishedAt;
  const windowMs = (input.outputs['final.export-dry-run'] as { windowMs?: number } | undefined)?.windowMs;
  const bars: { label: string; ms: number; kind: string; note: string }[] = [];
  if (windowMs !== undefined) bars.push({ label: 'Planned window', ms: windowMs, kind: 'planned', note: `windowDuration ${input.plan.windowDuration}` });
  if (forecast !== undefined) bars.push({ label: 'Forecast data path (T-24h)', ms: forecast, kind: 'forecast', note: 'quiet window + export + load + verify, from final.export-dry-run' });
  if (frozeAt !== undefined && dataDone !== undefined) bars.push({ label: 'Measured data path', ms: dataDone - frozeAt, kind: 'measured', note: 'freeze.enable → migrate.verify' });
  if (frozeAt !== undefined && switched !== undefined) bars.push({ label: 'Measured write freeze', ms: switched - frozeAt, kind: 'measured', note: 'freeze.enable → dns.switch (writes go to the new system)' });
  if (bars.length === 0) return '<p class="none">The window has not started yet, and no forecast has been made.</p>';
  const max = Math.max(...bars.map((bar) => bar.ms));
  const plot = WIDTH - LABEL - 260;
  const svg = [`<svg class="window" role="img" aria-label="freeze window against the forecast" width="${WIDTH}" height="${bars.length * 28 + 8}" xmlns="http://www.w3.org/2000/svg">`];
  bars.forEach((bar, index) => {
    const y = index * 28 + 4;
    const width = Math.max((bar.ms / max) * plot, 3);
    svg.push(
      `<text class="label" x="${LABEL - 8}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect class="wbar ${bar.kind}" x="${LABEL}" y="${y + 2}" width="${width.toFixed(1)}" height="18" rx="2"><title>${escape(bar.note)}</title></rect>`,
      `<text class="value" x="${(LABEL + width + 6).toFixed(1)}" y="${y + 15}">${escape(duration(bar.ms))} <tspan class="muted">${escape(bar.note)}</tspan></text>`,
    );
  });
  svg.push('</svg>');
  let verdict = '';
  const measured = frozeAt !== undefined && dataDone !== undefined ? dataDone - frozeAt : undefined;
  if (forecast !== undefined && measured !== undefined) {
    const ratio = measured / forecast;
    verdict = `<p>The data path took <b>${escape(duration(measured))}</b> against a forecast of ${escape(duration(forecast))} (${ratio <= 1 ? `${Math.round((1 - ratio) * 100)} % under` : `<span class="bad">${Math.round((ratio - 1) * 100)} % over</span>`}).</p>`;
  }
  return `${verdict}\n${svg.join('\n')}`;
}

interface Reconciliation {
  at: number;
  label: string;
  clean: boolean;
  issues: number;
  summary: string;
}

function reconciliationsOf(journal: readonly JournalEntry[]): Reconciliation[] {
  const list: Reconciliation[] = [];
  for (const entry of journal) {
    const fromStep = entry.type === 'step.finished' && findStep(String(entry.stepId))?.step.every === 'reconcile';
    if (!fromStep && entry.type !== 'reconcile.summary') continue;
    const totals = (fromStep ? (entry.result as { output?: { totals?: Record<string, number> } } | undefined)?.output?.totals : (entry.totals as Record<string, number> | undefined)) ?? {};
    const issues = (totals.missingRows ?? 0) + (totals.changedRows ?? 0) + (totals.extraRows ?? 0) + (totals.gaps ?? 0);
    list.push({
      at: Date.parse(entry.at),
      label: fromStep ? `watch.reconcile #${String(entry.occurrence ?? '')}` : 'cutover reconcile',
      clean: fromStep ? !entry.attention : entry.clean === true,
      issues,
      summary: String(entry.summary ?? ''),
    });
  }
  return list;
}

function reconciliationTrend(list: Reconciliation[], zone: string): string {
  if (list.length === 0) return '<p class="none">No reconciliation yet (they run every 6 hours from the switch through the watch week).</p>';
  const plot = WIDTH - 80;
  const height = 150;
  const max = Math.max(1, ...list.map((r) => r.issues));
  const from = list[0]!.at;
  const to = Math.max(list.at(-1)!.at, from + 1);
  const x = (t: number) => 50 + ((t - from) / (to - from)) * (plot - 20);
  const y = (n: number) => height - 30 - (n / max) * (height - 50);
  const svg = [
    `<svg class="trend" role="img" aria-label="reconciliations of the week" width="${WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<line class="grid" x1="50" x2="${plot + 30}" y1="${y(0)}" y2="${y(0)}"/>`,
    `<text class="axis" x="44" y="${y(0) + 4}" text-anchor="end">0</text>`,
    `<text class="axis" x="44" y="${y(max) + 4}" text-anchor="end">${max.toLocaleString('en-US')}</text>`,
    `<text class="axis" x="50" y="${height - 6}">${escape(peopleTime(from, zone))}</text>`,
    `<text class="axis" x="${plot + 30}" y="${height - 6}" text-anchor="end">${escape(peopleTime(to, zone))}</text>`,
    `<polyline class="trendline" points="${list.map((r) => `${x(r.at).toFixed(1)},${y(r.issues).toFixed(1)}`).join(' ')}"/>`,
  ];
  for (const r of list) {
    svg.push(`<circle class="${r.clean ? 'clean' : 'drift'}" cx="${x(r.at).toFixed(1)}" cy="${y(r.issues).toFixed(1)}" r="${r.clean ? 4 : 6}"><title>${escape(`${r.label} ${peopleTime(r.at, zone)}: ${r.summary}`)}</title></circle>`);
  }
  svg.push('</svg>');
  const clean = list.filter((r) => r.clean).length;
  const head = `<p>${list.length.toLocaleString('en-US')} reconciliation${list.length === 1 ? '' : 's'}: ${clean.toLocaleString('en-US')} clean, ${(list.length - clean).toLocaleString('en-US')} with rows missing, changed or extra, or ingestion gaps (the line counts them).</p>`;
  const rows = list
    .filter((r) => !r.clean)
    .map((r) => `<tr><td>${escape(peopleTime(r.at, zone))}</td><td>${escape(r.label)}</td><td class="bad">${escape(r.summary)}</td></tr>`)
    .join('\n');
  return `${head}\n${svg.join('\n')}${rows ? `\n<table><tr><th>When</th><th>Run</th><th>Found</th></tr>\n${rows}</table>` : ''}`;
}

function decisions(journal: readonly JournalEntry[], zone: string): string {
  const entries = journal.filter((entry) => entry.type === 'step.finished' && findStep(String(entry.stepId))?.step.kind === 'decision');
  if (entries.length === 0) return '<p class="none">No decision yet (the decision tree is evaluated at the first-day review).</p>';
  return entries
    .map((entry) => {
      const output = ((entry.result as { output?: unknown } | undefined)?.output ?? {}) as { verdict?: string; summary?: string; path?: { question: string; answer: string; evidence: string }[]; missing?: string[] };
      const verdict = output.verdict ?? 'unknown';
      const path = (output.path ?? []).map((step) => `<li><span class="q">${escape(step.question)}</span> <b>${escape(step.answer)}</b> <span class="evidence">${escape(step.evidence)}</span></li>`).join('\n');
      const missing = output.missing?.length ? `<p class="bad">Missing evidence: ${escape(output.missing.join('; '))}</p>` : '';
      return `<div class="decision"><p><span class="verdict v-${escape(verdict)}">${escape(verdict.toUpperCase())}</span> <code>${escape(entry.stepId)}</code> at ${escape(peopleTime(entry.at, zone))}: ${escape(output.summary ?? entry.summary)}</p><ol>${path}</ol>${missing}</div>`;
    })
    .join('\n');
}

function gatesTable(view: RunView, zone: string): string {
  const rows = view.phases
    .flatMap((phase) => phase.steps)
    .flatMap((step) => [
      ...step.signoffs.map((s) => ({ step: step.id, who: s.by, at: s.at, what: s.reject ? 'rejected' : 'signed off', note: s.note ?? '' })),
      ...(step.confirmedBy ? [{ step: step.id, who: step.confirmedBy.by, at: step.confirmedBy.at, what: 'confirmed (typed the phrase)', note: '' }] : []),
      ...(step.skipped ? [{ step: step.id, who: step.skipped.by, at: step.skipped.at, what: 'skipped', note: step.skipped.reason }] : []),
    ])
    .sort((a, b) => a.at - b.at);
  if (rows.length === 0) return '<p class="none">No one has signed anything yet.</p>';
  return `<table><tr><th>When</th><th>Step</th><th>Who</th><th>What</th><th>Note</th></tr>\n${rows
    .map((r) => `<tr><td>${escape(peopleTime(r.at, zone))}</td><td><code>${escape(r.step)}</code></td><td>${escape(r.who)}</td><td>${escape(r.what)}</td><td>${escape(r.note)}</td></tr>`)
    .join('\n')}</table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;margin:24px auto;max-width:1020px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}h3{font-size:14px;margin:16px 0 2px;color:#334155}
.meta{color:#475569;margin:0}.meta b{color:#0f172a}.none,.muted{color:#64748b}.bad{color:#b91c1c}
.legend{display:flex;gap:16px;color:#475569;font-size:12px;margin:6px 0}.legend i{display:inline-block;width:18px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
svg text{font:11px system-ui,sans-serif;fill:#334155}svg .axis{fill:#64748b;font-size:10px}svg .grid{stroke:#cbd5e1}
.bar.planned{fill:#e2e8f0;stroke:#94a3b8;stroke-width:1}.bar.actual{fill:#2563eb}
.status-failed .bar.actual,.status-rejected .bar.actual{fill:#dc2626}.status-skipped .bar.actual{fill:#94a3b8}.status-attention .bar.actual,.status-unknown .bar.actual{fill:#d97706}
.status-waiting .bar.actual,.status-running .bar.actual{fill:#60a5fa}
.slipped .label{fill:#b91c1c;font-weight:600}.slip-mark{fill:#dc2626}.slip-text{fill:#b91c1c;font-weight:600}
.gate{fill:#7c3aed;stroke:#fff;stroke-width:1}.gate.rejected{fill:#dc2626}.who{fill:#5b21b6}
.wbar.planned{fill:#e2e8f0;stroke:#94a3b8}.wbar.forecast{fill:#a5b4fc}.wbar.measured{fill:#2563eb}
.trendline{fill:none;stroke:#94a3b8;stroke-width:1.5}circle.clean{fill:#16a34a}circle.drift{fill:#dc2626}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}th{color:#475569;font-weight:600}
.decision{border:1px solid #e2e8f0;border-radius:6px;padding:4px 12px;margin:8px 0}.verdict{font-weight:700;padding:1px 8px;border-radius:10px;background:#dcfce7;color:#166534}
.v-rollback{background:#fee2e2;color:#991b1b}.v-fix-forward,.v-scale-up{background:#fef3c7;color:#92400e}.q{color:#334155}.evidence{color:#475569}
`;

export function renderHtmlReport(input: HtmlReportInput): string {
  const { plan, view, journal } = input;
  const zone = plan.t0.zone;
  const spans = actualSpans(journal);
  const steps = new Map(view.phases.flatMap((phase) => phase.steps.map((step) => [step.id, step] as const)));
  const shown = view.phases.filter((phase) => !phase.branch || phase.steps.some((step) => step.status !== 'pending'));
  const timeline = shown
    .map((phase) => {
      const index = view.phases.indexOf(phase);
      const next = view.phases.slice(index + 1).find((other) => !other.branch)?.opensAt;
      const rows = rowsOf(phase, phase.branch ? undefined : next, spans);
      const slipped = rows.filter((row) => row.slipMs !== undefined && row.slipMs > SLIP_TOLERANCE_MS).length;
      return `<section class="phase" data-phase="${escape(phase.id)}"><h3>${escape(phase.title)} <span class="muted">(${escape(phase.id)}${phase.opensAt !== undefined ? `, opens ${escape(peopleTime(phase.opensAt, zone))}` : ''}${slipped ? `, <span class="bad">${slipped} step${slipped === 1 ? '' : 's'} late</span>` : ''})</span></h3>\n${timelineSvg(phase, rows, zone)}</section>`;
    })
    .join('\n');
  const meta = [
    `Run <b>${escape(view.runId)}</b> (${escape(plan.environment)})`,
    `T0 planned <b>${escape(peopleTime(view.t0, zone))}</b>${view.switchedAt !== undefined ? `, switched <b>${escape(peopleTime(view.switchedAt, zone))}</b>` : ''}`,
    `Times in ${escape(zone)}`,
  ].join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(`Cutover report: ${plan.name}`)}</title>
<style>${CSS}</style></head>
<body>
<h1>${escape(plan.name)}</h1>
<p class="meta">${meta}</p>
<p class="meta">Now: ${escape(localizeInstants(view.headline, zone))}</p>
${view.rollback ? `<p class="bad">Rollback requested by ${escape(view.rollback.by)} at ${escape(peopleTime(view.rollback.at, zone))}: ${escape(view.rollback.reason)}</p>` : ''}
<h2>Timeline: planned against actual</h2>
<div class="legend"><span><i style="background:#e2e8f0;border:1px solid #94a3b8"></i>planned</span><span><i style="background:#2563eb"></i>actual</span><span><i style="background:#dc2626"></i>failed</span><span><i style="background:#d97706"></i>attention</span><span><i style="background:#dc2626;width:10px"></i>late start (slip over ${SLIP_TOLERANCE_MS / 60_000} min)</span><span><i style="background:#7c3aed;width:10px"></i>sign-off</span></div>
${timeline}
<h2>Sign-offs, confirmations and skips</h2>
${gatesTable(view, zone)}
<h2>Freeze window against the forecast</h2>
${freezeWindow(input, steps, spans)}
<h2>Reconciliations of the week</h2>
${reconciliationTrend(reconciliationsOf(journal), zone)}
<h2>Decisions and their evidence</h2>
${decisions(journal, zone)}
<p class="muted">Generated by cutover from the run's journal (${journal.length.toLocaleString('en-US')} entries, hash-chained).</p>
</body></html>
`;
}
