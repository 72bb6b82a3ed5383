import type { BucketLabel, ReconcileResult, TableReconciliation } from './reconcile.js';

/** A reconciliation as lines of text: a verdict line, then one line per table and its named keys and gaps. */
export function renderReconcile(result: ReconcileResult): string {
  const switched = result.switchedAt ? `, switched ${result.switchedAt}` : ', not switched yet';
  const lines = [
    `Reconciliation at ${result.checkedAt} (cutover point ${result.cutoverPoint}${switched}) in ${seconds(result.durationMs)}`,
    verdictLine(result),
  ];
  for (const table of result.tables) lines.push(...renderTable(table));
  return `${lines.join('\n')}\n`;
}

function verdictLine(result: ReconcileResult): string {
  const { totals } = result;
  if (result.clean) return `CLEAN — ${count(totals.bucketsCompared, 'bucket')} compared in ${count(result.tables.length, 'table')}`;
  const parts: string[] = [];
  if (totals.missingRows > 0) parts.push(`DATA LOSS: ${count(totals.missingRows, 'source row')} missing from the target`);
  if (totals.driftRows > 0) parts.push(`DRIFT: ${count(totals.driftRows, 'row')} in ${count(totals.driftBuckets, 'bucket')}`);
  if (totals.gaps > 0) parts.push(`GAPS: ${count(totals.gaps, 'ingestion gap')}`);
  if (totals.unverifiedBuckets > 0) parts.push(`UNVERIFIED: ${count(totals.unverifiedBuckets, 'bucket')}`);
  if (totals.problems > 0) parts.push(`NOT COMPARED: ${count(totals.problems, 'table')}`);
  return parts.join(' · ');
}

function renderTable(table: TableReconciliation): string[] {
  if (table.problem) return [`  ${table.table}: NOT COMPARED — ${table.problem}`];
  const atLeast = table.exact ? '' : 'at least ';
  const facts = [`${count(table.bucketsCompared, 'bucket')}`];
  if (table.driftBuckets > 0) {
    facts.push(
      `${count(table.driftBuckets, 'drift bucket')}: ${atLeast}${table.missingRows} missing, ${atLeast}${table.changedRows} changed, ${atLeast}${table.extraRows} extra`,
    );
  } else facts.push('no drift');
  if (table.newRows > 0) facts.push(`${count(table.newRows, 'new row')} after the cutover point (not drift)`);
  if (table.gapCheck === 'checked') facts.push(table.gapCount > 0 ? count(table.gapCount, 'ingestion gap') : 'no ingestion gaps');
  if (table.gapCheck === 'not-switched') facts.push('gaps not checked (not switched yet)');
  if (table.unverifiedBuckets > 0) facts.push(`${count(table.unverifiedBuckets, 'bucket')} unverified`);
  const lines = [`  ${table.table} (${table.grouping}): ${facts.join('; ')}`];
  for (const key of table.keys) {
    const moved = key.movedTo ? `, now in ${formatBucket(key.movedTo)}` : '';
    lines.push(`    ${key.kind.padEnd(7)} ${formatRecord(key.key)}  in ${formatBucket(key.bucket)}${moved}`);
  }
  if (table.keysNotNamed > 0) lines.push(`    … and ${count(table.keysNotNamed, 'more row')} not named (key limits)`);
  for (const gap of table.gaps) {
    const to = gap.ongoing ? `still silent at ${gap.to}` : `until ${gap.to}`;
    lines.push(`    gap     ${formatRecord(gap.group)}: nothing from ${gap.from} ${to} (${gap.minutes} min)`);
  }
  if (table.gapCount > table.gaps.length) lines.push(`    … and ${count(table.gapCount - table.gaps.length, 'more gap')}`);
  if (table.narrowing && !table.narrowing.complete && table.narrowing.reason) lines.push(`    narrowing incomplete: ${table.narrowing.reason}`);
  for (const warning of table.warnings) lines.push(`    warning: ${warning}`);
  return lines;
}

function formatRecord(record: Record<string, string | null>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? '(whole table)' : entries.map(([column, value]) => `${column}=${value ?? 'NULL'}`).join(' ');
}

const PERIOD_TEXT = { before: 'before the freeze', after: 'after the cutover point', undated: 'undated' } as const;

function formatBucket(bucket: BucketLabel): string {
  const parts = [formatRecord(bucket.group)];
  if (bucket.start) parts.push(`from ${bucket.start}`);
  return `${parts.join(' ')} (${PERIOD_TEXT[bucket.period]})`;
}

function count(value: number, noun: string): string {
  return `${value.toLocaleString('en-US')} ${noun}${value === 1 ? '' : 's'}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
