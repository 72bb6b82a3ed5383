import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOutbox } from '../adapters/outbox-mail.js';
import { peekRun } from '../engine/peek.js';
import { renderReport } from '../engine/report.js';
import type { Blocked } from '../engine/runner.js';
import { buildView } from '../engine/view.js';
import type { GeneratedCounts } from './freshtrack.js';
import { branchPhase, type StepId } from '../../machines/runbook.js';
import type { Session } from '../services/session.js';
import { output, outputsOf } from '../steps/outputs.js';
import { notificationLines, type NotifySink } from './notify-sink.js';
import { peopleTime } from '../engine/time-format.js';
import { replicateSection } from './replicate-report.js';
import type { WorldEvents } from './world.js';
import { parseDuration } from '../../machines/schedule.js';

export interface RehearsalFacts {
  session: Session;
  counts: GeneratedCounts;
  workspace: string;
  realSeconds: number;
  notAvailable: string[];
  failures: { stepId: string; error: string }[];
  ended: Blocked;
  world: WorldEvents;
  notifySink?: NotifySink;
}


/** The data path's steps in the report's table; export and load move every row (a rate means something). */
const DATA_PATH: { id: StepId; movesRows?: true }[] = [
  { id: 'freeze.enable' },
  { id: 'freeze.verify-no-writes' },
  { id: 'freeze.snapshot' },
  { id: 'export.tables', movesRows: true },
  { id: 'export.verify' },
  { id: 'migrate.load', movesRows: true },
  { id: 'migrate.verify' },
];

/** Mask an address the way every report and log does: j***@example.com. */
export function maskAddress(address: string): string {
  const [local = '', domain = ''] = address.split('@');
  return `${local.slice(0, 1)}***@${domain}`;
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * rehearsal-report.md: the engine's planned-vs-actual report, with what a rehearsal is for on top:
 * data-path throughput, the downtime it forecasts, the notices it would send and the DNS it changed.
 */
export async function writeRehearsalReport(path: string, facts: RehearsalFacts): Promise<void> {
  const { session, counts } = facts;
  const { snapshot, journal } = peekRun(session.stateDir, session.plan);
  const view = buildView(snapshot, session.clock.now(), session.plan.t0.zone);
  const steps = new Map(view.phases.flatMap((phase) => phase.steps.map((step) => [step.id, step] as const)));
  const durations = new Map<string, number>();
  for (const entry of journal.entries) {
    if (entry.type === 'step.finished' && typeof entry.durationMs === 'number') durations.set(String(entry.stepId), entry.durationMs);
  }
  const context = snapshot.context as { steps: Record<string, { output?: Record<string, unknown> }> };
  const outputs = outputsOf(context.steps);
  // The data path table reads the row counts each step reports, whatever its output's shape.
  const rowsOf = (id: string) => context.steps[id]?.output ?? {};

  const lines: string[] = [
    '# Rehearsal report',
    '',
    `- Outcome: ${view.headline}`,
    `- Data: ${counts.readings.toLocaleString('en-US')} temperature readings from ${counts.sensors} sensors (${Math.round(counts.historyHours)} h of history), ${counts.organizations} organizations, ${counts.alerts} alerts, ${counts.users} users`,
    `- Real time: ${facts.realSeconds.toFixed(1)} s for the whole timeline (waits compressed ${(session.clock as { speed?: number }).speed?.toLocaleString('en-US') ?? '?'}×; actions at their real speed)`,
    `- Failed steps: ${facts.failures.length === 0 ? 'none' : facts.failures.map((f) => `\`${f.stepId}\` (${f.error})`).join('; ')}`,
    `- Not yet available in this version (skipped): ${facts.notAvailable.length === 0 ? 'none' : facts.notAvailable.map((id) => `\`${id}\``).join(', ')}`,
    '',
    '## Data path',
    '',
    '| Step | Status | Took | Rows | Rows/s | Result |',
    '|---|---|---|---|---|---|',
  ];
  const frozenCounts = output(outputs, 'freeze.snapshot')?.counts;
  const totalRows = frozenCounts ? Object.values(frozenCounts).reduce((sum, value) => sum + value, 0) : undefined;
  for (const { id, movesRows } of DATA_PATH) {
    const step = steps.get(id);
    const took = durations.get(id);
    const rows = number(rowsOf(id).rows) ?? number(rowsOf(id).totalRows) ?? (movesRows ? totalRows : undefined);
    // A rate only says something where rows are moved: export and load.
    const rate = rows !== undefined && took && movesRows ? Math.round(rows / (took / 1000)) : undefined;
    lines.push(
      `| \`${id}\` | ${step?.status ?? '—'} | ${took === undefined ? '' : `${(took / 1000).toFixed(1)} s`} | ${rows?.toLocaleString('en-US') ?? ''} | ${rate?.toLocaleString('en-US') ?? ''} | ${(step?.summary ?? step?.error ?? '').replaceAll('|', '\\|')} |`,
    );
  }
  if (frozenCounts) {
    lines.push('', 'Rows per table at the cutover point:', '');
    for (const [table, count] of Object.entries(frozenCounts)) lines.push(`- ${table}: ${count.toLocaleString('en-US')}`);
  }

  lines.push('', '## Downtime', '');
  const forecast = steps.get('final.export-dry-run');
  lines.push(`- Forecast at T-24h (\`final.export-dry-run\`): ${forecast?.summary ?? 'not available'}`);
  const frozeAt = steps.get('freeze.enable')?.startedAt;
  const backAt = steps.get('validate.complete-notice')?.finishedAt ?? steps.get('dns.switch')?.finishedAt;
  if (frozeAt !== undefined && backAt !== undefined) {
    lines.push(`- Measured: ${((backAt - frozeAt) / 1000).toFixed(1)} s from \`freeze.enable\` to ${steps.get('validate.complete-notice')?.finishedAt ? '`validate.complete-notice`' : '`dns.switch`'} with automatic sign-offs (a real window adds the people's time)`);
  }

  lines.push(...replicateSection(facts.world, rowsOf, (id) => steps.get(id)?.summary ?? steps.get(id)?.error, parseDuration(session.plan.freeze.quietWindow), session.plan.t0.zone));

  lines.push('', '## After the switch', '');
  lines.push(`- The new system ingested ${facts.world.ingested().toLocaleString('en-US')} readings after the switch (stand-in traffic every 5 minutes per sensor, and the webhook test).`);
  const checks = ['hypercare.check', 'stabilize.check', 'watch.reconcile', 'watch.daily'].map((id) => steps.get(id)).filter((step) => step !== undefined);
  for (const step of checks) {
    if (step.runs) lines.push(`- \`${step.id}\`: ${step.runs.done} of ${step.runs.total} runs${step.runs.missed ? `, ${step.runs.missed} missed` : ''}; last: ${step.summary ?? step.error ?? '—'}`);
  }
  const attentions = journal.entries.filter((entry) => entry.type === 'step.finished' && entry.attention);
  lines.push(attentions.length ? `- Attention raised ${attentions.length === 1 ? 'once' : `${attentions.length.toLocaleString('en-US')} times`}:` : '- Attention never raised.');
  for (const entry of attentions.slice(0, 10)) lines.push(`  - ${peopleTime(entry.at, session.plan.t0.zone)} \`${String(entry.stepId)}\`${entry.occurrence ? ` run ${String(entry.occurrence)}` : ''}: ${String(entry.attention)}`);
  if (facts.world.drift.length) {
    lines.push('', '### Injected drift', '', `Deleted ${facts.world.drift.length} migrated readings from the target after the switch:`, '');
    // Reconciliations run with the first hypercare check and every reconcile cadence from the switch
    // (hypercare.check, stabilize.check, then watch.reconcile), and in the first-day review when none is
    // recent: the keys they named are in the step results the journal records. Each row: the first run
    // that named it, and how long after the switch.
    const switchedAt = view.switchedAt;
    const finished = journal.entries.filter((entry) => entry.type === 'step.finished');
    const after = (at: string) => (switchedAt === undefined ? '' : ` (${formatAfter(Date.parse(at) - switchedAt)} after the switch)`);
    const runName = (entry: (typeof journal.entries)[number]) => `\`${String(entry.stepId)}\`${entry.occurrence ? ` run ${String(entry.occurrence)}` : ''}`;
    for (const row of facts.world.drift) {
      const names = new RegExp(`"id":"?${row.id}"?[,}]`);
      const first = finished.find((entry) => names.test(JSON.stringify(entry.result ?? null)));
      const named = first ?? (names.test(JSON.stringify(Object.values(context.steps).map((step) => step.output))) ? 'a step output' : undefined);
      lines.push(
        `- id ${row.id} (sensor ${row.sensorId}, ${row.recordedAt}): ` +
          (named === undefined
            ? 'NOT named by any reconciliation'
            : typeof named === 'string'
              ? `named by the reconciliation (${named})`
              : `named by the reconciliation: ${runName(named)} at ${peopleTime(named.at, session.plan.t0.zone)}${after(String(named.at))}`),
      );
    }
    const caught = (entry: (typeof journal.entries)[number]) => `${String(entry.attention ?? '')} ${String(entry.summary ?? '')}`;
    const first = finished.find((entry) => /rows? missing/.test(caught(entry)));
    lines.push('', first ? `First caught by ${runName(first)} at ${peopleTime(first.at, session.plan.t0.zone)}${after(String(first.at))}: ${caught(first).trim()}` : 'No reconciliation caught it.');
  }

  const rollback = view.phases.find((phase) => phase.id === branchPhase('rollback').id);
  if (rollback && rollback.steps.some((step) => step.status !== 'pending')) {
    lines.push('', '## Rollback', '');
    if (view.rollback) lines.push(`Requested by ${view.rollback.by}: ${view.rollback.reason}`, '');
    // The verdict with the path through the decision tree and the evidence at each question.
    const decision = output(outputs, 'rollback.decide') ?? output(outputs, 'review.decision');
    if (decision?.verdict && Array.isArray(decision.path)) {
      lines.push(`Decision tree verdict: **${decision.verdict.toUpperCase()}**`, '');
      for (const step of decision.path) lines.push(`- ${step.question} **${step.answer}** — ${step.evidence}`);
      lines.push('');
    }
    for (const step of rollback.steps) lines.push(`- \`${step.id}\`: ${step.status}${step.summary ? ` — ${step.summary}` : ''}${step.error ? ` — ${step.error}` : ''}`);
    const frozen = frozenCounts?.['public.temperature_readings'];
    const atEnd = facts.world.sourceReadingsAtEnd;
    if (frozen !== undefined && atEnd !== undefined) {
      const expected = frozen + facts.world.ingested();
      lines.push(
        '',
        `Readings in the source after the rollback: ${atEnd.toLocaleString('en-US')} = ${frozen.toLocaleString('en-US')} at the freeze + ${facts.world.ingested().toLocaleString('en-US')} written to the target after the switch${atEnd === expected ? ': **zero readings lost**.' : ` → expected ${expected.toLocaleString('en-US')}: **${expected - atEnd} readings missing**.`}`,
      );
    }
    const readOnlyMs = rowsOf('rollback.unfreeze-source').readOnlyMs;
    if (typeof readOnlyMs === 'number') {
      const reverse = (rowsOf('rollback.freeze-target').reverse as { drained?: unknown } | undefined)?.drained;
      lines.push(
        '',
        `Read-only during the rollback: **${(readOnlyMs / 1000).toFixed(1)} s** from \`rollback.freeze-target\` until \`rollback.unfreeze-source\` (no system accepted writes); ` +
          (reverse ? 'the target\'s writes had reached the source through reverse replication, drained at the target\'s freeze.' : 'the target\'s writes came back through the delta export and re-import.'),
      );
    }
  }

  lines.push('', '## Notices written to the outbox', '');
  const outboxDir = join(facts.workspace, 'outbox');
  const messages = existsSync(outboxDir) ? await readOutbox(outboxDir) : [];
  if (messages.length === 0) lines.push('None.');
  else {
    const byKey = new Map<string, typeof messages>();
    for (const message of messages) byKey.set(message.idempotencyKey, [...(byKey.get(message.idempotencyKey) ?? []), message]);
    lines.push('| Batch (idempotency key) | Messages | Subject | First recipients |', '|---|---|---|---|');
    for (const [key, batch] of byKey) {
      lines.push(`| \`${key}\` | ${batch.length} | ${batch[0]!.subject.replaceAll('|', '\\|')} | ${batch.slice(0, 3).map((m) => maskAddress(m.to)).join(', ')} |`);
    }
  }

  lines.push(...notificationLines(session.stateDir, String((snapshot.context as { runId?: string }).runId ?? ''), facts.notifySink));

  lines.push('', '## DNS changes (local zone)', '');
  const zoneFile = join(facts.workspace, 'zone.json');
  const zone = existsSync(zoneFile) ? (JSON.parse(readFileSync(zoneFile, 'utf8')) as { changes: { at: string; before: { content: string; ttl: number } | null; after: { name: string; type: string; content: string; ttl: number } }[] }) : undefined;
  if (!zone?.changes.length) lines.push('None.');
  for (const change of zone?.changes ?? []) {
    lines.push(`- ${peopleTime(change.at, session.plan.t0.zone)} ${change.after.type} ${change.after.name}: ${change.before ? `${change.before.content} (TTL ${change.before.ttl})` : '(new)'} → ${change.after.content} (TTL ${change.after.ttl})`);
  }

  lines.push('', '## Every step: planned against actual (virtual time)', '');
  lines.push(renderReport(session.plan, view, journal.entries).split('\n').slice(2).join('\n'));
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** "15 min", "6 h 5 min". */
function formatAfter(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}
