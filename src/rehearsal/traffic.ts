import { openPool } from '../adapters/postgres.js';

/**
 * What happens to the new system after the switch in a rehearsal: every sensor keeps sending a
 * reading every 5 minutes (virtual time), and, when asked, some migrated rows disappear (drift that
 * the next reconciliation must catch and name).
 */
export interface Traffic {
  /** Write the readings due between the last call and `now` (ms), starting at the switch. */
  ingestUntil(switchedAt: number, now: number): Promise<number>;
  /** Readings written to the target after the switch so far. */
  ingested(): number;
  /** Delete `count` readings that were migrated (recorded before the freeze); returns their ids. */
  injectDrift(count: number, frozenAt: number): Promise<{ id: string; sensorId: string; recordedAt: string }[]>;
  close(): Promise<void>;
}

const CADENCE_MS = 5 * 60_000;

export function startTraffic(targetUrl: string): Traffic {
  const pool = openPool(targetUrl, { label: 'rehearsal traffic', applicationName: 'rehearsal traffic', statementTimeoutMs: 30_000, max: 2 });
  let cursor: number | undefined;
  let total = 0;
  return {
    async ingestUntil(switchedAt, now) {
      const from = cursor ?? Math.ceil(switchedAt / CADENCE_MS) * CADENCE_MS;
      if (from > now) return 0;
      const to = Math.floor(now / CADENCE_MS) * CADENCE_MS;
      // Every sensor: the generated history has all of them reporting up to the freeze, and one that
      // fell silent after the switch is exactly what reconciliation reports as an ingestion gap.
      // Values vary by sensor and time without random(): a rehearsal is repeatable.
      const { rowCount } = await pool.query(
        `insert into public.temperature_readings (sensor_id, recorded_at, temperature, humidity, battery_level, signal_strength, received_at)
         select s.id, t,
                round((3 + 2 * sin(extract(epoch from t) / 3600 + hashtext(s.id::text) % 7))::numeric, 2),
                round((55 + 10 * cos(extract(epoch from t) / 7200))::numeric, 2),
                90, -70, t
           from public.sensors s
           cross join generate_series($1::timestamptz, $2::timestamptz, interval '5 minutes') t`,
        [new Date(from).toISOString(), new Date(to).toISOString()],
      );
      cursor = to + CADENCE_MS;
      total += rowCount ?? 0;
      return rowCount ?? 0;
    },
    ingested: () => total,
    async injectDrift(count, frozenAt) {
      // Spread over the history (every k-th migrated reading), so several buckets drift.
      const { rows } = await pool.query<{ id: string; sensor_id: string; recorded_at: Date }>(
        `with migrated as (
           select id, row_number() over (order by id) as n, count(*) over () as total
             from public.temperature_readings where recorded_at < $2)
         delete from public.temperature_readings r
          using migrated m
          where r.id = m.id and m.n % greatest(1, m.total / $1) = 0 and m.n <= greatest(1, m.total / $1) * $1
         returning r.id, r.sensor_id, r.recorded_at`,
        [count, new Date(frozenAt).toISOString()],
      );
      return rows.map((row) => ({ id: String(row.id), sensorId: row.sensor_id, recordedAt: row.recorded_at.toISOString() }));
    },
    close: () => pool.end(),
  };
}
