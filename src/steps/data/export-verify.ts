import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeTableName } from './catalog.js';
import { MANIFEST_FILE, digestFile, requireManifest, type CutoverPoint } from './manifest.js';

/**
 * export.verify: the files are what the manifest says (size, sha256, one line per row), every planned
 * table is there, row counts equal the cutover point's, and nothing is readable by other users.
 */

export interface ExportCheck {
  tables: number;
  rows: number;
  bytes: number;
  authUsers: number | null;
}

export async function verifyExport(options: {
  dir: string;
  tables: readonly string[];
  cutoverPoint?: CutoverPoint | null;
}): Promise<ExportCheck> {
  const manifest = await requireManifest(options.dir);
  const problems: string[] = [];
  const dirMode = (await stat(options.dir)).mode & 0o777;
  if (dirMode & 0o077) problems.push(`${options.dir} is readable by others (mode ${dirMode.toString(8)}; expected 700)`);
  await checkPrivate(join(options.dir, MANIFEST_FILE), problems);

  let rows = 0;
  let bytes = 0;
  const names = options.tables.map(normalizeTableName);
  for (const table of names) {
    const entry = manifest.tables[table];
    if (!entry) {
      problems.push(`${table} is not in the export`);
      continue;
    }
    const path = join(options.dir, entry.file);
    let digest;
    try {
      digest = await digestFile(path);
    } catch {
      problems.push(`${table}: ${entry.file} is missing`);
      continue;
    }
    if (digest.bytes !== entry.bytes) problems.push(`${table}: ${entry.file} has ${digest.bytes} bytes, the manifest says ${entry.bytes}`);
    else if (digest.sha256 !== entry.sha256) problems.push(`${table}: ${entry.file} does not match its sha256 in the manifest`);
    if (digest.lines !== entry.rows) problems.push(`${table}: ${entry.file} holds ${digest.lines} rows, the manifest says ${entry.rows}`);
    const expected = options.cutoverPoint?.counts[table];
    if (expected !== undefined && expected !== entry.rows) {
      problems.push(`${table}: ${entry.rows} rows exported but ${expected} counted at the cutover point`);
    }
    await checkPrivate(path, problems);
    rows += entry.rows;
    bytes += entry.bytes;
  }
  if (manifest.authUsers) {
    const path = join(options.dir, manifest.authUsers.file);
    try {
      const digest = await digestFile(path);
      if (digest.sha256 !== manifest.authUsers.sha256) problems.push(`${manifest.authUsers.file} does not match its sha256 in the manifest`);
      await checkPrivate(path, problems);
    } catch {
      problems.push(`${manifest.authUsers.file} is missing`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`The export in ${options.dir} is not sound:\n- ${problems.join('\n- ')}\nRun export.tables again: it rewrites what is damaged.`);
  }
  return { tables: names.length, rows, bytes, authUsers: manifest.authUsers?.users ?? null };
}

async function checkPrivate(path: string, problems: string[]): Promise<void> {
  try {
    const mode = (await stat(path)).mode & 0o777;
    if (mode & 0o077) problems.push(`${path} is readable by others (mode ${mode.toString(8)}; expected 600)`);
  } catch {
    problems.push(`${path} is missing`);
  }
}
