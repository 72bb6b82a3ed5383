import type pg from 'pg';
import { quoteIdent, quoteLiteral, withConnection, type Database } from '../../adapters/postgres.js';
import { readTables } from '../data/catalog.js';
import { ensureMarkerTable, ensurePublication, slotInfo, subscriptionExists, dropReplication, type Dropped } from './objects.js';
import type { ReplicationNames } from './names.js';
import { drainToFreeze, type DrainResult } from './window.js';

/**
 * Reverse replication, for a rollback that loses nothing: from the detach on (both sides frozen and
 * equal, before anything writes to the target), the target publishes the plan tables and the source
 * subscribes, so every write the new system takes after the switch is on the old one too. The
 * rollback freezes the target, drains this subscription the way the window drains the forward one
 * (a marker written after the freeze, applied in commit order), and drops it; the delta export that
 * follows then finds the source already holding every row. Where the source cannot subscribe, the
 * rollback is the delta export and re-import alone, as before.
 *
 * The frozen source takes these writes: its barrier (src/steps/data/barrier.ts) is a statement-level
 * trigger, which the apply worker of a subscription does not fire for INSERT, UPDATE and DELETE, and
 * the grants freeze.enable revoked are the application roles', not the subscription owner's.
 *
 * The same objects as the forward direction with the sides swapped, so the same functions create,
 * drain and drop them: `source` below is the database that publishes (the target).
 */

/** Why the source cannot take a subscription, or null when it can (PostgreSQL 17+, and a role allowed to). */
export async function reverseUnsupported(source: pg.Client, target: pg.Client): Promise<string | null> {
  const { rows } = await source.query<{ version: number; allowed: boolean }>(
    `SELECT current_setting('server_version_num')::int AS version,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
              OR pg_has_role(current_user, 'pg_create_subscription', 'MEMBER') AS allowed`,
  );
  const { version, allowed } = rows[0]!;
  if (version < 170000) return `the source runs PostgreSQL ${Math.floor(version / 10000)}, and a subscription on it needs 17 or later`;
  if (!allowed) return `the source's role may not create a subscription (grant it pg_create_subscription)`;
  const wal = await target.query<{ level: string }>(`SELECT current_setting('wal_level') AS level`);
  if (wal.rows[0]!.level !== 'logical') return `the target's wal_level is ${wal.rows[0]!.level}, not logical, so it cannot publish its changes`;
  return null;
}

/** Publication and slot on the target, subscription on the source streaming from the slot; idempotent. */
export async function startReverse(options: { source: Database; target: Database; targetUrl: string; names: ReplicationNames; tables: readonly string[] }): Promise<{ started: boolean; reason: string | null }> {
  return withConnection(options.source, (source) =>
    withConnection(options.target, async (target) => {
      const reason = await reverseUnsupported(source, target);
      if (reason) return { started: false, reason };
      const quoted = (await readTables(target, options.tables, options.target.label)).map((t) => t.quoted);
      await ensureMarkerTable(target);
      await ensureMarkerTable(source);
      await ensurePublication(target, options.names.publication, quoted);
      // Made here, not by CREATE SUBSCRIPTION: on one cluster that would wait for itself.
      if (!(await slotInfo(target, options.names.slot))) {
        await target.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [options.names.slot]);
      }
      if (!(await subscriptionExists(source, options.names.subscription))) {
        await source.query(
          `CREATE SUBSCRIPTION ${quoteIdent(options.names.subscription)} CONNECTION ${quoteLiteral(options.targetUrl)} PUBLICATION ${quoteIdent(options.names.publication)}
           WITH (create_slot = false, slot_name = ${quoteLiteral(options.names.slot)}, copy_data = false, enabled = true, streaming = off)`,
        );
      }
      return { started: true, reason: null };
    }),
  );
}

/** Whether the reverse subscription exists on the source (the rollback then drains it). */
export async function reverseRunning(source: Database, names: ReplicationNames): Promise<boolean> {
  return withConnection(source, (client) => subscriptionExists(client, names.subscription));
}

/**
 * Once the target is frozen: the source applies everything the target committed before, then the
 * reverse objects go. The target's WAL position after its freeze plays the freeze's part.
 */
export async function drainReverse(options: { source: Database; target: Database; names: ReplicationNames; timeoutMs: number; signal?: AbortSignal }): Promise<DrainResult> {
  const frozenAt = await withConnection(options.target, async (t) => (await t.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
  return drainToFreeze({ source: options.target, target: options.source, names: options.names, freezeLsn: frozenAt, timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
}

/** Subscription (source), slot and publication (target), and the marker tables: gone, idempotently. */
export async function dropReverse(source: pg.Client, target: pg.Client, names: ReplicationNames): Promise<Dropped> {
  return dropReplication(target, source, names);
}
