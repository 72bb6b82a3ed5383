/**
 * The cutover timeline as data (DESIGN §1). The machine, `cutover plan`, the terminal UI and
 * CUTOVER_CHECKLIST.md are all derived from this one definition. Step ids are part of the CLI
 * contract (`cutover signoff window.go ...`): renaming one is a breaking change.
 *
 * Pure: no adapters, no disk.
 */

/**
 * - action: scripted, idempotent, retried with backoff.
 * - email: an action that sends a notice (idempotency keys per batch).
 * - signoff: named approvers, optional quorum, a note; rejection is recorded.
 * - confirm: a typed phrase (e.g. the zone name) before a dangerous action, then the action.
 * - recurring: an action run every cadence until the phase ends.
 * - decision: the decision tree's verdict, then a human sign-off of it.
 */
export type StepKind = 'action' | 'email' | 'signoff' | 'confirm' | 'recurring' | 'decision';

/** Where a time is measured from: the planned T0, or the actual switch time (windows slip). */
export type Anchor = 't0' | 'switch';

export type Cadence = 'hypercare' | 'stabilize' | 'reconcile' | 'daily';

export interface StepDef {
  readonly id: string;
  title: string;
  kind: StepKind;
  /** What the step is for, in one or two sentences (UI, plan, checklist). */
  description: string;
  /** Planned start inside its phase, as an offset from the phase's anchor (e.g. '+15m'). */
  planned?: string;
  /** Recurring steps: which of the plan's cadences they run at. */
  every?: Cadence;
  /** What the operator types to confirm: the DNS zone name, or the rollback phrase. */
  phrase?: 'zone' | 'rollback';
  /**
   * The step's effect cannot be made idempotent: it records "started" before acting and, if found
   * started but unfinished on resume, asks the operator instead of guessing.
   */
  notIdempotent?: boolean;
  /** Template id of the notice an email step sends. */
  template?: string;

  // What is special about a step is declared here, once; the machine, the view and the UI read these
  // properties and never compare step ids.

  /** Entering this step is the point of no return: from here a rollback is possible, an abort no longer. */
  marksFreeze?: true;
  /** This step is the switch: when it finishes (or is skipped) the times after the switch count from then. */
  marksSwitch?: true;
  /** A rejection of this sign-off is a no-go: the run goes to the abort branch. */
  rejectionAborts?: true;
  /** An approved decision follows the decision tree's verdict: `rollback` enters the rollback branch. */
  routesOnVerdict?: true;
  /** A rejected decision calls the branch off: the run goes back to where it was before the branch. */
  rejectionResumes?: true;
  /** What a step the plan adds does, derived from its spec: the same text as its dry run. */
  does?: string;
  /** The plan added this step (`steps` in the plan); the built-in runbook has none. */
  addedByPlan?: true;
  /** The steps that undo this step's effect, in the branches that need it (checklist, review of the branches). */
  undoneBy?: readonly string[];
}

/** A branch phase and the event that enters it (ROLLBACK from the freeze until close, ABORT before the freeze). */
export type Branch = 'rollback' | 'abort';

export interface PhaseDef {
  readonly id: string;
  title: string;
  /** When the phase opens. Branch phases open when they are entered. */
  opens?: { anchor: Anchor; offset: string };
  /** Recurring phases run their steps until this time. */
  until?: { anchor: Anchor; offset: string };
  /** A branch is entered by an event (`cutover rollback`, a no-go), not reached in order. */
  branch?: Branch;
  /** Entering this phase closes the rollback window. */
  closesRollbackWindow?: true;
  readonly steps: readonly StepDef[];
}

const definition = [
  {
    id: 'prep',
    title: 'Preparation',
    opens: { anchor: 't0', offset: '-48h' },
    steps: [
      { id: 'prep.preflight', kind: 'action', title: 'Preflight', description: 'Validate the plan and reach every system it names: both databases, DNS provider, mail provider, probes.' },
      { id: 'prep.replicate', kind: 'action', undoneBy: ['abort.restore-ttl', 'rollback.freeze-target', 'close.restore-ttl'], title: 'Start replication', description: 'Strategy replicate: a publication and a logical slot on the source, a parallel initial copy from the slot\'s snapshot, then a subscription that keeps the target current until the window. Strategy copy: nothing.' },
      { id: 'prep.lower-ttl', kind: 'action', undoneBy: ['close.restore-ttl', 'rollback.restore-ttl', 'abort.restore-ttl'], title: 'Lower DNS TTL', description: 'Lower the TTL of the records that will switch to the cutover TTL, so the switch propagates within minutes.' },
      { id: 'prep.advance-notice', kind: 'email', template: 'advance-notice', title: 'Send advance notice', description: 'Tell every user about the maintenance window 48 hours ahead, including the password reset that follows.' },
      { id: 'prep.staging-rehearsal', kind: 'signoff', title: 'Staging rehearsal passed', description: 'A full migration was rehearsed on staging and its verification passed.' },
      { id: 'prep.critical-workflows', kind: 'signoff', title: 'Critical workflows listed', description: 'The critical workflows to test after deploy are written down and owned.' },
    ],
  },
  {
    id: 'final',
    title: 'Final verification',
    opens: { anchor: 't0', offset: '-24h' },
    steps: [
      { id: 'final.health', kind: 'action', title: 'Old system health', description: 'Probe the old system: it must be healthy before we take it down.' },
      { id: 'final.export-dry-run', kind: 'action', title: 'Export dry run', description: 'Time a full export into a scratch folder and forecast the downtime.' },
      { id: 'final.target-ready', kind: 'action', title: 'Target ready', description: 'The target has the schema, extensions and free space the load needs.' },
      { id: 'final.ttl-propagated', kind: 'action', title: 'Low TTL propagated', description: 'Every configured resolver answers with the lowered TTL.' },
      { id: 'final.baseline', kind: 'action', title: 'Baseline captured', description: 'Latency (p50/p95) and error rate of the old system, the yardstick for the checks after the switch.' },
      { id: 'final.rollback-rehearsed', kind: 'signoff', title: 'Rollback rehearsed', description: 'The rollback procedure was tested on staging.' },
      { id: 'final.reminder', kind: 'email', template: 'reminder-24h', title: 'Send 24-hour reminder', description: 'Remind users of the window and how to prepare.' },
    ],
  },
  {
    id: 'window',
    title: 'Cutover window',
    opens: { anchor: 't0', offset: '0m' },
    steps: [
      { id: 'window.go', kind: 'signoff', rejectionAborts: true, planned: '+0m', title: 'Go / no-go', description: 'The approvers decide to start. A rejection is a no-go and aborts the cutover.' },
      { id: 'window.maintenance-notice', kind: 'email', template: 'maintenance-starting', planned: '+0m', title: 'Send maintenance notice', description: 'Tell users the maintenance has started and when it should end.' },
      { id: 'window.pre-verify', kind: 'action', undoneBy: ['abort.restore-ttl', 'rollback.freeze-target', 'close.restore-ttl'], planned: '+0m', title: 'Verify while replicating', description: 'Strategy replicate: compare source and target by key range while the subscription streams, and mark on the target every range written from then on, so the verify in the freeze compares only those. Strategy copy: nothing.' },
      { id: 'freeze.enable', kind: 'action', marksFreeze: true, undoneBy: ['rollback.unfreeze-source'], planned: '+0m', title: 'Freeze the source', description: 'Revoke writes on the plan\'s tables from the app roles (recording exactly what was revoked) and end their open sessions.' },
      { id: 'freeze.verify-no-writes', kind: 'action', planned: '+5m', title: 'Verify no writes', description: 'Write counters stay unchanged over a quiet window and a write as an app role is refused.' },
      { id: 'freeze.snapshot', kind: 'action', planned: '+10m', title: 'Record the cutover point', description: 'Time, WAL position and per-table row counts of the frozen source.' },
      { id: 'export.tables', kind: 'action', planned: '+15m', title: 'Export tables', description: 'Stream every table from one consistent snapshot into the export folder, with a checksummed manifest.' },
      { id: 'export.verify', kind: 'action', planned: '+40m', title: 'Verify export', description: 'Every file matches its manifest: rows, bytes, sha256.' },
      { id: 'migrate.load', kind: 'action', planned: '+45m', title: 'Load the target', description: 'Load parents before children, one transaction per table; advance identities and sequences.' },
      { id: 'migrate.verify', kind: 'action', planned: '+80m', title: 'Verify the target', description: 'Row counts and content hashes per table computed in both databases; orphan check.' },
      { id: 'deploy.smoke', kind: 'action', planned: '+90m', title: 'Smoke tests', description: 'Health, database and auth endpoints of the new system answer as expected.' },
      { id: 'deploy.auth-flows', kind: 'signoff', planned: '+100m', title: 'Auth flows tested', description: 'Login, signup and password reset work on the new system.' },
      { id: 'deploy.critical-workflows', kind: 'signoff', planned: '+110m', title: 'Critical workflows tested', description: 'View readings, acknowledge an alert, create an area.' },
      { id: 'dns.switch', kind: 'confirm', phrase: 'zone', marksSwitch: true, undoneBy: ['rollback.dns-revert'], planned: '+120m', title: 'Switch DNS', description: 'Point the records at the new system, after the operator types the zone name. The previous values are recorded for an exact revert.' },
      { id: 'dns.propagation', kind: 'action', planned: '+125m', title: 'Wait for propagation', description: 'Every configured resolver answers with the new values.' },
      { id: 'dns.external-check', kind: 'action', planned: '+130m', title: 'External check', description: 'The public names reach the new system.' },
      { id: 'validate.multi-device', kind: 'signoff', planned: '+135m', title: 'Multi-device check', description: 'Desktop, mobile and another network reach the new system.' },
      { id: 'validate.monitoring', kind: 'action', planned: '+140m', title: 'Monitoring active', description: 'Grafana, the status page and log shipping answer.' },
      // Not idempotent: each POST adds a test reading to the target. A runner killed after "started"
      // asks the operator (outcome unknown) instead of posting a second one.
      { id: 'validate.webhook', kind: 'action', planned: '+145m', title: 'Webhook reaches the new system', description: 'A TTN-style test uplink is posted and arrives in the target database.', notIdempotent: true },
      { id: 'validate.complete-notice', kind: 'email', template: 'maintenance-complete', planned: '+150m', title: 'Send completion notice', description: 'Tell users the system is back, with password reset instructions.' },
    ],
  },
  {
    id: 'hypercare',
    title: 'Hypercare',
    opens: { anchor: 'switch', offset: '0m' },
    until: { anchor: 'switch', offset: '2h' },
    steps: [
      { id: 'hypercare.check', kind: 'recurring', every: 'hypercare', title: 'Hypercare check', description: 'Error rate, p95 against the baseline, database, auth, readings ingestion (no gap over the threshold).' },
    ],
  },
  {
    id: 'stabilize',
    title: 'Stabilization',
    opens: { anchor: 'switch', offset: '2h' },
    until: { anchor: 'switch', offset: '24h' },
    steps: [
      { id: 'stabilize.check', kind: 'recurring', every: 'stabilize', title: 'Stabilization check', description: 'The hypercare checks at a slower cadence, plus backups and disk space.' },
    ],
  },
  {
    id: 'review',
    title: 'First-day review',
    opens: { anchor: 'switch', offset: '24h' },
    steps: [
      { id: 'review.summary', kind: 'action', title: 'First-day summary', description: 'Error rates, latency, ingestion and reconciliation of the first day.' },
      { id: 'review.decision', kind: 'decision', routesOnVerdict: true, title: 'Proceed or roll back', description: 'The decision tree\'s verdict on the evidence, signed off by the approvers.' },
      { id: 'review.survey', kind: 'email', template: 'survey', title: 'Send survey', description: 'Ask users how the cutover went (optional: skip it if not wanted).' },
    ],
  },
  {
    id: 'watch',
    title: 'Rollback window',
    opens: { anchor: 'switch', offset: '24h' },
    until: { anchor: 'switch', offset: '7d' },
    steps: [
      { id: 'watch.reconcile', kind: 'recurring', every: 'reconcile', title: 'Reconciliation', description: 'Grouped counts and content hashes on both sides; drift and missing rows are named.' },
      { id: 'watch.daily', kind: 'recurring', every: 'daily', title: 'Daily check', description: 'Error patterns, data consistency, backup integrity; the rollback criteria re-evaluated.' },
    ],
  },
  {
    id: 'close',
    title: 'Close',
    closesRollbackWindow: true,
    opens: { anchor: 'switch', offset: '7d' },
    steps: [
      { id: 'close.restore-ttl', kind: 'action', title: 'Restore DNS TTL', description: 'Put the records\' TTL back to normal.' },
      { id: 'close.archive', kind: 'action', title: 'Archive exports', description: 'A tarball of the exports with checksums, for the retention period.' },
      { id: 'close.signoff', kind: 'signoff', title: 'Formal sign-off', description: 'The cutover is complete; the old system may be decommissioned.' },
    ],
  },
  {
    id: 'rollback',
    title: 'Rollback',
    branch: 'rollback',
    steps: [
      { id: 'rollback.decide', kind: 'decision', phrase: 'rollback', rejectionResumes: true, title: 'Decide to roll back', description: 'The evidence, a typed confirmation and the approvers\' sign-off.' },
      { id: 'rollback.freeze-target', kind: 'action', title: 'Freeze the target', description: 'Stop writes on the new system so the delta is complete.' },
      { id: 'rollback.export-delta', kind: 'action', title: 'Export the delta', description: 'Rows written to the target after the cutover point, exported before anything else changes.' },
      { id: 'rollback.dns-revert', kind: 'action', title: 'Revert DNS', description: 'Restore exactly the records recorded before the switch.' },
      { id: 'rollback.unfreeze-source', kind: 'action', title: 'Unfreeze the source', description: 'Restore exactly the grants that were revoked.' },
      { id: 'rollback.reimport', kind: 'action', title: 'Re-import the delta', description: 'Append-only rows (readings) back into the source; other changes into a manual-review report.' },
      // The revert restores the records as they were at the switch, which is the lowered cutover TTL.
      { id: 'rollback.restore-ttl', kind: 'action', title: 'Restore DNS TTL', description: 'Put the reverted records\' TTL back to normal, as at the close and after an abort.' },
      { id: 'rollback.notice', kind: 'email', template: 'rollback-notice', title: 'Send rollback notice', description: 'Tell users the old system is back.' },
    ],
  },
  {
    id: 'abort',
    title: 'Abort',
    branch: 'abort',
    steps: [
      { id: 'abort.restore-ttl', kind: 'action', title: 'Restore DNS TTL', description: 'Put the records\' TTL back to normal; nothing else changed.' },
      { id: 'abort.notice', kind: 'email', template: 'rollback-notice', title: 'Send cancellation notice', description: 'Tell users the maintenance is called off.' },
    ],
  },
] as const satisfies readonly PhaseDef[];

/** Every step id of the runbook: the CLI contract, checked by the compiler wherever an id is written. */
export type StepId = (typeof definition)[number]['steps'][number]['id'];
export type PhaseId = (typeof definition)[number]['id'];
type RunbookStep = (typeof definition)[number]['steps'][number];
/** Steps a person does entirely (no scripted action behind them). */
export type SignoffStepId = Extract<RunbookStep, { kind: 'signoff' }>['id'];
/** Steps that need a scripted action: the step registry must have one for each of these. */
export type ActionStepId = Exclude<StepId, SignoffStepId>;

/**
 * A runbook: phases and their steps, with the lookups every reader needs. The built-in one is the
 * definition above; a plan that adds steps of its own gets the built-in one with those inserted
 * (`withInsertions`), and the machine, the view, `cutover plan` and the checklist all read that.
 */
export class Runbook {
  /** The phases reached in order (not the branches). */
  readonly mainPhases: readonly PhaseDef[];
  private readonly stepsById: ReadonlyMap<string, { step: StepDef; phase: PhaseDef }>;

  constructor(readonly phases: readonly PhaseDef[]) {
    this.mainPhases = phases.filter((phase) => !phase.branch);
    this.stepsById = new Map(phases.flatMap((phase) => phase.steps.map((step) => [step.id, { step, phase }] as const)));
  }

  findStep(id: string): { step: StepDef; phase: PhaseDef } | undefined {
    return this.stepsById.get(id);
  }

  findPhase(id: string): PhaseDef | undefined {
    return this.phases.find((phase) => phase.id === id);
  }

  /** The branch phase entered by `cutover rollback` (after the freeze) or a no-go (before it). */
  branchPhase(branch: Branch): PhaseDef {
    const phase = this.phases.find((candidate) => candidate.branch === branch);
    if (!phase) throw new RangeError(`the runbook has no ${branch} branch`);
    return phase;
  }

  allSteps(): StepDef[] {
    return this.phases.flatMap((phase) => phase.steps);
  }

  /** The one step that has a declared property (the freeze, the switch): a runbook without it is a bug. */
  stepMarked(property: 'marksFreeze' | 'marksSwitch'): StepDef {
    const step = this.allSteps().find((candidate) => candidate[property]);
    if (!step) throw new RangeError(`no step of the runbook has ${property}`);
    return step;
  }

  /** Steps that wait for named approvers (sign-off and decision steps). */
  signoffStepIds(): string[] {
    return this.allSteps()
      .filter((step) => step.kind === 'signoff' || step.kind === 'decision')
      .map((step) => step.id);
  }
}

/** A step a plan adds: the phase it goes in and the step it follows there. */
export interface StepInsertion {
  phase: string;
  after: string;
  step: StepDef;
}

/** Where an insertion cannot go: which of its fields is wrong, in words for the plan's author; undefined when it can. */
export function insertionProblem(book: Runbook, insertion: StepInsertion): { field: 'phase' | 'after' | 'id'; message: string } | undefined {
  const phase = book.findPhase(insertion.phase);
  if (!phase) return { field: 'phase', message: `there is no phase "${insertion.phase}" (phases: ${book.phases.map((candidate) => candidate.id).join(', ')})` };
  // A recurring phase runs its checks on a cadence; a one-off step has no place in that loop.
  if (phase.steps.some((step) => step.kind === 'recurring')) return { field: 'phase', message: `${phase.id} is a phase of recurring checks: add the step to another phase` };
  if (book.findStep(insertion.step.id)) return { field: 'id', message: `${insertion.step.id} is already a step of the runbook` };
  if (!phase.steps.some((step) => step.id === insertion.after)) {
    return { field: 'after', message: `there is no step "${insertion.after}" in phase ${phase.id} (its steps: ${phase.steps.map((step) => step.id).join(', ')})` };
  }
  return undefined;
}

/**
 * The runbook with steps inserted, in the order given: each goes after the step it names, and after
 * the steps inserted there before it (so two steps after the same one keep the plan's order). An
 * insertion may follow one inserted earlier. A bad insertion is a bug here: the plan loader checks
 * them first with `insertionProblem`.
 */
export function withInsertions(base: Runbook, insertions: readonly StepInsertion[]): Runbook {
  let book = base;
  const inserted = new Set<string>();
  for (const insertion of insertions) {
    const problem = insertionProblem(book, insertion);
    if (problem) throw new RangeError(`cannot insert ${insertion.step.id}: ${problem.message}`);
    const phases = book.phases.map((phase) => {
      if (phase.id !== insertion.phase) return phase;
      let at = phase.steps.findIndex((step) => step.id === insertion.after) + 1;
      while (at < phase.steps.length && inserted.has(phase.steps[at]!.id)) at++;
      return { ...phase, steps: [...phase.steps.slice(0, at), insertion.step, ...phase.steps.slice(at)] };
    });
    inserted.add(insertion.step.id);
    book = new Runbook(phases);
  }
  return book;
}

/** The built-in runbook, as every reader sees it when the plan adds no steps. */
export const builtinRunbook = new Runbook(definition);
/** The built-in phases. */
export const runbook: readonly PhaseDef[] = builtinRunbook.phases;

// The built-in runbook's lookups, for code that only ever concerns built-in steps (the schedule, the
// decision tree's evidence). Code that may meet a plan's own steps asks the plan's runbook.
export const mainPhases = builtinRunbook.mainPhases;

export function isStepId(id: string): id is StepId {
  return builtinRunbook.findStep(id) !== undefined;
}

export function findStep(id: string): { step: StepDef; phase: PhaseDef } | undefined {
  return builtinRunbook.findStep(id);
}

export function findPhase(id: string): PhaseDef | undefined {
  return builtinRunbook.findPhase(id);
}

export function branchPhase(branch: Branch): PhaseDef {
  return builtinRunbook.branchPhase(branch);
}

export function allSteps(): StepDef[] {
  return builtinRunbook.allSteps();
}

export function stepMarked(property: 'marksFreeze' | 'marksSwitch'): StepDef {
  return builtinRunbook.stepMarked(property);
}

export function signoffStepIds(): string[] {
  return builtinRunbook.signoffStepIds();
}
