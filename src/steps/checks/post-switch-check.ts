import { evaluateDecision, renderDecision, type Decision } from '../../../machines/decision-tree.js';
import { parseDuration } from '../../../machines/schedule.js';
import type { Plan } from '../../config/schema.js';
import { Journal } from '../../engine/journal.js';
import { formatBytes } from '../data/target-ready.js';
import type { StepAction, StepContext, StepResult } from '../types.js';
import { buildDecisionInputs } from './decision-inputs.js';
import { describeServiceProbes, measureService, runSmokeProbes, type ServiceReading, type SmokeReading } from './service-health.js';
import { ingestionTables, inspectTarget, type DatabaseFacts, type TargetReading } from './target-health.js';
import { loadStoredReconciliations, storeReconciliation } from './stored-reconciliations.js';
import { reconcileFromContext, reconcileStepResult, type ReconcileResult } from '../reconcile/index.js';
import { reconciliationDue } from '../reconcile/schedule.js';
import { output as stepOutput } from '../outputs.js';

declare module '../outputs.js' {
  interface StepOutputs {
    'hypercare.check': CheckOutput;
    'stabilize.check': CheckOutput;
    'watch.daily': CheckOutput;
  }
}

/**
 * The recurring checks after the switch (`hypercare.check`, `stabilize.check`, `watch.daily`), with
 * the cutover checklist's escalation criteria and the plan's thresholds:
 * - error rate of the new system's health endpoint above `thresholds.errorRate`;
 * - p95 above `thresholds.degradedLatencyMultiple` × the T-24h baseline p95;
 * - target database unreachable;
 * - a smoke probe (database health, auth endpoint) failing;
 * - an active sensor silent for longer than `thresholds.readingsGap`;
 * - (stabilize, daily) WAL archiving failing;
 * - (daily) the decision tree's verdict on the run's evidence is rollback.
 * A breach is returned as `attention`, so the machine stops for a person (who signs off to go on or
 * starts the rollback) instead of only logging it. Every run notes its measurement in the journal,
 * which is what the first-day summary aggregates.
 */

/** One check's measurement: the new system's health endpoint (ServiceReading) and the rest. */
export interface CheckOutput extends ServiceReading {
  checkedAt: string;
  baselineP95Ms: number | null;
  /** p95 / baseline p95; null when either is missing. */
  p95Multiple: number | null;
  smoke: SmokeReading[];
  database: TargetReading['database'];
  ingestion: TargetReading['ingestion'];
  facts?: TargetReading['facts'];
  /** watch.daily: the decision tree on the run's evidence including this measurement. */
  decision?: Decision;
  /** hypercare.check / stabilize.check: the reconciliation run with this check, when one was due. */
  reconciliation?: ReconcileResult;
  /** Each breached criterion in words; empty when clean. */
  breaches: string[];
}

/** The measurement as noted in the journal, for aggregation. */
export interface CheckNote {
  checkedAt: string;
  requests: number;
  failures: number;
  errorRate: number;
  p95Ms: number | null;
  baselineP95Ms: number | null;
  breaches: string[];
}

interface CheckOptions {
  /** Read database size and WAL archiving facts. */
  facts: boolean;
  /** Re-evaluate the rollback criteria with the decision tree. */
  decide: boolean;
  /** Reconcile source and target when one is due (reconcile/schedule.ts): hypercare and stabilization. */
  reconcile?: boolean;
}

/**
 * Strictly above, with floats within a part in a billion of the line counting as on it (as the
 * decision tree does): exactly at a threshold is not a breach.
 */
function isAbove(value: number, limit: number): boolean {
  return value > limit && value - limit > 1e-9 * Math.max(1, Math.abs(limit));
}

export const percent = (share: number) => `${Number((share * 100).toFixed(2))} %`;


/** The freeze time recorded by `freeze.snapshot` (`at`, or `time` as first specified), if any. */
export function freezeTimeOf(outputs: StepContext['outputs']): number | undefined {
  const time = stepOutput(outputs, 'freeze.snapshot')?.at;
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function groupText(group: Record<string, string | null>): string {
  const entries = Object.entries(group);
  return entries.length === 0 ? 'the table' : entries.map(([column, value]) => `${column}=${value ?? 'NULL'}`).join(' ');
}

/** The breached criteria, in words, with the evidence in each. */
export function judgeCheck(output: Omit<CheckOutput, 'breaches'>, thresholds: Plan['thresholds']): string[] {
  const breaches: string[] = [];
  if (isAbove(output.errorRate, thresholds.errorRate)) {
    const why = output.problems.length > 0 ? ` (${output.problems.slice(0, 3).join('; ')})` : '';
    breaches.push(
      `error rate ${percent(output.errorRate)} of ${output.requests} requests to ${output.url} is above the ${percent(thresholds.errorRate)} threshold${why}`,
    );
  }
  if (output.p95Multiple !== null && isAbove(output.p95Multiple, thresholds.degradedLatencyMultiple)) {
    breaches.push(
      `p95 ${output.p95Ms} ms is ${Number(output.p95Multiple.toFixed(2))}× the baseline ${output.baselineP95Ms} ms, above the ${thresholds.degradedLatencyMultiple}× threshold`,
    );
  }
  if (!output.database.reachable) breaches.push(output.database.problem);
  for (const smoke of output.smoke) if (!smoke.ok) breaches.push(`smoke probe ${smoke.url} failed: ${smoke.problem ?? 'not ok'}`);
  const ingestion = output.ingestion;
  if (ingestion.status === 'failed' && output.database.reachable) breaches.push(`readings ingestion could not be checked: ${ingestion.why}`);
  if (ingestion.status === 'checked') {
    for (const table of ingestion.tables) {
      if (table.silentCount === 0) continue;
      const named = table.silent.map((g) => `${groupText(g.group)} (last ${g.lastAt}, silent ${g.silentMinutes} min)`).join(', ');
      const more = table.silentCount > table.silent.length ? ` and ${table.silentCount - table.silent.length} more` : '';
      breaches.push(
        `readings ingestion: ${table.silentCount} of ${table.activeGroups} active ${table.activeGroups === 1 ? 'group' : 'groups'} in ${table.table} sent nothing for more than ${thresholds.readingsGap}: ${named}${more}`,
      );
    }
  }
  const facts = output.facts;
  if (facts && !('unknown' in facts) && facts.archiver.failing) {
    breaches.push(
      `WAL archiving on the target is failing: last failure ${facts.archiver.lastFailedAt}, last success ${facts.archiver.lastArchivedAt ?? 'never'} (backups are not being taken)`,
    );
  }
  if (output.decision?.verdict === 'rollback') breaches.push(`rollback criteria met: ${output.decision.summary}`);
  return breaches;
}

function describeFacts(facts: DatabaseFacts | { unknown: string } | undefined): string | undefined {
  if (!facts) return undefined;
  if ('unknown' in facts) return `database facts unknown (${facts.unknown})`;
  const archiving =
    facts.archiver.mode === 'off'
      ? 'WAL archiving off'
      : facts.archiver.failing
        ? `WAL archiving FAILING since ${facts.archiver.lastFailedAt}`
        : `WAL archiving ok (${facts.archiver.archivedCount} archived, last ${facts.archiver.lastArchivedAt ?? 'never'})`;
  return `target database ${formatBytes(facts.databaseBytes)}, ${archiving}`;
}

/** One line: what was measured, whether anything breached. */
export function summarizeCheck(output: CheckOutput): string {
  const parts: string[] = [];
  const latency =
    output.p95Ms === null
      ? 'no successful request'
      : output.p95Multiple === null
        ? `p95 ${output.p95Ms} ms (no baseline)`
        : `p95 ${output.p95Ms} ms (${Number(output.p95Multiple.toFixed(2))}× baseline ${output.baselineP95Ms} ms)`;
  parts.push(`error rate ${percent(output.errorRate)} of ${output.requests} requests, ${latency}`);
  parts.push(output.database.reachable ? `database up (${output.database.latencyMs} ms)` : 'database UNREACHABLE');
  if (output.smoke.length > 0) {
    const failed = output.smoke.filter((smoke) => !smoke.ok).length;
    parts.push(failed === 0 ? `${output.smoke.length} smoke probes ok` : `${failed} of ${output.smoke.length} smoke probes FAILED`);
  }
  const ingestion = output.ingestion;
  if (ingestion.status === 'checked') {
    const active = ingestion.tables.reduce((total, table) => total + table.activeGroups, 0);
    const silent = ingestion.tables.reduce((total, table) => total + table.silentCount, 0);
    parts.push(silent === 0 ? `ingestion: ${active} active groups reporting` : `ingestion: ${silent} of ${active} active groups SILENT`);
  } else if (ingestion.status !== 'failed') parts.push(`ingestion not checked (${ingestion.why})`);
  const facts = describeFacts(output.facts);
  if (facts) parts.push(facts);
  if (output.decision) parts.push(`rollback criteria: ${output.decision.verdict.toUpperCase()}`);
  const head = output.breaches.length === 0 ? 'clean' : `${output.breaches.length} ${output.breaches.length === 1 ? 'breach' : 'breaches'}`;
  return `${head}: ${parts.join('; ')}`;
}

/** The journal, read without appending (the runner that runs this step holds the lock). */
export function readJournalEntries(stateDir: string) {
  return Journal.open(stateDir).entries;
}

async function runCheck(ctx: StepContext, options: CheckOptions): Promise<StepResult> {
  const { plan } = ctx;
  const nowMs = ctx.clock.now();
  const service = await measureService(ctx);
  const smoke = await runSmokeProbes(ctx);
  const switchedMs = ctx.switchedAt ? Date.parse(ctx.switchedAt) : undefined;
  // Without a recorded freeze (skipped by a person) the switch is the best cutover point we know.
  const cutoverMs = freezeTimeOf(ctx.outputs) ?? switchedMs ?? nowMs;
  const target = await inspectTarget(
    plan,
    ctx.env,
    { cutoverMs, ...(switchedMs !== undefined ? { switchedMs } : {}), nowMs, gapMs: parseDuration(plan.thresholds.readingsGap) },
    { facts: options.facts, planDir: ctx.planDir },
  );
  const baseline = stepOutput(ctx.outputs, 'final.baseline')?.p95Ms;
  // Compared against no less than the plan's latency floor (thresholds.latencyFloorMs).
  const baselineP95Ms = typeof baseline === 'number' && Number.isFinite(baseline) && baseline > 0 ? Math.max(baseline, plan.thresholds.latencyFloorMs) : null;
  const measured: Omit<CheckOutput, 'breaches'> = {
    checkedAt: new Date(nowMs).toISOString(),
    url: service.url,
    requests: service.requests,
    failures: service.failures,
    errorRate: service.errorRate,
    p50Ms: service.p50Ms,
    p95Ms: service.p95Ms,
    problems: service.problems,
    baselineP95Ms,
    p95Multiple: service.p95Ms !== null && baselineP95Ms !== null ? service.p95Ms / baselineP95Ms : null,
    smoke,
    database: target.database,
    ingestion: target.ingestion,
    ...(target.facts ? { facts: target.facts } : {}),
  };
  // A reconciliation goes before the decision, which then judges its result too.
  let reconciled: StepResult | undefined;
  if (options.reconcile && switchedMs !== undefined && freezeTimeOf(ctx.outputs) !== undefined) {
    const stored = loadStoredReconciliations(ctx.stateDir, ctx.runId);
    const last = stored.length > 0 ? Math.max(...stored.map((run) => Date.parse(run.checkedAt))) : undefined;
    if (reconciliationDue(switchedMs, nowMs, parseDuration(plan.cadences.reconcile), last)) {
      const result = await reconcileFromContext(ctx);
      // Kept where `cutover reconcile` keeps its runs: the decision and the report read them from there.
      await storeReconciliation(ctx.stateDir, ctx.runId, result);
      measured.reconciliation = result;
      reconciled = reconcileStepResult(result);
    }
  }
  if (options.decide) {
    const inputs = buildDecisionInputs(
      { ...ctx.outputs, [ctx.stepId]: { ...measured, breaches: [] } },
      readJournalEntries(ctx.stateDir),
      plan,
      { reconciliations: loadStoredReconciliations(ctx.stateDir, ctx.runId) },
    );
    measured.decision = evaluateDecision(inputs, plan.thresholds);
  }
  const breaches = judgeCheck(measured, plan.thresholds);
  if (reconciled?.attention) breaches.push(reconciled.attention.reason);
  const output: CheckOutput = { ...measured, breaches };
  const note: CheckNote = {
    checkedAt: output.checkedAt,
    requests: output.requests,
    failures: output.failures,
    errorRate: output.errorRate,
    p95Ms: output.p95Ms,
    baselineP95Ms: output.baselineP95Ms,
    breaches: output.breaches,
  };
  const summary = summarizeCheck(output) + (reconciled ? `; ${reconciled.summary}` : '');
  ctx.note(summary, { check: note });
  if (output.breaches.length === 0) return { summary, output };
  const evidence = output.decision ? { ...output, decisionText: renderDecision(output.decision) } : output;
  return { summary, output, attention: { reason: output.breaches.join('; '), evidence } };
}

function checkStep(options: CheckOptions): StepAction {
  return {
    run: (ctx) => runCheck(ctx, options),
    dryRun(ctx) {
      const { plan } = ctx;
      const t = plan.thresholds;
      const lines = [
        'Would measure the new system and the target database (no writes):',
        ...describeServiceProbes(plan).map((line) => `  ${line}`),
        `  connect to the target (${plan.target.urlEnv}) within 10 s`,
        ...ingestionTables(plan).map(
          (table) =>
            `  ${table.name}: latest ${table.timestampColumn} per ${table.reconcile?.groupBy.join(' × ') || 'table'} among groups active since the freeze`,
        ),
        ...(options.facts ? ['  target database size and WAL archiving status (pg_database_size, pg_stat_archiver)'] : []),
        ...(options.decide ? ['  the decision tree on the run\'s evidence (latest reconciliation, this measurement, assertions)'] : []),
        ...(options.reconcile
          ? [`  a reconciliation of source and target with the first check after the switch, then at the first check after every ${plan.cadences.reconcile} mark counted from the switch`]
          : []),
        `Breach (stops for a sign-off): error rate above ${percent(t.errorRate)}, p95 above ${t.degradedLatencyMultiple}× baseline, ` +
          `database unreachable, a smoke probe failing, an active sensor silent over ${t.readingsGap}` +
          `${options.facts ? ', WAL archiving failing' : ''}${options.decide ? ', verdict rollback' : ''}.`,
      ];
      return lines.join('\n');
    },
  };
}

export const hypercareCheck = checkStep({ facts: false, decide: false, reconcile: true });
export const stabilizeCheck = checkStep({ facts: true, decide: false, reconcile: true });
export const dailyCheck = checkStep({ facts: true, decide: true });
