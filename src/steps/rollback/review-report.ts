import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CutoverPoint } from '../data/manifest.js';
import type { DeltaFile, DeltaManifest } from './delta-manifest.js';
import { peopleInstant } from '../../engine/time-format.js';

/**
 * `manual-review.md`: what the rollback could not put back by itself, for a person. It states the end
 * state (rows of the delta now in the source), not what one attempt did, so a re-run writes the same
 * file. Keys are listed up to MAX_KEYS per kind; the files named next to them hold every row.
 */

export const MAX_KEYS = 50;

/** A row key as column=value pairs (values as text; NULL as NULL). */
export type RowKey = { column: string; value: string | null }[];

/** What happened to one append-only table's delta in the source. */
export interface ReimportedTable {
  table: string;
  /** Rows of the `new` file. */
  deltaRows: number;
  /** Rows inserted by this attempt (0 when an earlier attempt did it). */
  inserted: number;
  /** Delta rows now in the source with exactly the target's values. */
  present: number;
  /** Keys the source already has with other values: the source's row is kept. */
  conflicts: { count: number; keys: RowKey[] };
  /** Rows whose parent row (foreign key) the source lacks: not inserted, kept in the delta file. */
  heldBack: { count: number; keys: RowKey[]; reasons: string[] };
  sequencesAdvanced: number;
}

export interface KeySamples {
  new: RowKey[];
  changed: RowKey[];
  deleted: RowKey[];
}

export interface ReviewInput {
  manifest: DeltaManifest;
  reimported: readonly ReimportedTable[];
  /** Keys read from the delta files, by table. */
  samples: ReadonlyMap<string, KeySamples>;
  /** The plan's zone: times are written for people in it. */
  zone: string;
}

export function renderManualReview(input: ReviewInput): string {
  const { manifest } = input;
  const lines: string[] = [`# Rollback: manual review (run ${manifest.runId})`, ''];
  lines.push(describePoint(manifest.cutoverPoint, input.zone), '');
  if (!manifest.targetLoaded) {
    lines.push('The target was never loaded by this run, so nothing was written there: nothing to re-import or review.', '');
    return `${lines.join('\n')}`;
  }
  lines.push(
    'Files named here are beside this report, in COPY text format (one row per line, tab-separated, `\\N` for NULL),',
    'with the columns listed. `new` and `changed` files hold the target\'s rows; `deleted` files hold keys only (the',
    'source still has those rows).',
    '',
  );

  const tables = Object.entries(manifest.tables);
  const appendOnly = tables.filter(([, e]) => e.appendOnly);
  const review = tables.filter(([, e]) => !e.appendOnly && e.new.rows + e.changed.rows + e.deleted.rows > 0);
  const unchanged = tables.filter(([, e]) => !e.appendOnly && e.new.rows + e.changed.rows + e.deleted.rows === 0);

  lines.push('## Re-imported into the source (append-only tables)', '');
  if (appendOnly.length === 0) {
    lines.push('No append-only tables in the plan.', '');
  } else {
    lines.push('| table | new rows on the target | in the source now | held back | conflicting |', '|---|---:|---:|---:|---:|');
    for (const [table, entry] of appendOnly) {
      const r = input.reimported.find((x) => x.table === table);
      lines.push(`| ${table} | ${entry.new.rows} | ${r?.present ?? 0} | ${r?.heldBack.count ?? 0} | ${r?.conflicts.count ?? 0} |`);
    }
    lines.push('');
    for (const [table, entry] of appendOnly) {
      const r = input.reimported.find((x) => x.table === table);
      const samples = input.samples.get(table);
      if (entry.newStampedBeforeCutover) {
        lines.push(
          `- ${table}: ${entry.newStampedBeforeCutover} of the new rows ${entry.newStampedBeforeCutover === 1 ? 'is' : 'are'} stamped at ` +
            'or before the cutover point (late arrivals, which a timestamp filter would have lost); they were re-imported like the others.',
        );
      }
      if (r && r.heldBack.count > 0) {
        lines.push(
          `- **${table}: ${rowCount(r.heldBack.count)} held back** because their parent row is not in the source ` +
            `(${r.heldBack.reasons.join('; ')}). Create the parents from the review below, then run ` +
            '`cutover retry rollback.reimport` (rows already in are skipped):',
          ...keyLines(r.heldBack.keys, r.heldBack.count),
        );
      }
      if (r && r.conflicts.count > 0) {
        lines.push(
          `- **${table}: ${rowCount(r.conflicts.count)} conflict${r.conflicts.count === 1 ? 's' : ''}**: the source has the key with other values. The source's rows ` +
            `were kept; the target's are in \`${entry.new.file}\`:`,
          ...keyLines(r.conflicts.keys, r.conflicts.count),
        );
      }
      if (entry.changed.rows > 0) {
        lines.push(
          `- ${table}: ${rowCount(entry.changed.rows)} changed on the target (an append-only table should not change); the source's ` +
            `values are kept, the target's are in \`${entry.changed.file}\`:`,
          ...keyLines(samples?.changed ?? [], entry.changed.rows),
        );
      }
      if (entry.deleted.rows > 0) {
        lines.push(
          `- ${table}: ${rowCount(entry.deleted.rows)} the source has ${entry.deleted.rows === 1 ? 'is' : 'are'} missing on the target (deleted there); the source still has ` +
            `${entry.deleted.rows === 1 ? 'it' : 'them'} (\`${entry.deleted.file}\`):`,
          ...keyLines(samples?.deleted ?? [], entry.deleted.rows),
        );
      }
    }
    if (lines[lines.length - 1] !== '') lines.push('');
  }

  lines.push('## For review (tables that are not append-only)', '');
  if (review.length === 0) {
    lines.push('No changes on the target.', '');
  }
  for (const [table, entry] of review) {
    const samples = input.samples.get(table);
    lines.push(`### ${table}: ${entry.new.rows} new, ${entry.changed.rows} changed, ${entry.deleted.rows} deleted on the target`, '');
    lines.push(`Columns: ${entry.columns.join(', ')}.`, '');
    const kinds: [string, DeltaFile, RowKey[]][] = [
      ['New on the target', entry.new, samples?.new ?? []],
      ['Changed on the target (target values in the file)', entry.changed, samples?.changed ?? []],
      ['Deleted on the target (the source still has them)', entry.deleted, samples?.deleted ?? []],
    ];
    for (const [title, file, keys] of kinds) {
      if (file.rows === 0) continue;
      lines.push(`${title}: ${file.rows} (\`${file.file}\`)`, ...keyLines(keys, file.rows), '');
    }
  }
  if (unchanged.length > 0) lines.push('## Unchanged on the target', '', unchanged.map(([t]) => t).join(', '), '');
  if (manifest.skipped.length > 0) {
    lines.push('## Not compared', '', ...manifest.skipped.map((s) => `- ${s.table}: ${s.reason}`), '');
  }
  if (manifest.reserved.length > 0) {
    lines.push(
      '## Ids reserved on the source',
      '',
      'Before the source was unfrozen, its sequences were moved past every id the target handed out, so rows re-entered',
      'from this review keep their ids without colliding with new source rows:',
      '',
      ...manifest.reserved.map((r) => `- ${r.table}.${r.column} (${r.sequence}): through ${r.through}`),
      '',
    );
  }
  return lines.join('\n');
}

const rowCount = (n: number) => `${n} row${n === 1 ? '' : 's'}`;

function describePoint(point: CutoverPoint | null, zone: string): string {
  return point
    ? `Cutover point: ${peopleInstant(point.at, zone)} (WAL ${point.lsn}). The delta is every difference by key between the frozen target and the source.`
    : 'No cutover point was recorded (freeze.snapshot did not run).';
}

function keyLines(keys: readonly RowKey[], total: number): string[] {
  const lines = keys.map((key) => `  - ${formatKey(key)}`);
  if (total > keys.length) lines.push(`  - … and ${total - keys.length} more (see the file)`);
  return lines;
}

export function formatKey(key: RowKey): string {
  return key.map((k) => `${k.column}=${k.value === null ? 'NULL' : k.value}`).join(', ');
}

/** The key columns of the first `limit` rows of a COPY text file whose columns are `columns`. */
export async function readKeys(path: string, columns: readonly string[], key: readonly string[], limit = MAX_KEYS): Promise<RowKey[]> {
  const positions = key.map((k) => columns.indexOf(k));
  const keys: RowKey[] = [];
  if (limit <= 0) return keys;
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const fields = line.split('\t');
      keys.push(key.map((column, i) => ({ column, value: decodeCopyField(fields[positions[i]!] ?? '\\N') })));
      if (keys.length >= limit) break;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  return keys;
}

/** One field of COPY text format: `\N` is NULL; backslash escapes as PostgreSQL writes them. */
export function decodeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, code: string) => {
    if (code.startsWith('x')) return String.fromCharCode(parseInt(code.slice(1), 16));
    if (/^[0-7]/.test(code)) return String.fromCharCode(parseInt(code, 8));
    return simple[code] ?? code;
  });
}
