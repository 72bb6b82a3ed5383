import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startLiveWrites, type LiveWrites, type Route } from './live-writes.js';

/**
 * What a `--strategy replicate` rehearsal adds to the world: sensors writing through the whole run
 * to wherever the DNS points (the source until the switch, then the new system), and a sampler of
 * the replication's lag and retained WAL, for the report.
 */

export interface LagSample {
  /** Wall clock, ms. */
  at: number;
  lagBytes: number;
  retainedBytes: number;
  /** pg_stat_replication.flush_lag of the subscription's walsender, when reported. */
  flushLagMs: number | null;
}

export interface ReplicateWorld {
  writes: LiveWrites;
  lag: LagSample[];
  /** Stop writing and sampling; then count the acknowledged writes missing on the target. */
  finish(): Promise<{ acknowledged: number; missing: string[] }>;
}

export function startReplicateWorld(options: {
  sourceUrl: string;
  targetUrl: string;
  zoneFile: string;
  /** The record the application follows, and the value that means "the new system". */
  record: { name: string; newValue: string };
}): ReplicateWorld {
  let cached: { at: number; route: Route } = { at: 0, route: 'old' };
  const route = (): Route => {
    if (Date.now() - cached.at < 50) return cached.route;
    let now: Route = cached.route;
    try {
      const zone = JSON.parse(readFileSync(options.zoneFile, 'utf8')) as { records: { name: string; content: string }[] };
      const record = zone.records.find((r) => r.name === options.record.name);
      now = record?.content === options.record.newValue ? 'new' : 'old';
    } catch {
      // Mid-rename or not written yet: keep the last answer.
    }
    cached = { at: Date.now(), route: now };
    return now;
  };
  const writes = startLiveWrites({ urls: { old: options.sourceUrl, new: options.targetUrl }, route, role: 'service_role', intervalMs: 20 });
  const lag: LagSample[] = [];
  const sampler = new pg.Client({ connectionString: options.sourceUrl, application_name: 'rehearsal-lag' });
  sampler.on('error', () => {});
  let sampling = true;
  const loop = (async () => {
    await sampler.connect();
    while (sampling) {
      const { rows } = await sampler
        .query<{ lag: string; retained: string; flush_ms: string | null }>(
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained,
                  (extract(epoch FROM r.flush_lag) * 1000)::bigint::text AS flush_ms
             FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
            WHERE s.slot_name LIKE 'cutover\\_%' AND s.confirmed_flush_lsn IS NOT NULL`,
        )
        .catch(() => ({ rows: [] }));
      const row = rows[0];
      if (row) lag.push({ at: Date.now(), lagBytes: Number(row.lag), retainedBytes: Number(row.retained), flushLagMs: row.flush_ms === null ? null : Number(row.flush_ms) });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })().catch(() => {});
  return {
    writes,
    lag,
    async finish() {
      sampling = false;
      await writes.stop();
      await loop;
      await sampler.end().catch(() => {});
      const ids = [...writes.acknowledged.old, ...writes.acknowledged.new];
      const target = new pg.Client({ connectionString: options.targetUrl });
      await target.connect();
      try {
        const { rows } = await target.query<{ id: string }>(
          `SELECT a.id::text FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM public.temperature_readings r WHERE r.id = a.id)`,
          [ids],
        );
        return { acknowledged: ids.length, missing: rows.map((r) => r.id) };
      } finally {
        await target.end();
      }
    },
  };
}
