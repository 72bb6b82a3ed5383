import { describe, expect, it } from 'vitest';
import {
  decisionTree,
  describeDecisionTree,
  evaluateDecision,
  renderDecision,
  type DecisionInputs,
  type NodeId,
} from '../../machines/decision-tree.js';
import { examplePlan } from '../../src/config/example.js';
import { planSchema } from '../../src/config/schema.js';

// The plan's own thresholds (10 % errors, 2× p95, 5 % and 1.5× for the milder questions).
const thresholds = planSchema.parse(examplePlan).thresholds;

const allClear: DecisionInputs = {
  dataLoss: { missingRows: 0, checkedAt: '2026-12-06T04:00:00Z' },
  errors: { rate: 0.01, requests: 10_000 },
  latency: { p95Ms: 120, baselineP95Ms: 100 },
  asserted: {},
};

const ana = { by: 'Ana Ruiz', at: '2026-12-06T03:10:00Z', note: 'seen in the audit log' };

function decide(change: Partial<DecisionInputs>, custom = thresholds) {
  return evaluateDecision({ ...allClear, ...change }, custom);
}

function stepAt(decision: ReturnType<typeof decide>, node: NodeId) {
  const step = decision.path.find((s) => s.node === node);
  if (!step) throw new Error(`${node} was not asked; path: ${decision.path.map((s) => s.node).join(' → ')}`);
  return step;
}

describe('decision tree: evidence only', () => {
  it('continues when every question is answered no, and asks every question once', () => {
    const decision = decide({});
    expect(decision.verdict).toBe('continue');
    expect(decision.path.map((s) => [s.node, s.answer])).toEqual([
      ['security-breach', 'no'],
      ['data-loss', 'no'],
      ['database-corruption', 'no'],
      ['auth-broken', 'no'],
      ['user-facing-errors', 'no'],
      ['performance', 'no'],
    ]);
    expect(decision.missing).toEqual([]);
  });

  it('rolls back at once on a single missing row, without asking the later questions', () => {
    const decision = decide({
      dataLoss: { missingRows: 1, checkedAt: '2026-12-06T04:00:00Z' },
      errors: { rate: 0.5, requests: 100 },
    });
    expect(decision.verdict).toBe('rollback');
    expect(decision.path.at(-1)).toMatchObject({ node: 'data-loss', answer: 'yes' });
    expect(decision.path.at(-1)!.evidence).toBe('1 source row missing from the target (reconciliation at 2026-12-06T04:00:00Z)');
    expect(decision.summary).toContain('critical data loss');
  });

  it('exactly 10 % of requests failing is not above 10 %: fix forward, and the evidence says so', () => {
    const decision = decide({ errors: { rate: 0.1, requests: 1000 } });
    expect(decision.verdict).toBe('fix-forward');
    expect(stepAt(decision, 'error-volume')).toMatchObject({
      answer: 'no',
      evidence: '10 % of 1,000 requests failed: exactly 10 %, which is not above 10 %',
    });
  });

  it('just above 10 % rolls back', () => {
    const decision = decide({ errors: { rate: 0.1001, requests: 10_000 } });
    expect(decision.verdict).toBe('rollback');
    expect(stepAt(decision, 'error-volume')).toMatchObject({ answer: 'yes', evidence: '10.01 % of 10,000 requests failed: above 10 %' });
  });

  it('a rate computed as 3/30 is exactly 10 %, not above', () => {
    expect(decide({ errors: { rate: 3 / 30, requests: 30 } }).verdict).toBe('fix-forward');
  });

  it('floating-point noise does not push a rate over its line (0.1 × 3 against 30 %)', () => {
    const decision = decide({ errors: { rate: 0.1 * 3, requests: 100 } }, { ...thresholds, rollbackErrorRate: 0.3 });
    expect(0.1 * 3).toBeGreaterThan(0.3);
    expect(decision.verdict).toBe('fix-forward');
    expect(stepAt(decision, 'error-volume').evidence).toContain('exactly 30 %, which is not above 30 %');
  });

  it('exactly 5 % of requests failing is not "user-facing errors"; just above is fix forward', () => {
    const atLine = decide({ errors: { rate: 0.05, requests: 1000 } });
    expect(atLine.verdict).toBe('continue');
    expect(stepAt(atLine, 'user-facing-errors').answer).toBe('no');
    const above = decide({ errors: { rate: 0.051, requests: 1000 } });
    expect(above.verdict).toBe('fix-forward');
    expect(above.summary).toMatch(/^fix forward/);
  });

  it('p95 at exactly 2× the baseline is not above 2×: scale up and monitor', () => {
    const decision = decide({ latency: { p95Ms: 200, baselineP95Ms: 100 } });
    expect(decision.verdict).toBe('scale-up-and-monitor');
    expect(stepAt(decision, 'latency-severity')).toMatchObject({
      answer: 'no',
      evidence: 'p95 200 ms is 2× the baseline 100 ms: exactly 2×, which is not above 2×',
    });
  });

  it('p95 just above 2× the baseline rolls back', () => {
    const decision = decide({ latency: { p95Ms: 200.1, baselineP95Ms: 100 } });
    expect(decision.verdict).toBe('rollback');
    expect(stepAt(decision, 'latency-severity')).toMatchObject({ answer: 'yes', evidence: 'p95 200.1 ms is 2.001× the baseline 100 ms: above 2×' });
  });

  it('p95 at exactly 1.5× is not degraded; just above is scale up and monitor', () => {
    expect(decide({ latency: { p95Ms: 150, baselineP95Ms: 100 } }).verdict).toBe('continue');
    expect(decide({ latency: { p95Ms: 151, baselineP95Ms: 100 } }).verdict).toBe('scale-up-and-monitor');
  });

  it('fix forward does not hide a severe slowdown: a few errors plus p95 at 3× roll back', () => {
    const decision = decide({ errors: { rate: 0.07, requests: 1000 }, latency: { p95Ms: 300, baselineP95Ms: 100 } });
    expect(decision.verdict).toBe('rollback');
    expect(decision.summary).toMatch(/^roll back: severe performance degradation/);
    expect(decision.summary).toContain('also fix forward');
  });

  it('a few errors and a moderate slowdown: fix forward, and the summary also says scale up', () => {
    const decision = decide({ errors: { rate: 0.07, requests: 1000 }, latency: { p95Ms: 180, baselineP95Ms: 100 } });
    expect(decision.verdict).toBe('fix-forward');
    expect(decision.summary).toContain('also scale up resources and monitor');
  });

  it('uses the plan thresholds it is given, not built-in ones', () => {
    const lenient = { ...thresholds, rollbackErrorRate: 0.2, rollbackLatencyMultiple: 3 };
    expect(decide({ errors: { rate: 0.15, requests: 1000 } }, lenient).verdict).toBe('fix-forward');
    expect(decide({ latency: { p95Ms: 250, baselineP95Ms: 100 } }, lenient).verdict).toBe('scale-up-and-monitor');
  });
});

describe('decision tree: human-only inputs', () => {
  it('a security breach asserted by a named person rolls back before anything is measured', () => {
    const decision = decide({ asserted: { securityBreach: ana } });
    expect(decision.verdict).toBe('rollback');
    expect(decision.path).toEqual([
      {
        node: 'security-breach',
        question: 'Has a named person asserted a security breach of the new system?',
        answer: 'yes',
        evidence: 'asserted by Ana Ruiz at 2026-12-06T03:10:00Z: seen in the audit log',
      },
    ]);
  });

  it('database corruption leads to the critical data loss rollback, even with zero missing rows', () => {
    const decision = decide({ asserted: { databaseCorruption: ana } });
    expect(decision.verdict).toBe('rollback');
    expect(decision.path.map((s) => s.node)).toEqual(['security-breach', 'data-loss', 'database-corruption']);
    expect(decision.summary).toMatch(/^roll back now: critical data loss — asserted by Ana Ruiz/);
  });

  it('broken sign-in leads to the high-volume user-facing errors rollback, even when measured errors are low', () => {
    const decision = decide({ asserted: { authBroken: ana } });
    expect(decision.verdict).toBe('rollback');
    expect(decision.path.at(-1)).toMatchObject({ node: 'auth-broken', answer: 'yes' });
    expect(decision.summary).toMatch(/^roll back: user-facing errors at high volume — asserted by Ana Ruiz/);
  });

  it('refuses an assertion that names nobody', () => {
    expect(() => decide({ asserted: { securityBreach: { by: ' ', at: '2026-12-06T03:10:00Z', note: 'x' } } })).toThrow(
      /must name the person/,
    );
  });
});

describe('decision tree: unknown evidence', () => {
  it('no reconciliation result is "unknown", not "no": listed as missing, and it alone never rolls back', () => {
    const decision = decide({ dataLoss: { unknown: 'target unreachable' } });
    expect(decision.verdict).toBe('continue');
    expect(stepAt(decision, 'data-loss')).toMatchObject({ answer: 'unknown' });
    expect(stepAt(decision, 'data-loss').evidence).toContain('data loss is NOT ruled out');
    expect(decision.missing).toEqual(['critical data loss: no reconciliation result (target unreachable)']);
    expect(decision.summary).toContain('evidence missing: critical data loss');
  });

  it('zero requests is an unknown error rate, not 0 %', () => {
    const decision = decide({ errors: { rate: 0, requests: 0 } });
    expect(stepAt(decision, 'user-facing-errors')).toMatchObject({ answer: 'unknown' });
    expect(decision.missing).toEqual(['user-facing errors: no error rate (no requests observed)']);
  });

  it('a zero baseline or no p95 is unknown performance', () => {
    expect(decide({ latency: { p95Ms: 90, baselineP95Ms: 0 } }).missing).toEqual([
      'performance degradation: no usable baseline (baseline p95 is 0 ms)',
    ]);
    expect(decide({ latency: { unknown: 'probe timed out' } }).missing).toEqual(['performance degradation: no p95 (probe timed out)']);
  });

  it('unknown evidence does not mask evidence that is known: unknown errors with p95 at 3× still roll back', () => {
    const decision = decide({ errors: { unknown: 'no access log' }, latency: { p95Ms: 300, baselineP95Ms: 100 } });
    expect(decision.verdict).toBe('rollback');
    expect(decision.missing).toHaveLength(1);
  });

  it('refuses impossible evidence instead of deciding on it', () => {
    expect(() => decide({ errors: { rate: 1.2, requests: 10 } })).toThrow(/between 0 and 1/);
    expect(() => decide({ dataLoss: { missingRows: -1 } })).toThrow(/whole number/);
  });
});

describe('decision tree: data and rendering', () => {
  it('every branch leads to a node that exists, and every combination of answers ends in a verdict', () => {
    const ids = Object.keys(decisionTree.nodes);
    for (const node of Object.values(decisionTree.nodes)) {
      const targets = node.kind === 'question' ? [node.yes, node.no, node.unknown?.next] : [node.then];
      for (const target of targets) if (target) expect(ids).toContain(target);
    }
    const verdicts = new Set<string>();
    for (const missingRows of [0, 1])
      for (const rate of [0.01, 0.07, 0.2])
        for (const p95Ms of [100, 180, 300])
          verdicts.add(decide({ dataLoss: { missingRows }, errors: { rate, requests: 100 }, latency: { p95Ms, baselineP95Ms: 100 } }).verdict);
    expect([...verdicts].sort()).toEqual(['continue', 'fix-forward', 'rollback', 'scale-up-and-monitor']);
  });

  it('the tree text states the edges with the plan thresholds', () => {
    const text = describeDecisionTree(thresholds);
    expect(text).toContain('High volume: do more than 10 % of requests fail? (exactly 10 % is not more)');
    expect(text).toContain('Severe: is p95 more than 2× the baseline p95? (exactly 2× is not more)');
    expect(text).toContain('no  → FIX-FORWARD');
  });

  it('renders the verdict, each question with its answer and evidence, and what is missing', () => {
    const text = renderDecision(decide({ dataLoss: { unknown: 'not run yet' }, errors: { rate: 0.1, requests: 1000 } }));
    expect(text.split('\n').slice(0, 2)).toEqual([
      'Verdict: FIX-FORWARD',
      '  fix forward: user-facing errors below the rollback line — 10 % of 1,000 requests failed: exactly 10 %, which is not above 10 %; evidence missing: critical data loss: no reconciliation result (not run yet)',
    ]);
    expect(text).toContain('   UNKNOWN — unknown: no reconciliation result (not run yet)');
    expect(text).toContain('Missing evidence (not treated as all clear):\n  - critical data loss: no reconciliation result (not run yet)');
  });
});
