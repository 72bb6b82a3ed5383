import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import type { SequenceState } from './sequences.js';

/**
 * `manifest.json`: what an export folder holds, so that load and verify can trust the files and a
 * resumed export knows which tables are already done. Written atomically after every table.
 */

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

/** The moment the source was frozen and counted (`freeze.snapshot`). */
export interface CutoverPoint {
  /** Database time of the snapshot, ISO. */
  at: string;
  /** `pg_current_wal_lsn()` at that moment. */
  lsn: string;
  /** Exact row counts per table (`schema.table`). */
  counts: Record<string, number>;
  /** Write counters (pg_stat_user_tables) per table at that moment, for the proof over the whole freeze (proof.ts). */
  counters?: Record<string, { inserts: number; updates: number; deletes: number }>;
}

/** A column's owned sequence at export (kept for the record; positions come from `Manifest.sequences`). */
export interface OwnedSequenceState {
  column: string;
  /** Quoted, schema-qualified sequence name on the source. */
  sequence: string;
  lastValue: string;
  isCalled: boolean;
}

export interface TableEntry {
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** Columns in the file, in order (generated columns are never exported). */
  columns: string[];
  /** `format_type` of each column on the source, same order. */
  types: string[];
  sequences: OwnedSequenceState[];
  durationMs: number;
  exportedAt: string;
  /** WAL position of the snapshot the table was read from. */
  snapshotLsn: string;
  /**
   * Row count and content hash (see verify.ts) computed by the source database over the same snapshot
   * while the table was copied, so migrate.verify need not scan the source again during the window.
   */
  digest?: { rows: number; hash: string };
}

export interface AuthUsersEntry {
  file: string;
  users: number;
  pages: number;
  bytes: number;
  sha256: string;
  exportedAt: string;
}

export interface Manifest {
  version: number;
  runId: string;
  /** COPY text format: portable across PostgreSQL versions and readable with standard tools. */
  format: 'text';
  encoding: 'UTF8';
  /** Session settings the text was produced under. */
  session: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  cutoverPoint: CutoverPoint | null;
  tables: Record<string, TableEntry>;
  /**
   * Every sequence the tables use (owned or only in a column default) with the source's position,
   * read inside the freeze: migrate.load gives the target the same positions.
   */
  sequences?: SequenceState[];
  authUsers?: AuthUsersEntry;
}

/**
 * Read a versioned JSON file written atomically: undefined when absent; refused, with what to do,
 * when it does not parse (it was edited or the disk is damaged) or has a format this code does not read.
 */
export async function readVersionedJson<T extends { version: number }>(path: string, version: number, whatToDo: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: T;
  try {
    parsed = JSON.parse(text) as T;
  } catch {
    throw new Error(`${path} is not valid JSON. It is written atomically, so it was changed by hand or the disk is damaged: ${whatToDo}`);
  }
  if (parsed.version !== version) throw new Error(`${path} has format version ${parsed.version}; this cutover reads version ${version}.`);
  return parsed;
}

export function readManifest(dir: string): Promise<Manifest | undefined> {
  return readVersionedJson<Manifest>(join(dir, MANIFEST_FILE), MANIFEST_VERSION, 'move the folder aside and export again.');
}

export async function requireManifest(dir: string): Promise<Manifest> {
  const manifest = await readManifest(dir);
  if (!manifest) throw new Error(`No export found: ${join(dir, MANIFEST_FILE)} does not exist. Run export.tables first.`);
  return manifest;
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

/** Create the folder owner-only (0700), also fixing the mode of an existing one (mkdir's mode obeys the umask). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

export interface FileDigest {
  bytes: number;
  sha256: string;
  /** Number of newline characters: in COPY text format, exactly the number of rows. */
  lines: number;
}

export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  let lines = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    lines += countNewlines(chunk);
  }
  return { bytes, sha256: hash.digest('hex'), lines };
}

export function countNewlines(chunk: Buffer): number {
  let count = 0;
  let at = chunk.indexOf(10);
  while (at !== -1) {
    count++;
    at = chunk.indexOf(10, at + 1);
  }
  return count;
}

/** True when the file exists with the recorded size and checksum. */
export async function fileMatches(path: string, expected: { bytes: number; sha256: string }): Promise<boolean> {
  try {
    const info = await stat(path);
    if (info.size !== expected.bytes) return false;
  } catch {
    return false;
  }
  const digest = await digestFile(path);
  return digest.sha256 === expected.sha256;
}

export function newManifest(runId: string, session: Record<string, string>, cutoverPoint: CutoverPoint | null): Manifest {
  const now = new Date().toISOString();
  return {
    version: MANIFEST_VERSION,
    runId,
    format: 'text',
    encoding: 'UTF8',
    session,
    createdAt: now,
    updatedAt: now,
    cutoverPoint,
    tables: {},
  };
}
