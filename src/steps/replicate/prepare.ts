import { recordSchemaBeforeFill } from '../data/load.js';
import { rm } from 'node:fs/promises';
import type pg from 'pg';
import { quoteQualified, type Database } from '../../adapters/postgres.js';
import { normalizeTableName } from '../data/catalog.js';
import type { Progress } from '../types.js';
import { copyFromSnapshot, ensureProgressTable, type CopyResult } from './initial-copy.js';
import { holderInfoFile, liveHeldSnapshot, readHolderInfo, releaseHolder, startHolder } from './holder.js';
import { PROGRESS_TABLE, replicationNames, type ReplicationNames } from './names.js';
import { dropSlot, ensureMarkerTable, ensurePublication, ensureSubscription, slotInfo, subscriptionExists } from './objects.js';
import { replicationReadiness } from './readiness.js';
import { rebuildIndexes, setIndexesAside } from './indexes.js';
import { readFingerprint, type SchemaFingerprint } from './fingerprint.js';

/**
 * prep.replicate: publication → slot with an exported snapshot → parallel initial copy from that
 * snapshot → subscription on the existing slot (no copy of its own). Every stage is found done or
 * redone on a re-run:
 * - the subscription exists: nothing to do;
 * - the slot exists and its snapshot is still held (the runner was killed mid-copy, the detached
 *   holder was not): the copy goes on, skipping the chunks recorded on the target;
 * - the slot exists, its snapshot is gone, but every chunk of that snapshot was copied: subscribe;
 * - the slot exists otherwise (left by a killed run whose snapshot died): it is dropped, and the
 *   copy starts over from a new slot, since rows copied from another snapshot cannot be trusted.
 */

export interface PrepareOptions {
  source: Database;
  target: Database;
  /** Given to the snapshot holder (its environment) and to the subscription (the target's catalog). */
  sourceUrl: string;
  runId: string;
  stateDir: string;
  tables: readonly { name: string; key: readonly string[] }[];
  workers: number;
  chunkRows: number;
  progress?: (report: Progress) => void;
  note?: (message: string) => void;
  signal?: AbortSignal;
}

export interface PrepareResult {
  names: ReplicationNames;
  /** The slot's consistent point: the copy shows everything before it, replication streams from it. */
  startLsn: string | null;
  copy: CopyResult | null;
  /** What this attempt found already done. */
  resumed: 'streaming' | 'copy' | 'subscribe' | null;
  /** A slot of an earlier attempt whose snapshot was gone, dropped before starting over. */
  droppedStaleSlot: boolean;
  subscriptionCreated: boolean;
  /** Indexes and key constraints set aside for the copy and built again after it, and how long that took. */
  rebuilt: number;
  rebuildMs: number;
  /** The plan tables' columns on the source now; the window compares them to catch DDL meanwhile. */
  fingerprint: SchemaFingerprint;
}

export async function prepareReplication(options: PrepareOptions): Promise<PrepareResult> {
  const names = replicationNames(options.runId);
  const infoFile = holderInfoFile(options.stateDir, options.runId);
  const tableIds = options.tables.map((t) => normalizeTableName(t.name));
  const source = await options.source.connect();
  const target = await options.target.connect();
  try {
    const fingerprint = await readFingerprint(source, tableIds);
    if (await subscriptionExists(target, names.subscription)) {
      const info = await readHolderInfo(infoFile);
      return { names, startLsn: info?.lsn ?? null, copy: null, resumed: 'streaming', droppedStaleSlot: false, subscriptionCreated: false, fingerprint, rebuilt: 0, rebuildMs: 0 };
    }
    const readiness = await replicationReadiness(source, options.source.label, tableIds, options.tables);
    if (readiness.problems.length > 0) {
      throw Object.assign(new Error(readiness.problems.join(' ')), { retryable: false });
    }
    await ensureMarkerTable(source);
    await ensureMarkerTable(target);
    await ensureProgressTable(target);
    // What migrate.verify compares the target's schema with: taken before indexes are set aside.
    await recordSchemaBeforeFill(target, options.runId, tableIds);
    // Before the slot: pgoutput reads the publication as of each change's position, so a publication
    // younger than the slot's start would not be found when decoding from there.
    await ensurePublication(source, names.publication, tableIds.map(quoteQualified));

    let resumed: PrepareResult['resumed'] = null;
    let droppedStaleSlot = false;
    let held = await liveHeldSnapshot(source, infoFile, names.slot);
    let copyComplete = false;
    if (held) {
      resumed = 'copy';
    } else if (await slotInfo(source, names.slot)) {
      const info = await readHolderInfo(infoFile);
      if (info?.snapshot && info.slot === names.slot && (await copyIsComplete(target, options.runId, info.snapshot))) {
        held = info;
        copyComplete = true;
        resumed = 'subscribe';
      } else {
        options.note?.(`replication slot ${names.slot} was left by an interrupted attempt whose snapshot is gone: dropped, the copy starts over`);
        await dropSlot(source, names.slot);
        droppedStaleSlot = true;
      }
    }
    if (!held) {
      // A new snapshot: whatever an earlier snapshot's copy left on the target is not part of it.
      await target.query(`DELETE FROM ${PROGRESS_TABLE} WHERE run_id = $1`, [options.runId]);
      await target.query(`TRUNCATE ${tableIds.map(quoteQualified).join(', ')}`);
      await setIndexesAside(source, target, options.runId, tableIds, options.target.label);
      held = await startHolder({ sourceUrl: options.sourceUrl, slot: names.slot, file: infoFile });
    }

    const copy = copyComplete
      ? null
      : await copyFromSnapshot({
          source: options.source,
          target: options.target,
          runId: options.runId,
          snapshot: held.snapshot!,
          tables: options.tables.map((t) => ({ name: normalizeTableName(t.name), key: t.key })),
          workers: options.workers,
          chunkRows: options.chunkRows,
          ...(options.progress ? { progress: options.progress } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
    // The snapshot is no longer needed; the slot keeps the WAL from its consistent point on.
    await releaseHolder(source, names.slot);
    // Before the subscription: its apply worker finds the rows to update and delete by primary key.
    options.progress?.({ label: 'rebuilding indexes set aside for the copy', done: 0 });
    const rebuildStarted = Date.now();
    const rebuilt = await rebuildIndexes(target, options.runId);
    const rebuildMs = Date.now() - rebuildStarted;
    const subscriptionCreated = await ensureSubscription(target, names, options.sourceUrl);
    return { names, startLsn: held.lsn ?? null, copy, resumed, droppedStaleSlot, subscriptionCreated, fingerprint, rebuilt, rebuildMs };
  } finally {
    await Promise.all([source.end().catch(() => {}), target.end().catch(() => {})]);
  }
}

async function copyIsComplete(target: pg.Client, runId: string, snapshot: string): Promise<boolean> {
  const { rows } = await target.query<{ total: string; pending: string }>(
    `SELECT count(*)::text AS total, count(*) FILTER (WHERE rows IS NULL)::text AS pending FROM ${PROGRESS_TABLE} WHERE run_id = $1 AND snapshot = $2`,
    [runId, snapshot],
  );
  return Number(rows[0]!.total) > 0 && Number(rows[0]!.pending) === 0;
}

/** Remove the holder's file once the slot is gone. */
export async function forgetHolder(stateDir: string, runId: string): Promise<void> {
  await rm(holderInfoFile(stateDir, runId), { force: true });
}
