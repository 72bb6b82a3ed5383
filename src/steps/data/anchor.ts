import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planDatabase } from '../../adapters/postgres.js';
import { Journal } from '../../engine/journal.js';
import { journaledOutput, output } from '../outputs.js';
import type { StepContext } from '../types.js';
import { normalizeTableName } from './catalog.js';
import { exportTables } from './export.js';
import { digestFile, MANIFEST_FILE, readManifest, type CutoverPoint, type Manifest } from './manifest.js';
import { describeWrites, provenPoint, readProof } from './proof.js';

/**
 * The export anchored in the journal (DESIGN §3). export.tables records, in its journaled result, the
 * manifest's sha256 and, per file, its rows, bytes, sha256 and content digest. The journal is a hash
 * chain: a manifest rewritten afterwards with matching checksums (rows changed, sums recomputed) no
 * longer matches what the journal says, and migrate.load, export.verify and migrate.verify refuse it.
 *
 * A file that no longer matches (damaged on disk) while the manifest is intact can be made again:
 * the source is still frozen, and when the write counters prove nothing was written since the cutover
 * point, exporting the table again yields the same bytes (COPY of an unchanged table, with the same
 * pinned session settings) — which is checked against the journaled sha256 before anything goes on.
 */

export interface AnchoredFile {
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
  digest: { rows: number; hash: string } | null;
}

export interface ExportAnchor {
  /** sha256 of manifest.json as export.tables left it. */
  manifestSha256: string;
  tables: Record<string, AnchoredFile>;
  authUsers: { file: string; sha256: string } | null;
}

export async function anchorOf(dir: string): Promise<ExportAnchor> {
  const manifest = (await readManifest(dir))!;
  return {
    manifestSha256: await manifestHash(dir),
    tables: Object.fromEntries(Object.entries(manifest.tables).map(([table, entry]) => [table, anchoredEntry(entry)])),
    authUsers: manifest.authUsers ? { file: manifest.authUsers.file, sha256: manifest.authUsers.sha256 } : null,
  };
}

async function manifestHash(dir: string): Promise<string> {
  return createHash('sha256').update(await readFile(join(dir, MANIFEST_FILE))).digest('hex');
}

function anchoredEntry(entry: Manifest['tables'][string]): AnchoredFile {
  return { file: entry.file, rows: entry.rows, bytes: entry.bytes, sha256: entry.sha256, digest: entry.digest ?? null };
}

/**
 * The anchor export.tables journaled: from the journal (the last finished export.tables), else from
 * the run's outputs (a context without a journal, e.g. a step run alone). Undefined for an export
 * made before anchors existed.
 */
export function journaledAnchor(ctx: Pick<StepContext, 'stateDir' | 'outputs'>): ExportAnchor | undefined {
  let entries: readonly { type: string; stepId?: unknown; result?: unknown }[] = [];
  try {
    entries = Journal.open(ctx.stateDir).entries;
  } catch {
    // A damaged journal is refused by the engine itself; the outputs are the fallback here.
  }
  return journaledOutput(entries, 'export.tables')?.anchor ?? output(ctx.outputs, 'export.tables')?.anchor;
}

export interface AnchorCheck {
  /** Manifest entries that differ from the journal: the manifest was rewritten. */
  rewritten: string[];
  /** Tables whose file differs from the journal while the manifest entry does not. */
  damaged: string[];
}

export async function checkAgainstAnchor(dir: string, anchor: ExportAnchor, tables: readonly string[]): Promise<AnchorCheck> {
  const manifest = await readManifest(dir);
  if (!manifest) return { rewritten: [`${MANIFEST_FILE} is missing`], damaged: [] };
  const rewritten: string[] = [];
  const damaged: string[] = [];
  for (const table of tables) {
    const journaled = anchor.tables[table];
    const entry = manifest.tables[table];
    if (!journaled) continue;
    if (!entry) {
      rewritten.push(`${table} is no longer in the manifest`);
      continue;
    }
    const now = anchoredEntry(entry);
    const changed = (['file', 'rows', 'bytes', 'sha256'] as const).filter((k) => now[k] !== journaled[k]);
    if (JSON.stringify(now.digest) !== JSON.stringify(journaled.digest)) changed.push('digest' as never);
    if (changed.length > 0) {
      rewritten.push(
        `${table}: ${changed.map((k) => `${k} ${JSON.stringify(now[k as keyof AnchoredFile])} where the journal has ${JSON.stringify(journaled[k as keyof AnchoredFile])}`).join(', ')}`,
      );
      continue;
    }
    const file = await digestFile(join(dir, journaled.file)).catch(() => undefined);
    if (!file || file.sha256 !== journaled.sha256 || file.bytes !== journaled.bytes) damaged.push(table);
  }
  if (anchor.authUsers) {
    const file = await digestFile(join(dir, anchor.authUsers.file)).catch(() => undefined);
    if (manifest.authUsers?.sha256 !== anchor.authUsers.sha256) rewritten.push(`authUsers: sha256 differs from the journal`);
    else if (file?.sha256 !== anchor.authUsers.sha256) rewritten.push(`${anchor.authUsers.file} differs from the journal (export the auth users again)`);
  }
  return { rewritten, damaged };
}

/**
 * Before migrate.load, export.verify and migrate.verify: the export is what the journal says, or is
 * made so (damaged files re-exported from the still-frozen source), or the step is refused. Returns a
 * sentence for the step's notes, or null when there is no anchor to check against.
 */
export async function requireJournaledExport(ctx: StepContext, dir: string, where: string): Promise<string | null> {
  const anchor = journaledAnchor(ctx);
  if (!anchor) return null;
  const tables = ctx.plan.tables.map((t) => normalizeTableName(t.name));
  const found = await checkAgainstAnchor(dir, anchor, tables);
  if (found.rewritten.length > 0) {
    throw Object.assign(
      new Error(
        `${where} refused: the export in ${dir} is not the one export.tables recorded in the journal — ` +
          `${found.rewritten.join('; ')}. The manifest or its files were rewritten after the export. ` +
          `Keep the folder for the investigation; nothing was loaded from it.`,
      ),
      { retryable: false },
    );
  }
  if (found.damaged.length === 0) return `export matches the journal (${tables.length} files, manifest sha256 ${anchor.manifestSha256.slice(0, 12)}…)`;

  // Damaged files: made again only when the counters prove the source unchanged since the cutover point.
  const point = provenPoint(ctx);
  const source = planDatabase(ctx.plan, ctx.env, 'source', ctx.planDir);
  const reading = point ? await readProof(source, point) : undefined;
  if (!point || !reading || reading.writes.length > 0) {
    throw new Error(
      `${where}: ${found.damaged.map((t) => anchor.tables[t]!.file).join(', ')} no longer match the journal (damaged on disk), ` +
        (reading?.writes.length
          ? `and the source was written since the cutover point (${describeWrites(reading.writes)}), so an export made now would not be the same data. Roll back, or investigate the writes.`
          : `and no write counters were recorded at freeze.snapshot to prove the source unchanged. Roll back and start the window again.`),
    );
  }
  ctx.note(`${found.damaged.join(', ')} damaged on disk; the source is unchanged since the cutover point, exporting again`);
  await exportTables({ source, tables, dir, runId: ctx.runId, cutoverPoint: point as CutoverPoint, signal: ctx.signal });
  const after = await checkAgainstAnchor(dir, anchor, tables);
  if (after.rewritten.length > 0 || after.damaged.length > 0) {
    throw new Error(
      `${where}: exporting ${found.damaged.join(', ')} again did not reproduce the journaled files (${[...after.rewritten, ...after.damaged].join('; ')}). ` +
        `Roll back, or investigate the source.`,
    );
  }
  const sentence = `re-exported ${found.damaged.join(', ')} (damaged on disk) from the frozen source: identical to the journal`;
  ctx.note(sentence);
  return sentence;
}
