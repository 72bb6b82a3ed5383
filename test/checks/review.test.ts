import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Journal, type JournalEntry } from '../../src/engine/journal.js';
import { peopleTime } from '../../src/engine/time-format.js';
import { buildDecisionInputs, checkSteps, storeReconciliation, type DecisionOutput, type FirstDaySummary } from '../../src/steps/checks/index.js';
import type { ReconcileResult } from '../../src/steps/reconcile/index.js';
import { makeContext, tempDir } from '../external/helpers/context.js';
import { usePostgres } from '../support/postgres.js';
import { createPair, fixtureTables, FREEZE, ingestAfterSwitch, MINUTE, NOW, SWITCH, type Pair } from '../reconcile/fixture.js';

const plan = planSchema.parse({ ...examplePlan, tables: fixtureTables });
const entry = (seq: number, at: string, type: string, fields: Record<string, unknown> = {}): JournalEntry => ({ seq, at, type, ...fields });
const reconciliation = (checkedAt: string, missingRows: number, problems = 0) => ({ checkedAt, clean: missingRows + problems === 0, totals: { missingRows, problems } });
const check = (checkedAt: string, errorRate: number, p95Ms: number | null) => ({ checkedAt, url: 'https://new/health', requests: 50, failures: errorRate * 50, errorRate, p95Ms });

describe('buildDecisionInputs', () => {
  it('says what is missing instead of reading silence as all clear', () => {
    expect(buildDecisionInputs({}, [], plan)).toEqual({
      dataLoss: { unknown: 'no reconciliation has run yet' },
      errors: { unknown: 'no check after the switch has measured the new system yet' },
      latency: { unknown: 'no p95 measured after the switch; no baseline (final.baseline has not recorded p95Ms)' },
      asserted: {},
    });
  });

  it('takes the latest reconciliation wherever it was recorded: step output, journal, or stored run', () => {
    const outputs = { 'watch.reconcile': reconciliation('2026-12-07T00:00:00.000Z', 0) };
    const journal = [entry(1, '2026-12-07T06:00:05.000Z', 'reconcile.summary', reconciliation('2026-12-07T06:00:00.000Z', 3))];
    expect(buildDecisionInputs(outputs, journal, plan).dataLoss).toEqual({ missingRows: 3, checkedAt: '2026-12-07T06:00:00.000Z' });
    const stored = [reconciliation('2026-12-07T12:00:00.000Z', 0)];
    expect(buildDecisionInputs(outputs, journal, plan, { reconciliations: stored }).dataLoss).toEqual({ missingRows: 0, checkedAt: '2026-12-07T12:00:00.000Z' });
  });

  it('does not rule data loss out when a table could not be compared, unless rows were found missing anyway', () => {
    const unknown = buildDecisionInputs({ 'watch.reconcile': reconciliation('2026-12-07T00:00:00.000Z', 0, 1) }, [], plan).dataLoss;
    expect(unknown).toEqual({ unknown: 'the latest reconciliation (watch.reconcile, 2026-12-07T00:00:00.000Z) could not compare 1 table' });
    const found = buildDecisionInputs({ 'watch.reconcile': reconciliation('2026-12-07T00:00:00.000Z', 2, 1) }, [], plan).dataLoss;
    expect(found).toEqual({ missingRows: 2, checkedAt: '2026-12-07T00:00:00.000Z' });
  });

  it('reads error rate and p95 from the latest check by the time it measured, against the baseline', () => {
    const outputs = {
      'hypercare.check': check('2026-12-06T01:45:00.000Z', 0.2, 900),
      'stabilize.check': check('2026-12-06T22:00:00.000Z', 0.02, 150),
      'final.baseline': { p50Ms: 40, p95Ms: 100, errorRate: 0, requests: 50 },
    };
    const inputs = buildDecisionInputs(outputs, [], plan);
    expect(inputs.errors).toEqual({ rate: 0.02, requests: 50, window: 'stabilize.check at 2026-12-06T22:00:00.000Z (requests to https://new/health)' });
    expect(inputs.latency).toEqual({ p95Ms: 150, baselineP95Ms: 100 });
    const allFailed = buildDecisionInputs({ ...outputs, 'watch.daily': check('2026-12-07T22:00:00.000Z', 1, null) }, [], plan);
    expect(allFailed.latency).toEqual({ unknown: 'no request of watch.daily at 2026-12-07T22:00:00.000Z succeeded, so it has no p95' });
  });

  it('counts an assertion until it is withdrawn; the latest word per input wins', () => {
    const journal = [
      entry(1, '2026-12-06T10:00:00.000Z', 'decision.asserted', { input: 'securityBreach', by: 'Ana Ruiz', note: 'keys in a public gist' }),
      entry(2, '2026-12-06T10:05:00.000Z', 'decision.asserted', { input: 'authBroken', by: 'Ben Okafor', note: 'nobody can sign in' }),
      entry(3, '2026-12-06T11:00:00.000Z', 'decision.withdrawn', { input: 'securityBreach', by: 'Ben Okafor', note: 'rotated; not a breach' }),
    ];
    expect(buildDecisionInputs({}, journal, plan).asserted).toEqual({
      authBroken: { by: 'Ben Okafor', at: '2026-12-06T10:05:00.000Z', note: 'nobody can sign in' },
    });
  });
});

describe('first-day review on a real journal and real databases', () => {
  const server = usePostgres();
  let pair: Pair;
  let dir: { path: string; remove: () => Promise<void> };
  const reviewAt = Date.parse(SWITCH) + 24 * 60 * MINUTE;

  beforeEach(async () => {
    pair = await createPair(server());
    await ingestAfterSwitch(pair.target, [1, 2, 3, 4, 5]);
    dir = await tempDir('review');
  });
  afterEach(async () => {
    await pair.close();
    await dir.remove();
  });

  /** Hypercare runs as the runner journals them: the check's note, then step.finished. */
  function journalChecks(runs: { at: number; errorRate: number; p95Ms: number; breach?: string }[]) {
    const journal = Journal.open(dir.path);
    for (const [index, run] of runs.entries()) {
      const key = { stepId: 'hypercare.check', attempt: index + 1, occurrence: index + 1 };
      const at = new Date(run.at).toISOString();
      journal.append(run.at, 'step.note', { ...key, message: 'measured', check: { checkedAt: at, requests: 50, failures: run.errorRate * 50, errorRate: run.errorRate, p95Ms: run.p95Ms, baselineP95Ms: 100, breaches: run.breach ? [run.breach] : [] } });
      journal.append(run.at, 'step.finished', { ...key, durationMs: 900, summary: 'measured', ...(run.breach ? { attention: run.breach } : {}) });
    }
  }

  function context(stepId: string, outputs: Record<string, unknown>, at = reviewAt) {
    const ctx = makeContext({
      plan,
      planDir: dir.path,
      stateDir: dir.path,
      stepId,
      clock: new ManualClock(at),
      outputs: { 'freeze.snapshot': { at: FREEZE }, 'final.baseline': { p50Ms: 50, p95Ms: 100, errorRate: 0, requests: 50 }, ...outputs },
      env: { [plan.source.urlEnv]: pair.sourceUrl, [plan.target.urlEnv]: pair.targetUrl },
    });
    return Object.assign(ctx, { switchedAt: SWITCH });
  }

  const lastCheck = { 'hypercare.check': check(new Date(Date.parse(SWITCH) + 105 * MINUTE).toISOString(), 0, 110) };

  it('summarizes the day, reconciles when no recent run exists, and the decision continues on clean evidence', async () => {
    journalChecks([
      { at: Date.parse(SWITCH) + 15 * MINUTE, errorRate: 0.08, p95Ms: 240, breach: 'error rate 8 % of 50 requests is above the 5 % threshold' },
      { at: Date.parse(SWITCH) + 30 * MINUTE, errorRate: 0, p95Ms: 120 },
    ]);
    // Ingestion stopped at NOW in the fixture; review at NOW so the fresh reconciliation finds no gap.
    const summaryResult = await checkSteps['review.summary']!.run(context('review.summary', lastCheck, NOW.getTime()));
    const summary = summaryResult.output as FirstDaySummary;
    expect(summary.checks).toEqual([{ stepId: 'hypercare.check', runs: 2, breaches: 1, failed: 0, skipped: 0 }]);
    expect(summary.errorRate).toMatchObject({ requests: 100, failures: 4, overall: 0.04, worst: { value: 0.08 } });
    expect(summary.p95).toMatchObject({ baselineMs: 100, worst: { value: 240 }, latest: { value: 110 } });
    expect(summary.reconciliation?.clean).toBe(true);
    expect(summary.report).toContain('- `hypercare.check`: 2 runs, 1 with a breach, 0 failed, 0 skipped');
    expect(summaryResult.summary).toBe(
      `First day: 2 checks, 1 breach; error rate 4 % over 100 requests; p95 110 ms vs baseline 100 ms; reconciliation ${peopleTime(NOW.getTime(), plan.t0.zone)} (review.summary): clean`,
    );
    // Issue 14: every time in the first-day report in the plan's zone with its offset, none in UTC.
    expect(summary.report).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    expect(summary.report).toContain(`until ${peopleTime(NOW.getTime(), plan.t0.zone)}.`);

    const decision = await checkSteps['review.decision']!.run(context('review.decision', { ...lastCheck, 'review.summary': summary }, NOW.getTime()));
    const output = decision.output as DecisionOutput;
    expect(output.verdict).toBe('continue');
    expect(output.missing).toEqual([]);
    expect(output.path.map((step) => `${step.node}:${step.answer}`)).toEqual([
      'security-breach:no', 'data-loss:no', 'database-corruption:no', 'auth-broken:no', 'user-facing-errors:no', 'performance:no',
    ]);
    expect(decision.summary).toBe('CONTINUE: continue — p95 110 ms is 1.1× the baseline 100 ms: not above 1.5×');
  });

  it('decides rollback when a migrated reading is missing from the target, naming the evidence', async () => {
    await pair.target.query('delete from public.readings where id = 200007');
    const summary = (await checkSteps['review.summary']!.run(context('review.summary', lastCheck, NOW.getTime()))).output as FirstDaySummary;
    expect(summary.reconciliation?.totals.missingRows).toBe(1);
    expect(summary.reconciliation?.tables[0]?.keys).toEqual([expect.objectContaining({ kind: 'missing', key: { id: '200007' } })]);

    const decision = await checkSteps['review.decision']!.run(context('review.decision', { ...lastCheck, 'review.summary': summary }, NOW.getTime()));
    const output = decision.output as DecisionOutput;
    expect(output.verdict).toBe('rollback');
    expect(output.path.at(-1)).toEqual({
      node: 'data-loss',
      question: expect.any(String),
      answer: 'yes',
      evidence: `1 source row missing from the target (reconciliation at ${peopleTime(NOW.getTime(), plan.t0.zone)})`,
    });
    // The machine uses this summary as the rollback's reason when the approvers sign.
    expect(decision.summary).toBe(`ROLLBACK: roll back now: critical data loss — 1 source row missing from the target (reconciliation at ${peopleTime(NOW.getTime(), plan.t0.zone)})`);
    expect(output.text).toContain('Verdict: ROLLBACK');
  });

  it('uses a recent stored reconciliation instead of running one, and counts assertions from the journal', async () => {
    const recent = { checkedAt: new Date(reviewAt - 60 * MINUTE).toISOString(), clean: true, totals: { missingRows: 0, problems: 0 } } as ReconcileResult;
    await storeReconciliation(dir.path, 'run-1', recent);
    Journal.open(dir.path).append(reviewAt - 10 * MINUTE, 'decision.asserted', { input: 'databaseCorruption', by: 'Ana Ruiz', note: 'index corruption on readings' });
    const summary = (await checkSteps['review.summary']!.run(context('review.summary', lastCheck))).output as FirstDaySummary;
    expect(summary.reconciliation).toBeUndefined();
    expect(summary.reconciliations.map((r) => r.source)).toEqual(['cutover reconcile (stored run)']);
    const output = (await checkSteps['review.decision']!.run(context('review.decision', { ...lastCheck, 'review.summary': summary }))).output as DecisionOutput;
    expect(output.verdict).toBe('rollback');
    expect(output.path.at(-1)).toMatchObject({ node: 'database-corruption', answer: 'yes', evidence: expect.stringContaining('asserted by Ana Ruiz') });
  });
});
