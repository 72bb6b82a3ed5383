import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { startLiveWrites } from '../../src/rehearsal/live-writes.js';
import { replicationNames } from '../../src/steps/replicate/names.js';
import { dropReplication } from '../../src/steps/replicate/objects.js';
import { prepareReplication } from '../../src/steps/replicate/prepare.js';
import { copySequences, drainToFreeze } from '../../src/steps/replicate/window.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import { makePair, tableText, type Pair } from '../data/support.js';
import { useLogicalPostgres } from './support.js';

/**
 * The replicate strategy end to end on real PostgreSQL, under live traffic: sensors write to the
 * source during the initial copy and after it, the source is frozen (grants revoked, as freeze.enable
 * does), the target drains to the freeze's WAL position, and then every acknowledged write is on the
 * target, the tables are identical, the sequences are positioned, and the source keeps nothing.
 */

const server = useLogicalPostgres();
const TABLES = freshTrackTables!.map((t) => ({ name: t.name, key: t.key }));
const NAMES = TABLES.map((t) => t.name);
const runId = '20261130-0900-live';
let pair: Pair;
let stateDir: string;

beforeAll(async () => {
  pair = await makePair(server(), 'live');
  stateDir = await mkdtemp(join(tmpdir(), 'cutover-replicate-'));
  await prepareFreshTrackPair(pair.sourceUrl, pair.targetUrl, { readings: 200_000, seed: 5 });
}, 300_000);
afterAll(async () => {
  await pair.cleanup();
  await rm(stateDir, { recursive: true, force: true });
});

describe('replicate under live writes', () => {
  it('loses no acknowledged write and leaves nothing on the source', async () => {
    const indexes = async () => (await pair.sql<{ indexdef: string }>('target', `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.indexdef);
    const indexesBefore = await indexes();
    const generated = (await pair.sql<{ max: string }>('source', 'SELECT max(id)::text AS max FROM public.temperature_readings'))[0]!.max;
    const writes = startLiveWrites({ urls: { old: pair.sourceUrl, new: pair.targetUrl }, route: () => 'old', role: 'service_role', intervalMs: 5 });
    try {
      const prepared = await prepareReplication({
        source: pair.source,
        target: pair.target,
        sourceUrl: pair.sourceUrl,
        runId,
        stateDir,
        tables: TABLES,
        workers: 3,
        chunkRows: 30_000,
      });
      expect(prepared.subscriptionCreated).toBe(true);
      // The large table's indexes, set aside for the copy, are all back before replication starts.
      expect(await indexes()).toEqual(indexesBefore);
      // The large table was split into key ranges and copied by several workers.
      const readings = prepared.copy!.tables.find((t) => t.table === 'public.temperature_readings')!;
      expect(readings.chunks).toBeGreaterThan(3);
      const duringCopy = writes.acknowledged.old.length;
      expect(duringCopy).toBeGreaterThan(0);
      // Writes keep arriving while replication runs; and an update and a delete, which need the replica identity.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await pair.sql('source', `UPDATE public.temperature_readings SET temperature = temperature + 1 WHERE id % 1000 = 7`);
      await pair.sql('source', `DELETE FROM public.temperature_readings WHERE id % 1000 = 8 AND id <= $1`, [generated]);

      // The freeze: the app role loses its write grants; its next write is refused.
      await pair.sql('source', `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM service_role`);
      const deadline = Date.now() + 30_000;
      while (writes.firstRefusedAt === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(writes.firstRefusedAt).toBeDefined();
      const { lsn } = (await pair.sql<{ lsn: string }>('source', 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!;
      const names = replicationNames(runId);
      const drained = await drainToFreeze({ source: pair.source, target: pair.target, names, freezeLsn: lsn, timeoutMs: 60_000 });
      expect(drained.waitedMs).toBeLessThan(60_000);
      const sequences = await copySequences({ source: pair.source, target: pair.target, tables: NAMES });
      expect(sequences.some((s) => s.sequence === 'public.temperature_readings_id_seq' && s.isCalled)).toBe(true);

      const acknowledged = writes.acknowledged.old;
      expect(acknowledged.length).toBeGreaterThan(duringCopy);
      const present = await pair.sql<{ n: string }>('target', 'SELECT count(*)::text AS n FROM public.temperature_readings WHERE id = ANY ($1::bigint[])', [acknowledged]);
      expect(Number(present[0]!.n)).toBe(acknowledged.length);
      for (const table of NAMES) {
        expect(await tableText(pair, 'target', table, '1'), table).toEqual(await tableText(pair, 'source', table, '1'));
      }
      const report = await verifyTables({ source: pair.source, target: pair.target, tables: TABLES });
      expect(report.ok).toBe(true);

      // The new system's next reading gets an id the source never handed out.
      const { max } = (await pair.sql<{ max: string }>('source', 'SELECT max(id)::text AS max FROM public.temperature_readings'))[0]!;
      const { id } = (await pair.sql<{ id: string }>(
        'target',
        `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature) SELECT id, now(), 1 FROM public.sensors LIMIT 1 RETURNING id::text`,
      ))[0]!;
      expect(BigInt(id)).toBeGreaterThan(BigInt(max));

      const src = await pair.source.connect();
      const tgt = await pair.target.connect();
      try {
        const dropped = await dropReplication(src, tgt, names);
        expect(dropped).toEqual({ subscription: true, slot: true, publication: true, marker: true });
      } finally {
        await src.end();
        await tgt.end();
      }
      expect(await pair.sql('source', 'SELECT slot_name FROM pg_replication_slots')).toEqual([]);
      expect(await pair.sql('source', 'SELECT pubname FROM pg_publication')).toEqual([]);
      expect(await pair.sql('target', 'SELECT subname FROM pg_subscription')).toEqual([]);
      expect(await pair.sql('source', `SELECT 1 FROM pg_namespace WHERE nspname = 'cutover_meta'`)).toEqual([]);
    } finally {
      await writes.stop();
    }
  }, 300_000);
});
