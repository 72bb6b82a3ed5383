import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { holderApplicationName, type HolderInfo } from './names.js';

/** Where the holder of a run's snapshot writes what it holds. */
export function holderInfoFile(stateDir: string, runId: string): string {
  return join(stateDir, `replicate-snapshot.${runId}.json`);
}

/** The compiled holder script (tests run the sources, so they use the build's copy). */
function holderScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'snapshot-holder.js'), resolve(here, '../../../dist/src/steps/replicate/snapshot-holder.js')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`snapshot-holder.js not found (looked in ${candidates.join(', ')}): build with npm run build.`);
  return found;
}

export async function readHolderInfo(file: string): Promise<HolderInfo | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HolderInfo;
  } catch {
    return undefined;
  }
}

/**
 * The snapshot still held for `slot`, if its holder's connection is alive on the source: only then
 * can a resumed copy go on from the same snapshot.
 */
export async function liveHeldSnapshot(source: pg.Client, file: string, slot: string): Promise<HolderInfo | undefined> {
  const info = await readHolderInfo(file);
  if (!info?.snapshot || info.slot !== slot || !info.backendPid) return undefined;
  const alive = await source.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND application_name = $2`, [
    info.backendPid,
    holderApplicationName(slot),
  ]);
  return alive.rowCount ? info : undefined;
}

/** Start a detached holder that creates `slot` with an exported snapshot; wait for what it reports. */
export async function startHolder(options: { sourceUrl: string; slot: string; file: string; timeoutMs?: number }): Promise<HolderInfo> {
  await rm(options.file, { force: true });
  const child = spawn(process.execPath, [holderScript(), options.slot, options.file], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', CUTOVER_SNAPSHOT_SOURCE_URL: options.sourceUrl },
  });
  child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const info = await readHolderInfo(options.file);
    if (info?.error) throw new Error(`Could not create the replication slot ${options.slot} on the source: ${info.error}`);
    if (info?.snapshot) return info;
    if (child.exitCode !== null) throw new Error(`The snapshot holder for ${options.slot} ended (exit ${child.exitCode}) before creating the slot.`);
    await delay(50);
  }
  child.kill();
  throw new Error(`The replication slot ${options.slot} was not created within ${Math.round((options.timeoutMs ?? 120_000) / 1000)} s.`);
}

/** End every holder connection of `slot` on the source (the holder process then exits by itself). */
export async function releaseHolder(source: pg.Client, slot: string): Promise<number> {
  const result = await source.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
    [holderApplicationName(slot)],
  );
  return result.rowCount ?? 0;
}
