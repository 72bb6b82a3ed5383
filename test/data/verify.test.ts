import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { generateData, prepareSource, prepareTarget } from '../../src/rehearsal/freshtrack.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { formatVerifyReport, verifyTables, type VerifyReport } from '../../src/steps/data/verify.js';
import { databaseAt } from '../../src/adapters/postgres.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

const server = usePostgres();
const TABLES = freshTrackTables!.map((t) => ({ name: t.name, key: t.key }));
const runId = 'run-verify';

/**
 * One export of a small FreshTrack source; each test loads it into a fresh target, damages the
 * target in one way, and checks that verify names the table and the kind of difference.
 */
let pair: Pair;
let exportDir: string;
beforeAll(async () => {
  pair = await makePair(server(), 'verify');
  exportDir = join(pair.dir, runId);
  const client = new pg.Client(pair.sourceUrl);
  await client.connect();
  await prepareSource(client);
  await generateData(client, { readings: 5_000, seed: 7 });
  await client.end();
  await exportTables({ source: pair.source, tables: TABLES.map((t) => t.name), dir: exportDir, runId });
});

async function freshTarget(name: string) {
  const url = await server().createDatabase(name);
  const client = new pg.Client(url);
  await client.connect();
  await prepareTarget(client);
  await client.end();
  const target = databaseAt(url, `target database (${name})`);
  await loadTables({ target, dir: exportDir, runId });
  const sql = async (text: string) => {
    const c = new pg.Client(url);
    await c.connect();
    try {
      return (await c.query(text)).rows;
    } finally {
      await c.end();
    }
  };
  return { target, sql };
}

function differencesOf(report: VerifyReport) {
  return report.tables
    .filter((t) => !t.match)
    .map((t) => ({ table: t.table, kinds: t.differences.map((d) => [d.kind, d.count]) }));
}

describe('migrate.verify on real PostgreSQL', () => {
  it('passes on an exact copy', async () => {
    const { target } = await freshTarget('verify_clean');
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.tables.find((t) => t.table === 'public.temperature_readings')!.targetRows).toBe(5_000);
  });

  it('catches a missing row and names its key', async () => {
    const { target, sql } = await freshTarget('verify_missing');
    const [victim] = await sql(`SELECT id FROM temperature_readings ORDER BY id OFFSET 1234 LIMIT 1`);
    await sql(`DELETE FROM temperature_readings WHERE id = ${victim!.id}`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([{ table: 'public.temperature_readings', kinds: [['missing rows', 1]] }]);
    const difference = report.tables.find((t) => !t.match)!.differences[0]!;
    expect(difference.sampleKeys).toEqual([`(${victim!.id})`]);
    expect(formatVerifyReport(report, { onlyDifferences: true })).toBe(
      `DIFF public.temperature_readings: 5000 rows on the source, 4999 on the target\n` +
        `       missing rows: 1 (e.g. key (${victim!.id}))`,
    );
  });

  it('catches a changed value (same row count)', async () => {
    const { target, sql } = await freshTarget('verify_changed');
    const [alert] = await sql(`SELECT id FROM alert_instances ORDER BY id LIMIT 1`);
    await sql(`UPDATE alert_instances SET message = message || ' ' WHERE id = '${alert!.id}'`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([{ table: 'public.alert_instances', kinds: [['changed values', 1]] }]);
    expect(report.tables.find((t) => !t.match)!.differences[0]!.sampleKeys).toEqual([`(${alert!.id})`]);
  });

  it('catches a changed value that only differs as NULL versus empty string', async () => {
    const { target, sql } = await freshTarget('verify_null');
    await sql(`UPDATE areas SET description = NULL WHERE id = (SELECT id FROM areas WHERE description = '' ORDER BY id LIMIT 1)`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([{ table: 'public.areas', kinds: [['changed values', 1]] }]);
  });

  it('catches an extra row, including an exact duplicate of an existing row', async () => {
    const { target, sql } = await freshTarget('verify_extra');
    await sql(`INSERT INTO organizations (name, slug) VALUES ('Intruder', 'intruder')`);
    // user_roles has a primary key; drop it to make a byte-identical duplicate possible.
    await sql(`ALTER TABLE user_roles DROP CONSTRAINT user_roles_pkey; INSERT INTO user_roles SELECT * FROM user_roles ORDER BY user_id LIMIT 1`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([
      { table: 'public.organizations', kinds: [['extra rows', 1]] },
      { table: 'public.user_roles', kinds: [['extra rows', 1]] },
    ]);
  });

  it('catches an orphaned child and names the foreign key and the parent table', async () => {
    const { target, sql } = await freshTarget('verify_orphan');
    // As a load would (triggers off), remove a sensor that still has readings.
    const [sensor] = await sql(`SELECT sensor_id FROM temperature_readings ORDER BY id LIMIT 1`);
    await sql(`SET session_replication_role = replica; DELETE FROM sensors WHERE id = '${sensor!.sensor_id}'`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    const readings = report.tables.find((t) => t.table === 'public.temperature_readings')!;
    const orphan = readings.differences.find((d) => d.kind === 'orphaned children')!;
    expect(orphan.count).toBeGreaterThan(0);
    expect(orphan.detail).toBe('temperature_readings_sensor_id_fkey: ("sensor_id") has no matching row in public.sensors');
    expect(differencesOf(report).map((d) => d.table)).toEqual(['public.sensors', 'public.temperature_readings', 'public.alert_instances']);
    expect(report.tables.find((t) => t.table === 'public.sensors')!.differences.map((d) => d.kind)).toEqual(['missing rows']);
  });

  it('reports a table missing from the target instead of failing', async () => {
    const { target, sql } = await freshTarget('verify_no_table');
    await sql(`DROP TABLE ttn_connections`);
    const report = await verifyTables({ source: pair.source, target, tables: TABLES });
    expect(differencesOf(report)).toEqual([{ table: 'public.ttn_connections', kinds: [['missing table', 1]] }]);
  });
});
