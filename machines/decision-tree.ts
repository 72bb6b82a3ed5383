import type { Plan } from '../src/config/schema.js';

/**
 * The rollback decision tree (DESIGN §5), as data, with a pure evaluator.
 *
 * It follows the reference runbook's tree:
 *
 *   Critical data loss? (readings/alerts not captured)  yes → immediate rollback
 *   User-facing errors?   yes → high volume (>10 % of requests)?  yes → rollback, no → fix forward
 *   Performance degradation?  yes → severe (>2× response time)?  yes → rollback, no → scale up, monitor
 *   otherwise continue
 *
 * and places the human-only inputs where their effect belongs in it:
 * - security breach: asked first, ahead of the reference tree (which does not name it), because no
 *   measurement can outweigh it: the old system is the known-good state, so roll back.
 * - database corruption: a "critical data loss" answer given by a person instead of by
 *   reconciliation; same leaf, immediate rollback.
 * - auth broken: a "user-facing errors, high volume" answer given by a person: when nobody can sign
 *   in, every signed-in request fails, far above the 10 % line; same leaf as a high error rate.
 *
 * "Above" is strict everywhere: exactly 10 % is not above 10 %, exactly 2× is not above 2×.
 *
 * A fix-forward verdict does not end the walk: a few errors and a severe slowdown together still
 * mean rollback, so the performance questions are asked after it and the most severe verdict wins.
 * Rollback verdicts end the walk at once ("immediate").
 *
 * Unknown evidence (no reconciliation yet, no requests observed, no baseline) never triggers a
 * rollback on its own — rolling back is itself a risky change and needs evidence or a named person's
 * assertion — but it is never silently read as "no" either: the path says "unknown", the evidence
 * says what was missing and what the walk did instead, and `missing` lists it for the summary.
 *
 * No imports besides the plan's types: no adapters, no disk, no clock.
 */

export type Verdict = 'rollback' | 'fix-forward' | 'scale-up-and-monitor' | 'continue';

/** From most to least severe; the walk's verdict is the most severe one it reaches. */
export const verdictSeverity: readonly Verdict[] = ['rollback', 'fix-forward', 'scale-up-and-monitor', 'continue'];

/** A fact only a person can establish, with who said it, when, and why. */
export interface Assertion {
  /** The person asserting it (an approver's name). */
  by: string;
  /** ISO time of the assertion. */
  at: string;
  note: string;
}

export type HumanInput = 'securityBreach' | 'databaseCorruption' | 'authBroken';

/** Evidence that could not be gathered, and why (e.g. "target unreachable"). */
export interface Unknown {
  unknown: string;
}

/**
 * Everything the tree reads. Measured evidence is either present or an explicit `Unknown`: a caller
 * cannot forget a field and have it read as "all clear".
 */
export interface DecisionInputs {
  /** From the latest reconciliation: source rows (as of the cutover point) missing from the target. */
  dataLoss: { missingRows: number; checkedAt?: string } | Unknown;
  /**
   * User-facing requests over the observation window: how many, and the share that failed (0..1).
   * Zero requests is treated as unknown: a rate over nothing says nothing.
   */
  errors: { rate: number; requests: number; window?: string } | Unknown;
  /** p95 response time now and at the T-24h baseline of the old system, in milliseconds. */
  latency: { p95Ms: number; baselineP95Ms: number } | Unknown;
  /** Human-only inputs; a missing entry means nobody asserted it. */
  asserted: Partial<Record<HumanInput, Assertion>>;
}

export type DecisionThresholds = Pick<
  Plan['thresholds'],
  'errorRate' | 'rollbackErrorRate' | 'degradedLatencyMultiple' | 'rollbackLatencyMultiple'
>;

export type ThresholdKey = keyof DecisionThresholds;

/** Which piece of evidence a question reads. */
export type EvidenceKey =
  | 'asserted.securityBreach'
  | 'asserted.databaseCorruption'
  | 'asserted.authBroken'
  | 'dataLoss.missingRows'
  | 'errors.rate'
  | 'latency.p95Multiple';

export type NodeId =
  | 'security-breach'
  | 'data-loss'
  | 'database-corruption'
  | 'auth-broken'
  | 'user-facing-errors'
  | 'error-volume'
  | 'performance'
  | 'latency-severity'
  | 'rollback-security'
  | 'rollback-data-loss'
  | 'rollback-errors'
  | 'rollback-latency'
  | 'fix-forward'
  | 'scale-up'
  | 'continue';

export interface QuestionNode {
  kind: 'question';
  /** Part of the reference tree the question belongs to (for rendering). */
  section: 'security' | 'critical data loss' | 'user-facing errors' | 'performance degradation';
  /** `{threshold}` is replaced by the threshold's value. */
  question: string;
  reads: EvidenceKey;
  /**
   * "yes" when the evidence is strictly above this threshold. Without one: yes when asserted
   * (human inputs) or above zero (missing rows).
   */
  threshold?: ThresholdKey;
  yes: NodeId;
  no: NodeId;
  /** Where unknown evidence leads and what that means; questions without it cannot be unknown. */
  unknown?: { next: NodeId; means: string };
}

export interface VerdictNode {
  kind: 'verdict';
  verdict: Verdict;
  /** What to do, for the summary. */
  advice: string;
  /** Keep walking from here: a milder verdict that a later question may overrule. */
  then?: NodeId;
}

export type DecisionNode = QuestionNode | VerdictNode;

export interface DecisionTree {
  root: NodeId;
  nodes: Record<NodeId, DecisionNode>;
}

export const decisionTree: DecisionTree = {
  root: 'security-breach',
  nodes: {
    'security-breach': {
      kind: 'question',
      section: 'security',
      question: 'Has a named person asserted a security breach of the new system?',
      reads: 'asserted.securityBreach',
      yes: 'rollback-security',
      no: 'data-loss',
    },
    'data-loss': {
      kind: 'question',
      section: 'critical data loss',
      question: 'Is any source row written before the cutover point missing from the target (readings or alerts not captured)?',
      reads: 'dataLoss.missingRows',
      yes: 'rollback-data-loss',
      no: 'database-corruption',
      unknown: {
        next: 'database-corruption',
        means: 'data loss is NOT ruled out; the walk goes on as if no, run `cutover reconcile` to settle it',
      },
    },
    'database-corruption': {
      kind: 'question',
      section: 'critical data loss',
      question: 'Has a named person asserted database corruption on the target?',
      reads: 'asserted.databaseCorruption',
      yes: 'rollback-data-loss',
      no: 'auth-broken',
    },
    'auth-broken': {
      kind: 'question',
      section: 'user-facing errors',
      question: 'Has a named person asserted that sign-in is broken (every signed-in request fails)?',
      reads: 'asserted.authBroken',
      yes: 'rollback-errors',
      no: 'user-facing-errors',
    },
    'user-facing-errors': {
      kind: 'question',
      section: 'user-facing errors',
      question: 'Do more than {threshold} of user-facing requests fail? (exactly {threshold} is not more)',
      reads: 'errors.rate',
      threshold: 'errorRate',
      yes: 'error-volume',
      no: 'performance',
      unknown: {
        next: 'performance',
        means: 'user-facing errors are NOT ruled out; the walk goes on as if no',
      },
    },
    'error-volume': {
      kind: 'question',
      section: 'user-facing errors',
      question: 'High volume: do more than {threshold} of requests fail? (exactly {threshold} is not more)',
      reads: 'errors.rate',
      threshold: 'rollbackErrorRate',
      yes: 'rollback-errors',
      no: 'fix-forward',
    },
    performance: {
      kind: 'question',
      section: 'performance degradation',
      question: 'Is p95 more than {threshold} the baseline p95? (exactly {threshold} is not more)',
      reads: 'latency.p95Multiple',
      threshold: 'degradedLatencyMultiple',
      yes: 'latency-severity',
      no: 'continue',
      unknown: {
        next: 'continue',
        means: 'performance degradation is NOT ruled out; the walk goes on as if no',
      },
    },
    'latency-severity': {
      kind: 'question',
      section: 'performance degradation',
      question: 'Severe: is p95 more than {threshold} the baseline p95? (exactly {threshold} is not more)',
      reads: 'latency.p95Multiple',
      threshold: 'rollbackLatencyMultiple',
      yes: 'rollback-latency',
      no: 'scale-up',
    },
    'rollback-security': {
      kind: 'verdict',
      verdict: 'rollback',
      advice: 'roll back now: the new system is not trusted',
    },
    'rollback-data-loss': {
      kind: 'verdict',
      verdict: 'rollback',
      advice: 'roll back now: critical data loss',
    },
    'rollback-errors': {
      kind: 'verdict',
      verdict: 'rollback',
      advice: 'roll back: user-facing errors at high volume',
    },
    'rollback-latency': {
      kind: 'verdict',
      verdict: 'rollback',
      advice: 'roll back: severe performance degradation',
    },
    'fix-forward': {
      kind: 'verdict',
      verdict: 'fix-forward',
      advice: 'fix forward: user-facing errors below the rollback line',
      then: 'performance',
    },
    'scale-up': {
      kind: 'verdict',
      verdict: 'scale-up-and-monitor',
      advice: 'scale up resources and monitor: slower, but not severely',
    },
    continue: {
      kind: 'verdict',
      verdict: 'continue',
      advice: 'continue',
    },
  },
};

export interface DecisionStep {
  node: string;
  question: string;
  answer: 'yes' | 'no' | 'unknown';
  evidence: string;
}

export interface Decision {
  verdict: Verdict;
  /** Every question asked, in order, with the evidence that answered it. */
  path: DecisionStep[];
  /** One line: the verdict and why, naming any missing evidence. */
  summary: string;
  /** Evidence that was unknown, as "what: why"; empty when the decision rests on complete evidence. */
  missing: string[];
}

/**
 * Values within one part in a billion of a threshold count as equal to it, so floating-point noise
 * (0.1 * 3 = 0.30000000000000004) cannot turn "exactly at the threshold" into "above".
 */
function isAbove(value: number, limit: number): boolean {
  return value > limit && value - limit > 1e-9 * Math.max(1, Math.abs(limit));
}

type Measurement = { value: number; text: string } | { unknown: string };

function isUnknown(evidence: object): evidence is Unknown {
  return 'unknown' in evidence;
}

/** Read one piece of evidence as a number (assertions as 1 / 0), with the words that show it. */
function measure(key: EvidenceKey, inputs: DecisionInputs): Measurement {
  switch (key) {
    case 'asserted.securityBreach':
    case 'asserted.databaseCorruption':
    case 'asserted.authBroken': {
      const assertion = inputs.asserted[key.slice('asserted.'.length) as HumanInput];
      if (!assertion) return { value: 0, text: 'nobody asserted it' };
      return { value: 1, text: `asserted by ${assertion.by} at ${assertion.at}: ${assertion.note}` };
    }
    case 'dataLoss.missingRows': {
      const evidence = inputs.dataLoss;
      if (isUnknown(evidence)) return { unknown: `no reconciliation result (${evidence.unknown})` };
      const when = evidence.checkedAt ? ` (reconciliation at ${evidence.checkedAt})` : '';
      return {
        value: evidence.missingRows,
        text: `${formatCount(evidence.missingRows)} source ${evidence.missingRows === 1 ? 'row' : 'rows'} missing from the target${when}`,
      };
    }
    case 'errors.rate': {
      const evidence = inputs.errors;
      if (isUnknown(evidence)) return { unknown: `no error rate (${evidence.unknown})` };
      if (evidence.requests === 0) return { unknown: 'no error rate (no requests observed)' };
      const window = evidence.window ? ` over ${evidence.window}` : '';
      return {
        value: evidence.rate,
        text: `${formatPercent(evidence.rate)} of ${formatCount(evidence.requests)} requests failed${window}`,
      };
    }
    case 'latency.p95Multiple': {
      const evidence = inputs.latency;
      if (isUnknown(evidence)) return { unknown: `no p95 (${evidence.unknown})` };
      if (evidence.baselineP95Ms === 0) return { unknown: 'no usable baseline (baseline p95 is 0 ms)' };
      const multiple = evidence.p95Ms / evidence.baselineP95Ms;
      return {
        value: multiple,
        text: `p95 ${formatNumber(evidence.p95Ms)} ms is ${formatNumber(multiple)}× the baseline ${formatNumber(evidence.baselineP95Ms)} ms`,
      };
    }
  }
}

/** Refuse evidence that cannot be right, rather than deciding a rollback on it. */
function validateInputs(inputs: DecisionInputs): void {
  for (const [input, assertion] of Object.entries(inputs.asserted)) {
    if (!assertion) continue;
    if (!assertion.by?.trim()) throw new RangeError(`The ${input} assertion must name the person making it (by).`);
    if (!assertion.at?.trim()) throw new RangeError(`The ${input} assertion must say when it was made (at).`);
  }
  if (!isUnknown(inputs.dataLoss)) {
    const { missingRows } = inputs.dataLoss;
    if (!Number.isInteger(missingRows) || missingRows < 0) {
      throw new RangeError(`Missing rows must be a whole number ≥ 0, got ${missingRows}.`);
    }
  }
  if (!isUnknown(inputs.errors)) {
    const { rate, requests } = inputs.errors;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`The error rate must be a share between 0 and 1, got ${rate}.`);
    if (!Number.isInteger(requests) || requests < 0) {
      throw new RangeError(`The request count must be a whole number ≥ 0, got ${requests}.`);
    }
  }
  if (!isUnknown(inputs.latency)) {
    const { p95Ms, baselineP95Ms } = inputs.latency;
    if (!(p95Ms >= 0) || !Number.isFinite(p95Ms)) throw new RangeError(`p95 must be a time ≥ 0 ms, got ${p95Ms}.`);
    if (!(baselineP95Ms >= 0) || !Number.isFinite(baselineP95Ms)) {
      throw new RangeError(`The baseline p95 must be a time ≥ 0 ms, got ${baselineP95Ms}.`);
    }
  }
}

function thresholdText(key: ThresholdKey, thresholds: DecisionThresholds): string {
  const value = thresholds[key];
  return key === 'errorRate' || key === 'rollbackErrorRate' ? formatPercent(value) : `${formatNumber(value)}×`;
}

/** The question's text with its threshold filled in. */
export function questionText(node: QuestionNode, thresholds: DecisionThresholds): string {
  return node.threshold ? node.question.replaceAll('{threshold}', thresholdText(node.threshold, thresholds)) : node.question;
}

/** Answer one question from the evidence. */
function answer(
  node: QuestionNode,
  inputs: DecisionInputs,
  thresholds: DecisionThresholds,
): { answer: DecisionStep['answer']; evidence: string; next: NodeId; missing?: string } {
  const measured = measure(node.reads, inputs);
  if ('unknown' in measured) {
    if (!node.unknown) throw new Error(`Bug: question ${node.reads} cannot be unknown`);
    return {
      answer: 'unknown',
      evidence: `unknown: ${measured.unknown}; ${node.unknown.means}`,
      next: node.unknown.next,
      missing: `${node.section}: ${measured.unknown}`,
    };
  }
  if (!node.threshold) {
    const yes = measured.value > 0;
    return { answer: yes ? 'yes' : 'no', evidence: measured.text, next: yes ? node.yes : node.no };
  }
  const limit = thresholds[node.threshold];
  const shown = thresholdText(node.threshold, thresholds);
  const yes = isAbove(measured.value, limit);
  const relation = yes
    ? `above ${shown}`
    : isAbove(limit, measured.value)
      ? `not above ${shown}`
      : `exactly ${shown}, which is not above ${shown}`;
  return { answer: yes ? 'yes' : 'no', evidence: `${measured.text}: ${relation}`, next: yes ? node.yes : node.no };
}

/** Walk the tree over the evidence: the verdict, every question with its evidence, and a summary. */
export function evaluateDecision(
  inputs: DecisionInputs,
  thresholds: DecisionThresholds,
  tree: DecisionTree = decisionTree,
): Decision {
  validateInputs(inputs);
  const path: DecisionStep[] = [];
  // Each verdict reached, with the question whose answer led to it (its evidence explains it).
  const reached: { node: VerdictNode; via: DecisionStep | undefined }[] = [];
  const missing: string[] = [];
  const visited = new Set<NodeId>();
  let id: NodeId | undefined = tree.root;
  while (id !== undefined) {
    if (visited.has(id)) throw new Error(`Bug: the decision tree loops at ${id}`);
    visited.add(id);
    const node: DecisionNode = tree.nodes[id];
    if (node.kind === 'verdict') {
      reached.push({ node, via: path.at(-1) });
      id = node.then;
      continue;
    }
    const step = answer(node, inputs, thresholds);
    path.push({ node: id, question: questionText(node, thresholds), answer: step.answer, evidence: step.evidence });
    if (step.missing) missing.push(step.missing);
    id = step.next;
  }
  const rank = (verdict: Verdict) => verdictSeverity.indexOf(verdict);
  const final = reached.reduce((worst, item) => (rank(item.node.verdict) < rank(worst.node.verdict) ? item : worst));
  const explain = (item: (typeof reached)[number]) => (item.via ? `${item.node.advice} — ${item.via.evidence}` : item.node.advice);
  const others = reached.filter((item) => item !== final && item.node.verdict !== 'continue');
  let summary = explain(final);
  if (others.length > 0) summary += `; also ${others.map(explain).join('; ')}`;
  if (missing.length > 0) summary += `; evidence missing: ${missing.join('; ')}`;
  return { verdict: final.node.verdict, path, summary, missing };
}

/** The decision as lines of text: verdict, then each question with its answer and evidence. */
export function renderDecision(decision: Decision): string {
  const lines = [`Verdict: ${decision.verdict.toUpperCase()}`, `  ${decision.summary}`, ''];
  decision.path.forEach((step, index) => {
    lines.push(`${index + 1}. ${step.question}`);
    lines.push(`   ${step.answer.toUpperCase()} — ${step.evidence}`);
  });
  if (decision.missing.length > 0) {
    lines.push('', 'Missing evidence (not treated as all clear):');
    for (const item of decision.missing) lines.push(`  - ${item}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The tree itself with the plan's thresholds, one numbered question per line and where each answer
 * leads, for `cutover decide --explain` and the checklist. Listed flat because branches share
 * subtrees (every path ends in the performance questions).
 */
export function describeDecisionTree(thresholds: DecisionThresholds, tree: DecisionTree = decisionTree): string {
  const order: NodeId[] = [];
  const queue: NodeId[] = [tree.root];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (order.includes(id)) continue;
    order.push(id);
    const node = tree.nodes[id];
    if (node.kind === 'question') queue.push(node.yes, node.no, ...(node.unknown ? [node.unknown.next] : []));
    else if (node.then) queue.push(node.then);
  }
  const questions = order.filter((id) => tree.nodes[id].kind === 'question');
  const target = (id: NodeId): string => {
    const node = tree.nodes[id];
    if (node.kind === 'question') return `question ${questions.indexOf(id) + 1}`;
    return `${node.verdict.toUpperCase()} (${node.advice})${node.then ? `, then question ${questions.indexOf(node.then) + 1}` : ''}`;
  };
  const lines: string[] = [];
  questions.forEach((id, index) => {
    const node = tree.nodes[id] as QuestionNode;
    lines.push(`${index + 1}. [${node.section}] ${questionText(node, thresholds)}`);
    lines.push(`   yes → ${target(node.yes)}`);
    lines.push(`   no  → ${target(node.no)}`);
    if (node.unknown) lines.push(`   unknown → ${target(node.unknown.next)}: ${node.unknown.means}`);
  });
  lines.push('The most severe verdict reached wins; a rollback ends the walk at once.');
  return `${lines.join('\n')}\n`;
}

function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * Ten significant digits, trailing zeros dropped: 0.100001 shows as 10.0001 %, so a value just above
 * a line never reads as on it, while float noise (56.99999999999999) still shows as 57.
 */
function formatNumber(value: number): string {
  return String(Number(value.toPrecision(10)));
}

function formatPercent(share: number): string {
  return `${formatNumber(share * 100)} %`;
}
