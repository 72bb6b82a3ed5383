import type { AnyMachineSnapshot } from 'xstate';
import type { RunContext } from '../../machines/machine.js';
import { builtinRunbook, runbook, type Runbook } from '../../machines/runbook.js';
import type { NotifyEvent } from '../adapters/notify-types.js';
import type { NotifyEventKind } from '../config/notify-schema.js';
import type { JournalEntry } from '../engine/journal.js';
import { isoTime, localizeInstants, peopleTime } from '../engine/time-format.js';
import { describeLocation, locate } from '../engine/view.js';

/**
 * What the team hears about, derived from the run's own record: journal entries (a step failed, a
 * check breached, a reconciliation drifted, a verdict) and where the machine stands (a phase opened,
 * a gate waits for someone, the rollback finished). Pure: no disk, no network.
 *
 * Every event has a key that names *what happened*, not when it was noticed, so noticing it twice
 * (a resumed runner replays its journal and looks at the same gate again) yields the same key and
 * the notifier sends it once.
 */

export type { NotifyEvent };

export interface RunFacts {
  runId: string;
  plan: string;
  environment: string;
  zone: string;
  /** The plan's runbook, so the steps it adds are placed in their phase too (the built-in one if not given). */
  runbook?: Runbook;
}

const CHECK_STEPS = new Set(['hypercare.check', 'stabilize.check', 'watch.daily']);
const RECONCILE_STEPS = new Set(['watch.reconcile']);

function base(facts: RunFacts, at: string, fields: Omit<NotifyEvent, 'runId' | 'plan' | 'environment' | 'at'>): NotifyEvent {
  return { runId: facts.runId, plan: facts.plan, environment: facts.environment, at: isoTime(at, facts.zone), ...fields, text: localizeInstants(fields.text, facts.zone) };
}

const incidentOf = (facts: RunFacts, subject: string) => `cutover:${facts.runId}:${subject}`;

function stepLabel(entry: JournalEntry): string {
  const id = String(entry.stepId ?? '');
  return entry.occurrence ? `${id} #${String(entry.occurrence)}` : id;
}

/** Events a journal line stands for (most lines stand for none). */
export function eventsFromEntry(entry: JournalEntry, facts: RunFacts): NotifyEvent[] {
  const when = peopleTime(entry.at, facts.zone);
  const stepId = typeof entry.stepId === 'string' ? entry.stepId : undefined;
  const book = facts.runbook ?? builtinRunbook;
  const phaseId = stepId ? book.findStep(stepId)?.phase.id : undefined;
  const where = { ...(stepId ? { stepId } : {}), ...(phaseId ? { phaseId } : {}) };
  const key = `journal:${entry.seq}`;
  // A step that needs a person opens the step's incident; its later success or a skip closes it.
  const stepIncident = (kind: NotifyEventKind, title: string, text: string) => [
    base(facts, entry.at, { key, kind, severity: 'critical', title, text, incident: incidentOf(facts, `step:${stepId}`), ...where }),
  ];
  switch (entry.type) {
    case 'step.failed':
      return stepIncident(
        'step.failed',
        `${stepLabel(entry)} failed`,
        `${stepLabel(entry)} failed at ${when}: ${String(entry.error)}\nFix the cause, then: cutover retry ${stepId} (or cutover skip ${stepId} --reason TEXT)`,
      );
    case 'step.outcome-unknown':
      return stepIncident(
        'step.attention',
        `${stepLabel(entry)}: outcome unknown`,
        `${stepLabel(entry)} was running when the runner stopped and cannot safely run twice. Check whether it took effect, then: cutover retry ${stepId} or cutover skip ${stepId} --reason TEXT`,
      );
    case 'step.finished': {
      const events: NotifyEvent[] = [];
      if (stepId && book.findStep(stepId)?.step.routesOnVerdict) {
        const verdict = (entry.result as { output?: { verdict?: string } } | undefined)?.output?.verdict ?? 'unknown';
        const rollback = verdict === 'rollback';
        events.push(
          base(facts, entry.at, {
            key: `${key}:verdict`,
            kind: 'decision.verdict',
            severity: rollback ? 'critical' : 'info',
            title: `Decision: ${verdict.toUpperCase()}`,
            text: `${String(entry.summary)}\nThe approvers of review.decision sign it: cutover signoff review.decision${rollback ? ' (approving a rollback verdict starts the rollback)' : ''}`,
            ...(rollback ? { incident: incidentOf(facts, 'decision') } : {}),
            ...where,
          }),
        );
      }
      if (entry.attention) {
        const kind: NotifyEventKind = stepId && RECONCILE_STEPS.has(stepId) ? 'reconcile.drift' : stepId && CHECK_STEPS.has(stepId) ? 'check.breach' : 'step.attention';
        const subject = kind === 'reconcile.drift' ? 'drift' : kind === 'check.breach' ? `breach:${stepId}` : `step:${stepId}`;
        events.push(
          base(facts, entry.at, {
            key,
            kind,
            severity: 'critical',
            title: kind === 'reconcile.drift' ? `Reconciliation drift (${stepLabel(entry)})` : kind === 'check.breach' ? `Check breached (${stepLabel(entry)})` : `${stepLabel(entry)} needs attention`,
            text: `${String(entry.attention)}\nThe run waits for a sign-off to go on: cutover signoff ${stepId} --note TEXT (or cutover rollback --reason TEXT --phrase "rollback <zone>")`,
            incident: incidentOf(facts, subject),
            ...where,
          }),
        );
      } else if (stepId) {
        // A clean run of a step that had paged closes that page (sent only where one was opened).
        const subjects = [`step:${stepId}`, ...(CHECK_STEPS.has(stepId) ? [`breach:${stepId}`] : []), ...(RECONCILE_STEPS.has(stepId) ? ['drift'] : [])];
        for (const subject of subjects) {
          events.push(base(facts, entry.at, { key: `${key}:resolve:${subject}`, kind: 'resolved', severity: 'info', title: `${stepLabel(entry)} is fine again`, text: String(entry.summary), incident: incidentOf(facts, subject), ...where }));
        }
      }
      return events;
    }
    case 'reconcile.summary': {
      // `cutover reconcile` from cron, outside the runner.
      if (entry.clean === true) {
        return [base(facts, entry.at, { key: `${key}:resolve:drift`, kind: 'resolved', severity: 'info', title: 'Reconciliation is clean again', text: String(entry.summary), incident: incidentOf(facts, 'drift') })];
      }
      return [
        base(facts, entry.at, {
          key,
          kind: 'reconcile.drift',
          severity: 'critical',
          title: 'Reconciliation drift (cutover reconcile)',
          text: `${String(entry.attention ?? entry.summary)}\nSee: cutover decide`,
          incident: incidentOf(facts, 'drift'),
        }),
      ];
    }
    case 'event': {
      const event = entry.event as { type?: string; by?: string; reason?: string; stepId?: string; reject?: boolean; note?: string };
      if (event.type === 'SIGNOFF' && event.reject && event.stepId) {
        return [
          base(facts, entry.at, {
            key,
            kind: 'step.attention',
            severity: 'warning',
            title: `${event.stepId} rejected by ${event.by ?? 'an approver'}`,
            text: `${event.stepId} was rejected at ${when}${event.note ? `: ${event.note}` : ''}. The run waits until it is re-opened: cutover retry ${event.stepId} (or cutover rollback --reason TEXT --phrase "rollback <zone>")`,
            stepId: event.stepId,
            ...(book.findStep(event.stepId) ? { phaseId: book.findStep(event.stepId)!.phase.id } : {}),
          }),
        ];
      }
      if (event.type === 'SKIP' && event.stepId) {
        // A skipped step is settled by a person: a page its failure opened is closed.
        return [base(facts, entry.at, { key: `${key}:resolve`, kind: 'resolved', severity: 'info', title: `${event.stepId} skipped by ${event.by ?? 'someone'}`, text: String(event.reason ?? ''), incident: incidentOf(facts, `step:${event.stepId}`), stepId: event.stepId })];
      }
      if (event.type !== 'ROLLBACK') return [];
      return [rollbackStarted(facts, entry.at, `${event.by ?? 'someone'} asked for a rollback at ${when}: ${event.reason ?? ''}`)];
    }
    default:
      return [];
  }
}

function rollbackStarted(facts: RunFacts, at: string, why: string): NotifyEvent {
  return base(facts, at, {
    key: 'rollback.started',
    kind: 'rollback.started',
    severity: 'critical',
    title: 'Rollback started',
    text: `${why}\nThe rollback phase freezes the target, exports the writes made since the switch, reverts DNS and re-imports them. Follow it with: cutover status`,
    phaseId: 'rollback',
    incident: incidentOf(facts, 'rollback'),
  });
}

/** Events the machine's position stands for: a phase that opened, a gate that waits, the end of a rollback. */
export function eventsFromSnapshot(snapshot: AnyMachineSnapshot, facts: RunFacts, now: number): NotifyEvent[] {
  const location = locate(snapshot);
  const at = new Date(now).toISOString();
  const when = peopleTime(now, facts.zone);
  if (location.ended === 'rolledBack') {
    return [
      base(facts, at, {
        key: 'rollback.finished',
        kind: 'rollback.finished',
        severity: 'info',
        title: 'Rollback finished: the old system is live again',
        text: `The rollback finished at ${when}. Rows written to the new system after the switch were re-imported or listed for review: cutover report`,
        phaseId: 'rollback',
        incident: incidentOf(facts, 'rollback'),
      }),
    ];
  }
  if (location.ended || !location.phaseId || location.sub === 'gate') return [];
  const events: NotifyEvent[] = [];
  const phase = runbook.find((candidate) => candidate.id === location.phaseId);
  if (location.phaseId === 'rollback') {
    // Entered by an approved rollback verdict as well as by `cutover rollback`; same key either way.
    events.push(rollbackStarted(facts, at, `The run entered the rollback branch at ${when}.`));
  } else if (phase) {
    events.push(
      base(facts, at, {
        key: `phase:${phase.id}`,
        kind: 'phase.opened',
        severity: 'info',
        title: `Phase ${phase.id} opened: ${phase.title}`,
        text: `${phase.title} opened at ${when}: ${phase.steps.map((step) => step.id).join(', ')}.`,
        phaseId: phase.id,
      }),
    );
  }
  const { stepId, sub } = location;
  const waiting = snapshot.hasTag('waiting:signoff') || snapshot.hasTag('waiting:confirm');
  // `attention` also waits for a sign-off, but the step's own event (breach, drift…) already said so.
  if (stepId && waiting && sub !== 'attention') {
    const context = snapshot.context as RunContext;
    const attempt = context.steps[stepId]?.attempts ?? 0;
    const round = context.recurring[stepId] ?? 0;
    events.push(
      base(facts, at, {
        key: `gate:${stepId}:${attempt}:${round}`,
        kind: 'gate.waiting',
        severity: 'info',
        title: `${stepId} waits for ${snapshot.hasTag('waiting:confirm') ? 'a typed confirmation' : 'a sign-off'}`,
        text: describeLocation(snapshot, now, facts.zone),
        stepId,
        phaseId: location.phaseId,
      }),
    );
  }
  return events;
}
