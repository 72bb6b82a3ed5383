import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../../adapters/postgres.js';
import { releaseHolder } from './holder.js';
import { MARKER_TABLE, META_SCHEMA, type ReplicationNames } from './names.js';

/**
 * Creating and dropping the replication objects, each idempotent: publication, slot and marker on
 * the source, subscription on the target. Used by prep.replicate, the window, and the cleanup of
 * abort, rollback and close.
 */

export async function ensureMarkerTable(client: pg.Client): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} (run_id text PRIMARY KEY, token text NOT NULL, lsn pg_lsn, written_at timestamptz NOT NULL DEFAULT now())`,
  );
}

export async function publicationExists(source: pg.Client, name: string): Promise<boolean> {
  return Boolean((await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name])).rowCount);
}

export async function slotInfo(source: pg.Client, slot: string): Promise<{ active: boolean; activePid: number | null; confirmedFlush: string | null } | undefined> {
  const { rows } = await source.query<{ active: boolean; active_pid: number | null; confirmed_flush_lsn: string | null }>(
    'SELECT active, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const row = rows[0];
  return row ? { active: row.active, activePid: row.active_pid, confirmedFlush: row.confirmed_flush_lsn } : undefined;
}

export async function subscriptionExists(target: pg.Client, name: string): Promise<boolean> {
  return Boolean((await target.query('SELECT 1 FROM pg_subscription WHERE subname = $1', [name])).rowCount);
}

/** `CREATE PUBLICATION ... FOR TABLE <plan tables>, <marker>` unless it exists. */
export async function ensurePublication(source: pg.Client, name: string, quotedTables: readonly string[]): Promise<boolean> {
  if (await publicationExists(source, name)) return false;
  // Through the partition root: the target may partition differently (or not at all).
  await source.query(
    `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${[...quotedTables, MARKER_TABLE].join(', ')} WITH (publish_via_partition_root = true)`,
  );
  return true;
}

/**
 * The subscription on the target, streaming from the slot the initial copy started at; no copy of its
 * own. `streaming = off` (the default before PostgreSQL 18): a transaction is applied once it has
 * committed on the source, which the verify marks of delta-verify.ts rely on.
 */
export async function ensureSubscription(target: pg.Client, names: ReplicationNames, sourceUrl: string): Promise<boolean> {
  if (await subscriptionExists(target, names.subscription)) return false;
  await target.query(
    `CREATE SUBSCRIPTION ${quoteIdent(names.subscription)} CONNECTION ${quoteLiteral(sourceUrl)} PUBLICATION ${quoteIdent(names.publication)}
     WITH (create_slot = false, slot_name = ${quoteLiteral(names.slot)}, copy_data = false, enabled = true, streaming = off)`,
  );
  return true;
}

/** Wait until nothing uses the slot (a walsender that was told to stop takes a moment), ending it if it lingers. */
async function waitSlotInactive(source: pg.Client, slot: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await slotInfo(source, slot);
    if (!info?.active) return;
    if (Date.now() > deadline) {
      if (info.activePid !== null) await source.query('SELECT pg_terminate_backend($1)', [info.activePid]);
      await delay(200);
      if (!(await slotInfo(source, slot))?.active) return;
      throw new Error(`The replication slot ${slot} is still in use by process ${info.activePid} on the source.`);
    }
    await delay(100);
  }
}

export async function dropSlot(source: pg.Client, slot: string): Promise<boolean> {
  await releaseHolder(source, slot);
  if (!(await slotInfo(source, slot))) return false;
  await waitSlotInactive(source, slot);
  await source.query('SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return true;
}

/**
 * Drop the subscription without letting it drop the slot itself (it would connect to the source,
 * which may be down, and on one server that deadlocks): disable, detach from the slot, drop.
 */
export async function dropSubscription(target: pg.Client, name: string): Promise<boolean> {
  if (!(await subscriptionExists(target, name))) return false;
  const sub = quoteIdent(name);
  await target.query(`ALTER SUBSCRIPTION ${sub} DISABLE`);
  await target.query(`ALTER SUBSCRIPTION ${sub} SET (slot_name = NONE)`);
  await target.query(`DROP SUBSCRIPTION ${sub}`);
  return true;
}

export interface Dropped {
  subscription: boolean;
  slot: boolean;
  publication: boolean;
  marker: boolean;
}

/** Everything the strategy made, gone: what was actually dropped is returned (all false: nothing was there). */
export async function dropReplication(source: pg.Client | undefined, target: pg.Client | undefined, names: ReplicationNames): Promise<Dropped> {
  const dropped: Dropped = { subscription: false, slot: false, publication: false, marker: false };
  if (target) {
    dropped.subscription = await dropSubscription(target, names.subscription);
    await target.query(`DROP TABLE IF EXISTS ${MARKER_TABLE}`);
  }
  if (source) {
    dropped.slot = await dropSlot(source, names.slot);
    if (await publicationExists(source, names.publication)) {
      await source.query(`DROP PUBLICATION ${quoteIdent(names.publication)}`);
      dropped.publication = true;
    }
    const marker = await source.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [MARKER_TABLE]);
    if (marker.rows[0]?.present) {
      // Another run's marker row may still be there: drop only when ours is the last.
      const others = await source.query(`SELECT 1 FROM ${MARKER_TABLE} WHERE run_id <> $1 LIMIT 1`, [names.slot]);
      if (!others.rowCount) {
        await source.query(`DROP TABLE ${MARKER_TABLE}`);
        await source.query(`DROP SCHEMA IF EXISTS ${META_SCHEMA}`).catch(() => {});
        dropped.marker = true;
      }
    }
  }
  return dropped;
}
