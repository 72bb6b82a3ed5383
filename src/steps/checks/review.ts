import { evaluateDecision, renderDecision, type Decision, type DecisionInputs } from '../../../machines/decision-tree.js';
import { parseDuration } from '../../../machines/schedule.js';
import type { JournalEntry } from '../../engine/journal.js';
import { isoTime, localizeInstants, peopleTime } from '../../engine/time-format.js';
import { reconcileFromContext, reconcileStepResult, type ReconcileResult } from '../reconcile/index.js';
import type { StepAction, StepContext } from '../types.js';
import { buildDecisionInputs, CHECK_STEPS, latestCheck, listReconciliations, type ReconciliationEvidence } from './decision-inputs.js';
import { percent, readJournalEntries, type CheckNote } from './post-switch-check.js';
import { loadStoredReconciliations } from './stored-reconciliations.js';
import { output } from '../outputs.js';

declare module '../outputs.js' {
  interface StepOutputs {
    'review.summary': FirstDaySummary;
    /** The verdict and its evidence; an approved `rollback` verdict enters the rollback branch. */
    'review.decision': DecisionOutput;
    'rollback.decide': DecisionOutput;
  }
}

/**
 * The first-day review: `review.summary` gathers what the checks and reconciliations recorded since
 * the switch into one report; `review.decision` runs the decision tree on that evidence and returns
 * the verdict for the approvers to sign (an approved rollback enters the rollback branch).
 */

export interface CheckTally {
  stepId: string;
  /** Runs that finished (with or without a breach). */
  runs: number;
  breaches: number;
  /** Runs that failed (the check itself could not run). */
  failed: number;
  skipped: number;
}

export interface Measurement {
  stepId: string;
  at: string;
  value: number;
}

export interface FirstDaySummary {
  /** The switch, when known, and when the summary was made (ISO). */
  from?: string;
  to: string;
  checks: CheckTally[];
  breaches: { stepId: string; at: string; reason: string }[];
  errorRate: {
    requests: number;
    failures: number;
    /** failures / requests over every check of the day; null without requests. */
    overall: number | null;
    worst?: Measurement;
    latest?: Measurement;
  };
  p95: { baselineMs: number | null; worst?: Measurement; latest?: Measurement };
  reconciliations: ReconciliationEvidence[];
  /** A reconciliation made by this step because none was recent enough. */
  reconciliation?: ReconcileResult;
  /** Why the review could not reconcile, when it tried. */
  reconciliationProblem?: string;
  /** The report as Markdown. */
  report: string;
}

const stepOf = (entry: JournalEntry) => String(entry.stepId ?? '');

function tallyChecks(journal: readonly JournalEntry[]): Pick<FirstDaySummary, 'checks' | 'breaches'> & { notes: (CheckNote & { stepId: string })[] } {
  const checks = CHECK_STEPS.map((stepId): CheckTally => ({ stepId, runs: 0, breaches: 0, failed: 0, skipped: 0 }));
  const byId = new Map(checks.map((tally) => [tally.stepId, tally]));
  const breaches: FirstDaySummary['breaches'] = [];
  const notes: (CheckNote & { stepId: string })[] = [];
  for (const entry of journal) {
    if (entry.type === 'event') {
      const event = entry.event as { type?: string; stepId?: string } | undefined;
      const tally = event?.type === 'SKIP' ? byId.get(event.stepId ?? '') : undefined;
      if (tally) tally.skipped += 1;
      continue;
    }
    const tally = byId.get(stepOf(entry));
    if (!tally) continue;
    if (entry.type === 'step.finished') {
      tally.runs += 1;
      if (typeof entry.attention === 'string') {
        tally.breaches += 1;
        breaches.push({ stepId: tally.stepId, at: entry.at, reason: entry.attention });
      }
    } else if (entry.type === 'step.failed') tally.failed += 1;
    else if (entry.type === 'step.note' && entry.check && typeof entry.check === 'object') notes.push({ stepId: tally.stepId, ...(entry.check as CheckNote) });
  }
  return { checks: checks.filter((tally) => tally.runs + tally.failed + tally.skipped > 0), breaches, notes };
}

function extreme(notes: (CheckNote & { stepId: string })[], pick: (note: CheckNote) => number | null): Measurement | undefined {
  let worst: Measurement | undefined;
  for (const note of notes) {
    const value = pick(note);
    if (value === null || !Number.isFinite(value)) continue;
    if (!worst || value > worst.value) worst = { stepId: note.stepId, at: note.checkedAt, value };
  }
  return worst;
}

function describeReconciliation(item: ReconciliationEvidence, zone: string): string {
  const at = peopleTime(item.checkedAt, zone);
  if (item.clean) return `${at} (${item.source}): clean`;
  const parts = [`${item.missingRows} source ${item.missingRows === 1 ? 'row' : 'rows'} missing`];
  if (item.tablesNotCompared > 0) parts.push(`${item.tablesNotCompared} tables not compared`);
  return `${at} (${item.source}): NOT CLEAN, ${parts.join(', ')}`;
}

/** `zone`: the plan's, in which every time is written for people (with its offset). */
export function renderFirstDay(summary: Omit<FirstDaySummary, 'report'>, zone: string): string {
  const when = (at: string) => peopleTime(at, zone);
  const lines = [`# First-day review`, '', `Since the switch ${summary.from ? when(summary.from) : '(not recorded)'} until ${when(summary.to)}.`, '', '## Checks', ''];
  if (summary.checks.length === 0) lines.push('- No check ran.');
  for (const tally of summary.checks) {
    lines.push(`- \`${tally.stepId}\`: ${tally.runs} runs, ${tally.breaches} with a breach, ${tally.failed} failed, ${tally.skipped} skipped`);
  }
  const { errorRate, p95 } = summary;
  lines.push('', '## Error rate and latency', '');
  lines.push(
    errorRate.overall === null
      ? '- Error rate: no requests measured.'
      : `- Error rate: ${percent(errorRate.overall)} over ${errorRate.requests.toLocaleString('en-US')} requests` +
          (errorRate.worst ? `; worst ${percent(errorRate.worst.value)} (${errorRate.worst.stepId} at ${when(errorRate.worst.at)})` : '') +
          (errorRate.latest ? `; latest ${percent(errorRate.latest.value)} at ${when(errorRate.latest.at)}` : ''),
  );
  const vs = (ms: number) => (p95.baselineMs ? ` (${Number((ms / p95.baselineMs).toFixed(2))}× baseline)` : '');
  lines.push(
    `- p95: baseline ${p95.baselineMs === null ? 'not recorded' : `${p95.baselineMs} ms`}` +
      (p95.latest ? `; latest ${p95.latest.value} ms${vs(p95.latest.value)} at ${when(p95.latest.at)}` : '; not measured') +
      (p95.worst ? `; worst ${p95.worst.value} ms${vs(p95.worst.value)} (${p95.worst.stepId} at ${when(p95.worst.at)})` : ''),
  );
  lines.push('', '## Breaches', '');
  if (summary.breaches.length === 0) lines.push('- None.');
  for (const breach of summary.breaches) lines.push(`- ${when(breach.at)} \`${breach.stepId}\`: ${breach.reason}`);
  lines.push('', '## Reconciliations', '');
  if (summary.reconciliations.length === 0) lines.push('- None.');
  for (const item of summary.reconciliations) lines.push(`- ${describeReconciliation(item, zone)}`);
  if (summary.reconciliationProblem) lines.push(`- Could not reconcile for this review: ${summary.reconciliationProblem}`);
  return `${lines.join('\n')}\n`;
}

export async function summarizeFirstDay(ctx: StepContext): Promise<FirstDaySummary> {
  const journal = readJournalEntries(ctx.stateDir);
  const stored = loadStoredReconciliations(ctx.stateDir, ctx.runId);
  const nowMs = ctx.clock.now();
  const { checks, breaches, notes } = tallyChecks(journal);

  let reconciliations = listReconciliations(ctx.outputs, journal, { reconciliations: stored });
  let reconciliation: ReconcileResult | undefined;
  let reconciliationProblem: string | undefined;
  // The verdict must not rest on "data loss unknown" just because the 6-hourly runs start after the
  // review: without a recent reconciliation, make one now.
  const latest = reconciliations.at(-1);
  if (!latest || nowMs - Date.parse(latest.checkedAt) > parseDuration(ctx.plan.cadences.reconcile)) {
    try {
      reconciliation = await reconcileFromContext(ctx);
      ctx.note(`review.summary: ${reconcileStepResult(reconciliation).summary}`);
      reconciliations = listReconciliations({ ...ctx.outputs, 'review.summary': { reconciliation } }, journal, { reconciliations: stored });
    } catch (error) {
      reconciliationProblem = error instanceof Error ? error.message : String(error);
    }
  }

  const requests = notes.reduce((total, note) => total + note.requests, 0);
  const failures = notes.reduce((total, note) => total + note.failures, 0);
  const check = latestCheck(ctx.outputs);
  const baseline = output(ctx.outputs, 'final.baseline')?.p95Ms;
  const worstRate = extreme(notes, (note) => note.errorRate);
  const worstP95 = extreme(notes, (note) => note.p95Ms);
  const base = {
    ...(ctx.switchedAt ? { from: ctx.switchedAt } : {}),
    to: new Date(nowMs).toISOString(),
    checks,
    breaches,
    errorRate: {
      requests,
      failures,
      overall: requests > 0 ? failures / requests : null,
      ...(worstRate ? { worst: worstRate } : {}),
      ...(check ? { latest: { stepId: check.stepId, at: check.checkedAt, value: check.errorRate } } : {}),
    },
    p95: {
      baselineMs: typeof baseline === 'number' && Number.isFinite(baseline) ? baseline : null,
      ...(worstP95 ? { worst: worstP95 } : {}),
      ...(check && check.p95Ms !== null ? { latest: { stepId: check.stepId, at: check.checkedAt, value: check.p95Ms } } : {}),
    },
    reconciliations,
    ...(reconciliation ? { reconciliation } : {}),
    ...(reconciliationProblem ? { reconciliationProblem } : {}),
  };
  return { ...base, report: renderFirstDay(base, ctx.plan.t0.zone) };
}

export function firstDayLine(summary: FirstDaySummary, zone: string): string {
  const runs = summary.checks.reduce((total, tally) => total + tally.runs, 0);
  const parts = [`${runs} checks, ${summary.breaches.length} ${summary.breaches.length === 1 ? 'breach' : 'breaches'}`];
  const { errorRate, p95 } = summary;
  if (errorRate.overall !== null) parts.push(`error rate ${percent(errorRate.overall)} over ${errorRate.requests.toLocaleString('en-US')} requests`);
  if (p95.latest) parts.push(`p95 ${p95.latest.value} ms vs baseline ${p95.baselineMs ?? '?'} ms`);
  const last = summary.reconciliations.at(-1);
  parts.push(last ? `reconciliation ${describeReconciliation(last, zone)}` : `no reconciliation${summary.reconciliationProblem ? ` (${summary.reconciliationProblem})` : ''}`);
  return `First day: ${parts.join('; ')}`;
}

export const reviewSummary: StepAction = {
  async run(ctx) {
    const summary = await summarizeFirstDay(ctx);
    return { summary: firstDayLine(summary, ctx.plan.t0.zone), output: summary };
  },
  dryRun(ctx) {
    return [
      'Would summarize the first day from the journal: checks run, breaches, error rate and p95 against the baseline, reconciliations.',
      `If no reconciliation is newer than ${ctx.plan.cadences.reconcile}, would reconcile source and target now (read-only).`,
    ].join('\n');
  },
};

export interface DecisionOutput extends Decision {
  evaluatedAt: string;
  inputs: DecisionInputs;
  /** The decision as text: verdict, each question with its evidence, missing evidence. */
  text: string;
}

/** The tree on a run's recorded evidence: the step's and the CLI's shared core. */
export function decideOnEvidence(
  plan: StepContext['plan'],
  outputs: StepContext['outputs'],
  journal: readonly JournalEntry[],
  reconciliations: readonly unknown[],
  nowMs: number,
): DecisionOutput {
  const inputs = buildDecisionInputs(outputs, journal, plan, { reconciliations });
  const decision = evaluateDecision(inputs, plan.thresholds);
  // The tree is pure and zone-free: its instants become people's time in the plan's zone here.
  const zone = plan.t0.zone;
  return {
    ...decision,
    summary: localizeInstants(decision.summary, zone),
    path: decision.path.map((step) => ({ ...step, evidence: localizeInstants(step.evidence, zone) })),
    evaluatedAt: isoTime(nowMs, zone),
    inputs,
    text: localizeInstants(renderDecision(decision), zone),
  };
}

export const reviewDecision: StepAction = {
  async run(ctx) {
    const output = decideOnEvidence(
      ctx.plan,
      ctx.outputs,
      readJournalEntries(ctx.stateDir),
      loadStoredReconciliations(ctx.stateDir, ctx.runId),
      ctx.clock.now(),
    );
    return { summary: `${output.verdict.toUpperCase()}: ${output.summary}`, output };
  },
  dryRun() {
    return 'Would evaluate the decision tree on the latest reconciliation, the latest check (error rate, p95 against the baseline) and the assertions in the journal, then wait for the approvers; an approved ROLLBACK enters the rollback branch.';
  },
};
