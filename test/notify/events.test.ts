import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PagerDutyTarget } from '../../src/adapters/notify-pagerduty.js';
import { SlackTarget } from '../../src/adapters/notify-slack.js';
import { ManualClock } from '../../src/engine/clock.js';
import type { JournalEntry } from '../../src/engine/journal.js';
import { runbookOfPlan } from '../../src/config/custom-steps.js';
import { eventsFromEntry, type RunFacts } from '../../src/services/notify-events.js';
import { Notifier, readDeliveries } from '../../src/services/notifier.js';
import { localPlan } from '../support/plan.js';
import { startPagerDutyFake, type PagerDutyFake } from '../fakes/pagerduty.js';
import { startSlackFake, type SlackFake } from '../fakes/slack-webhook.js';

/**
 * Which journal lines become which events, and how the notifier pairs a page with its resolve: the
 * lines are those the runner and `cutover reconcile` write; the services are the contract fakes.
 */

const facts: RunFacts = { runId: 'r1', plan: 'FreshTrack Pro', environment: 'production', zone: 'America/New_York' };
let seq = 0;
const line = (type: string, fields: Record<string, unknown>): JournalEntry => ({ seq: ++seq, at: '2026-12-06T09:00:00.000Z', type, ...fields });

describe('events from the journal', () => {
  it('place a step the plan adds in its phase (outcome unknown of a status-page call)', () => {
    const plan = localPlan(tmpdir(), {
      steps: [{ kind: 'http', id: 'custom.status-page', title: 'Status page', phase: 'window', after: 'window.go', url: 'https://status.example.com/api' }],
    });
    const [event] = eventsFromEntry(line('step.outcome-unknown', { stepId: 'custom.status-page', attempt: 1 }), { ...facts, runbook: runbookOfPlan(plan) });
    expect(event).toMatchObject({ kind: 'step.attention', severity: 'critical', title: 'custom.status-page: outcome unknown', stepId: 'custom.status-page', phaseId: 'window' });
  });

  it('names a breach, drift, a verdict and a rollback request for what they are, with the offset of the plan', () => {
    const breach = eventsFromEntry(line('step.finished', { stepId: 'hypercare.check', occurrence: 3, summary: 'error rate 9 %', attention: 'error rate 9 % above 5 %' }), facts);
    expect(breach).toEqual([expect.objectContaining({ kind: 'check.breach', title: 'Check breached (hypercare.check #3)', incident: 'cutover:r1:breach:hypercare.check', at: '2026-12-06T04:00:00-05:00' })]);
    expect(breach[0]!.text).toContain('cutover signoff hypercare.check --note TEXT');
    expect(breach[0]!.text).not.toContain('--by');

    const drift = eventsFromEntry(line('step.finished', { stepId: 'watch.reconcile', occurrence: 5, summary: 'Reconciled 10 tables: 6 missing', attention: 'Reconciliation: data loss: 6 source rows missing from the target' }), facts);
    expect(drift).toEqual([expect.objectContaining({ kind: 'reconcile.drift', incident: 'cutover:r1:drift' })]);
    const fromCron = eventsFromEntry(line('reconcile.summary', { source: 'cutover reconcile', clean: false, summary: 'Reconciled 10 tables: 2 missing', attention: 'Reconciliation: data loss' }), facts);
    expect(fromCron).toEqual([expect.objectContaining({ kind: 'reconcile.drift', incident: 'cutover:r1:drift', title: 'Reconciliation drift (cutover reconcile)' })]);

    const verdict = eventsFromEntry(line('step.finished', { stepId: 'review.decision', summary: 'ROLLBACK: critical data loss', result: { output: { verdict: 'rollback' } } }), facts);
    expect(verdict[0]).toMatchObject({ kind: 'decision.verdict', severity: 'critical', title: 'Decision: ROLLBACK' });
    const proceed = eventsFromEntry(line('step.finished', { stepId: 'review.decision', summary: 'CONTINUE', result: { output: { verdict: 'continue' } } }), facts);
    expect(proceed[0]).toMatchObject({ kind: 'decision.verdict', severity: 'info' });

    const rollback = eventsFromEntry(line('event', { event: { type: 'ROLLBACK', by: 'Ana Ruiz', reason: 'auth broken', at: 0 } }), facts);
    expect(rollback).toEqual([expect.objectContaining({ key: 'rollback.started', kind: 'rollback.started', incident: 'cutover:r1:rollback' })]);
    expect(rollback[0]!.text).toContain('Ana Ruiz asked for a rollback at Dec 06 04:00:00 -05:00: auth broken');
  });

  it('tells about a rejected sign-off (a no-go), without paging for it', () => {
    const [event] = eventsFromEntry(line('event', { event: { type: 'SIGNOFF', stepId: 'window.go', by: 'Chen Wei', reject: true, note: 'export forecast too long', at: 0 } }), facts);
    expect(event).toMatchObject({ kind: 'step.attention', severity: 'warning', title: 'window.go rejected by Chen Wei', phaseId: 'window' });
    expect(event!.text).toContain('export forecast too long');
    expect(event!.text).toContain('cutover retry window.go');
    expect(new PagerDutyTarget({ kind: 'pagerduty', name: 'p', routingKeyEnv: 'PD' }, 'key').wants(event!)).toBe(false);
  });

  it('says nothing about ordinary progress', () => {
    for (const entry of [line('step.started', { stepId: 'export.tables', attempt: 1 }), line('step.note', { stepId: 'export.tables', message: 'x' }), line('run.created', {})]) {
      expect(eventsFromEntry(entry, facts)).toEqual([]);
    }
  });
});

describe('pages and their resolves', () => {
  let pagerduty: PagerDutyFake;
  let slack: SlackFake;
  const dirs: string[] = [];
  beforeAll(async () => {
    [pagerduty, slack] = await Promise.all([startPagerDutyFake(), startSlackFake()]);
  });
  afterAll(async () => {
    await Promise.all([pagerduty.close(), slack.close()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a breach pages once per check, a later clean run resolves it, and a clean run that never paged resolves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-pages-'));
    dirs.push(dir);
    const plan = localPlan(dir);
    const entries: JournalEntry[] = [];
    const journal = { get entries() { return entries; }, get lastSeq() { return entries.at(-1)?.seq ?? 0; } };
    const targets = [new PagerDutyTarget({ kind: 'pagerduty', name: 'on-call', routingKeyEnv: 'PD', baseUrl: pagerduty.url }, pagerduty.routingKey), new SlackTarget({ kind: 'slack', name: 'chat', webhookUrlEnv: 'SLACK' }, slack.webhookUrl)];
    const notifier = Notifier.attach({ stateDir: join(dir, '.cutover'), plan, targets, clock: new ManualClock(Date.parse('2026-12-06T09:00:00Z')) }, { runId: 'run-7', journal });
    let next = 0;
    const append = (type: string, fields: Record<string, unknown>) => {
      const entry: JournalEntry = { seq: ++next, at: '2026-12-06T09:00:00.000Z', type, ...fields };
      entries.push(entry);
      notifier.onEntry(entry);
    };
    append('step.finished', { stepId: 'hypercare.check', occurrence: 1, summary: 'clean' });
    append('step.finished', { stepId: 'hypercare.check', occurrence: 2, summary: 'error rate 9 %', attention: 'error rate 9 % above 5 %' });
    append('step.finished', { stepId: 'hypercare.check', occurrence: 3, summary: 'error rate 8 %', attention: 'error rate 8 % above 5 %' });
    append('step.finished', { stepId: 'hypercare.check', occurrence: 4, summary: 'clean' });
    append('step.finished', { stepId: 'hypercare.check', occurrence: 5, summary: 'clean' });
    await notifier.settle();

    const key = 'cutover:run-7:breach:hypercare.check';
    expect(pagerduty.events.filter((e) => e.dedupKey.startsWith('cutover:run-7'))).toEqual([
      { action: 'trigger', dedupKey: key },
      { action: 'trigger', dedupKey: key },
      { action: 'resolve', dedupKey: key },
    ]);
    expect(pagerduty.alerts.get(key)).toMatchObject({ status: 'resolved', triggers: 2 });
    // The chat heard both breaches and the recovery, once each, and nothing about the clean runs around them.
    expect(slack.posted.map((m) => m.text!.split('\n')[0])).toEqual([
      ':rotating_light: *Check breached (hypercare.check #2)*',
      ':rotating_light: *Check breached (hypercare.check #3)*',
      ':large_blue_circle: *hypercare.check #4 is fine again*',
    ]);
    expect(readDeliveries(join(dir, '.cutover'), 'run-7').deliveries.every((d) => d.state === 'sent')).toBe(true);
  });
});
