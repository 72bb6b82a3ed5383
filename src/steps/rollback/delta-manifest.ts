import { join } from 'node:path';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { fileSafe } from '../data/export.js';
import { fileMatches, readVersionedJson, type CutoverPoint } from '../data/manifest.js';

/**
 * `rollback-delta/manifest.json`: what rollback.export-delta found on the target, table by table,
 * so that a resumed export keeps the tables it finished and rollback.reimport trusts the files.
 * Written atomically (0600) after every table.
 */

export const DELTA_MANIFEST_FILE = 'manifest.json';
export const DELTA_MANIFEST_VERSION = 1;
/** The folder inside the run's export folder. */
export const DELTA_DIR = 'rollback-delta';
/** Written by rollback.reimport beside the delta files. */
export const MANUAL_REVIEW_FILE = 'manual-review.md';

/** One file of the delta, in COPY text format (one line per row). */
export interface DeltaFile {
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface DeltaTableEntry {
  /** The plan's `appendOnly`: new rows go back into the source; everything else is for review. */
  appendOnly: boolean;
  /** The plan's key columns. */
  key: string[];
  /** Columns of `new` and `changed` (the source's data columns, generated ones left out), in order. */
  columns: string[];
  /** `format_type` of each column on the source. */
  types: string[];
  /**
   * Single integer key: target rows above the source's largest key are new without any comparison
   * (`sourceMax` null: the source table is empty, so every target row is new).
   */
  split: { column: string; sourceMax: string | null } | null;
  sourceRows: number;
  targetRows: number;
  /** Key-hash buckets (of 1024) whose count or content hash differed between the two sides. */
  bucketsDiffering: number;
  /** Target rows whose key the source does not have (full rows, target version). */
  new: DeltaFile;
  /** Rows with the same key on both sides but different values (full rows, target version). */
  changed: DeltaFile;
  /** Keys the source has and the target does not (key columns only; the source still has the row). */
  deleted: DeltaFile;
  /**
   * New rows whose `timestampColumn` is not after the cutover point (late arrivals, e.g. readings a
   * gateway buffered): the rows a timestamp filter would have lost. Absent without a timestamp column.
   */
  newStampedBeforeCutover?: number;
  exportedAt: string;
}

/** Ids the target handed out, reserved on the source before it was unfrozen (see export-delta.ts). */
export interface ReservedIds {
  table: string;
  column: string;
  /** Canonical id of the sequence on the source (it may serve several tables; this is its first use). */
  sequence: string;
  /** The last value the source's sequence counts as handed out: it now returns values past this, in its direction. */
  through: string;
}

export interface DeltaManifest {
  version: number;
  runId: string;
  cutoverPoint: CutoverPoint | null;
  /** False when the target holds no table loaded by this run: nothing can have been written there. */
  targetLoaded: boolean;
  /** Plan tables left out, with the reason (e.g. never loaded by this run). */
  skipped: { table: string; reason: string }[];
  tables: Record<string, DeltaTableEntry>;
  reserved: ReservedIds[];
  /** Set once every table is exported and the ids are reserved. */
  complete: boolean;
  createdAt: string;
  updatedAt: string;
}

export function readDeltaManifest(dir: string): Promise<DeltaManifest | undefined> {
  return readVersionedJson<DeltaManifest>(
    join(dir, DELTA_MANIFEST_FILE),
    DELTA_MANIFEST_VERSION,
    'move the folder aside and run rollback.export-delta again (the target is frozen, so the delta is unchanged).',
  );
}

export async function writeDeltaManifest(dir: string, manifest: DeltaManifest): Promise<void> {
  manifest.updatedAt = new Date().toISOString();
  await writeFileAtomic(join(dir, DELTA_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

/** The three files of a table, all present with their recorded size and checksum. */
export async function deltaFilesMatch(dir: string, entry: DeltaTableEntry): Promise<boolean> {
  for (const file of [entry.new, entry.changed, entry.deleted]) {
    if (!(await fileMatches(join(dir, file.file), file))) return false;
  }
  return true;
}

export function deltaFileName(table: string, kind: 'new' | 'changed' | 'deleted'): string {
  return `${fileSafe(table)}.${kind}.copy`;
}
