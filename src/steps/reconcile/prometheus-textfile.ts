import { writeFileAtomic } from '../../adapters/atomic-write.js';
import type { ReconcileResult } from './reconcile.js';

/**
 * Metrics for node_exporter's textfile collector (text exposition format 0.0.4), so the existing
 * Grafana stack can alert on drift, data loss, gaps and a reconciliation that stopped running.
 */

export interface Metric {
  name: string;
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

export interface TextfileOptions {
  /**
   * When reconciliation last completed. Pass this run's time when it compared every table, the
   * previous value otherwise: an alert on this timestamp going stale then catches a broken timer.
   */
  lastSuccess: Date;
}

export function toPrometheusTextfile(result: ReconcileResult, options: TextfileOptions): string {
  // A table that could not be compared has no drift figures: absent, not zero.
  const compared = result.tables.filter((table) => table.problem === undefined);
  const perTable = (pick: (table: ReconcileResult['tables'][number]) => number) =>
    compared.map((table) => ({ labels: { table: table.table }, value: pick(table) }));
  const metrics: Metric[] = [
    {
      name: 'cutover_reconcile_drift_rows',
      help: 'Rows that differ between source and target in data written before the cutover point (missing + changed + extra).',
      samples: perTable((t) => t.driftRows),
    },
    {
      name: 'cutover_reconcile_missing_rows',
      help: 'Source rows missing from the target (data loss).',
      samples: perTable((t) => t.missingRows),
    },
    {
      name: 'cutover_reconcile_drift_buckets',
      help: 'Reconciliation buckets with drift or missing rows.',
      samples: perTable((t) => t.driftBuckets),
    },
    {
      name: 'cutover_reconcile_ingestion_gaps',
      help: 'Active groups (e.g. sensors) silent after the switch for longer than the readings gap.',
      samples: perTable((t) => t.gapCount),
    },
    {
      name: 'cutover_reconcile_table_compared',
      help: '1 when the table could be compared on both sides, 0 when it could not.',
      samples: result.tables.map((table) => ({ labels: { table: table.table }, value: table.problem === undefined ? 1 : 0 })),
    },
    {
      name: 'cutover_reconcile_clean',
      help: '1 when the last run found no drift, no missing rows, no gaps and compared every table.',
      samples: [{ value: result.clean ? 1 : 0 }],
    },
    {
      name: 'cutover_reconcile_duration_seconds',
      help: 'How long the last reconciliation run took.',
      samples: [{ value: result.durationMs / 1000 }],
    },
    {
      name: 'cutover_reconcile_last_success_timestamp_seconds',
      help: 'Unix time of the last reconciliation run that completed.',
      samples: [{ value: options.lastSuccess.getTime() / 1000 }],
    },
  ];
  return renderMetrics(metrics);
}

/** Gauges in the text exposition format 0.0.4. */
export function renderMetrics(metrics: readonly Metric[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} gauge`);
    for (const sample of metric.samples) lines.push(`${metric.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Write the textfile so node_exporter never reads half of it: a temp file in the same folder (its
 * name does not end in .prom, so the collector ignores it), fsync'd, then renamed over the target.
 */
export async function writePrometheusTextfile(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, { mode: 0o644 });
}

function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return `{${pairs.join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}
