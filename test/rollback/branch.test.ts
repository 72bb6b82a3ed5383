import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshTrackTables } from '../../src/config/example.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import type { CutoverPoint } from '../../src/steps/data/manifest.js';
import { readDeltaManifest } from '../../src/steps/rollback/delta-manifest.js';
import { deltaDir, rollbackSteps } from '../../src/steps/rollback/index.js';
import { useFixtures } from './use-fixtures.js';
import {
  APP_ROLE,
  DRIFT_IDS,
  NEW_EVENTS,
  NEW_READINGS,
  SOURCE_EVENTS,
  SOURCE_READINGS,
  SOURCE_WRITES_AFTER_UNFREEZE,
  context,
  migrate,
  runStep,
  tryWrite,
  writeAfterSwitch,
  writeSourceAfterUnfreeze,
  type Fixture,
} from './fixture.js';

/**
 * The rollback branch on real PostgreSQL (DESIGN §5): a cutover that switched and ran on the target,
 * then freeze-target → export-delta → unfreeze-source → reimport, proving that no post-cutover write
 * is lost, nothing is inserted twice, the rest is named for review and the target stays frozen.
 */

const { emptyFixture, newFixture } = useFixtures('rollback');

async function count(f: Fixture, side: 'source' | 'target', table: string, where = 'true'): Promise<number> {
  const [row] = await f.sql<{ n: string }>(side, `SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  return Number(row!.n);
}

async function rowsText(f: Fixture, side: 'source' | 'target', table: string, where = 'true'): Promise<string[]> {
  const rows = await f.sql<{ row: string }>(side, `SELECT t::text AS row FROM ${table} t WHERE ${where} ORDER BY id`);
  return rows.map((r) => r.row);
}

describe('rollback branch', () => {
  let f: Fixture;
  let frozen: CutoverPoint;
  let maxMigratedId: number;

  beforeAll(async () => {
    f = await newFixture('branch');
    await migrate(f);
    frozen = f.outputs['freeze.snapshot'] as CutoverPoint;
    maxMigratedId = SOURCE_READINGS;
    await writeAfterSwitch(f);
  });

  it('freeze-target revokes the app role\'s writes on the target (recorded), refuses its writes, and is idempotent', async () => {
    expect(await tryWrite(f, 'target', `INSERT INTO readings (device_id, recorded_at, value) VALUES ('dev-001', now(), 1)`)).toBe('accepted');
    const first = await runStep(f, 'rollback.freeze-target');
    // The target granted SELECT, INSERT, UPDATE, DELETE: the three writes of three tables are revoked, SELECT
    // stays; and USAGE on the readings' identity sequence (nextval).
    expect(first.summary).toMatch(/^Target frozen: 10 write grants on 3 tables revoked from rb_app; ended 0 sessions$/);
    const revoked = (first.output as { revoked: { table: string; privilege: string; grantee: string }[] }).revoked;
    expect(new Set(revoked.map((g) => `${g.table} ${g.privilege}`)).size).toBe(10);
    expect(new Set(revoked.map((g) => g.privilege))).toEqual(new Set(['INSERT', 'UPDATE', 'DELETE', 'USAGE']));
    expect(revoked.every((g) => g.grantee === APP_ROLE)).toBe(true);

    for (const statement of [
      `INSERT INTO readings (device_id, recorded_at, value) VALUES ('dev-001', now(), 1)`,
      `INSERT INTO events VALUES (gen_random_uuid(), 'dev-001', now(), 'x', null)`,
      `UPDATE devices SET threshold = 1`,
      `DELETE FROM devices WHERE id = 'dev-051'`,
    ]) {
      expect(await tryWrite(f, 'target', statement)).toMatch(/^42501: permission denied for table/);
    }
    // Reads still work: the new system can show its data while the rollback runs.
    expect(await tryWrite(f, 'target', 'SELECT count(*) FROM readings')).toBe('accepted');

    const again = await runStep(f, 'rollback.freeze-target');
    expect(again.output).toEqual(first.output);
    expect(again.summary).toBe(first.summary);
  });

  it('export-delta writes new / changed / deleted rows by key, owner-only with a manifest, and reserves the target\'s ids on the source', async () => {
    const result = await runStep(f, 'rollback.export-delta');
    expect(result.summary).toMatch(
      new RegExp(`^Delta exported to .*: ${NEW_READINGS + 1 + NEW_EVENTS} append-only rows to re-import \\(1 stamped before the cutover point\\), 3 changes in other tables for review$`),
    );
    const dir = deltaDir(context(f, 'x'));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const manifest = (await readDeltaManifest(dir))!;
    expect(manifest.complete).toBe(true);
    expect(manifest.cutoverPoint).toEqual(frozen);

    const readings = manifest.tables['public.readings']!;
    expect(readings).toMatchObject({
      appendOnly: true,
      split: { column: 'id', sourceMax: String(SOURCE_READINGS) },
      sourceRows: SOURCE_READINGS,
      targetRows: SOURCE_READINGS - DRIFT_IDS.length + NEW_READINGS + 1,
      new: { rows: NEW_READINGS + 1 },
      changed: { rows: 0 },
      deleted: { rows: DRIFT_IDS.length },
      newStampedBeforeCutover: 1,
    });
    // Only the buckets the drift touched were compared key by key.
    expect(readings.bucketsDiffering).toBe(DRIFT_IDS.length);
    expect(manifest.tables['public.events']).toMatchObject({ split: null, new: { rows: NEW_EVENTS }, changed: { rows: 0 }, deleted: { rows: 0 } });
    expect(manifest.tables['public.devices']).toMatchObject({ new: { rows: 1 }, changed: { rows: 1 }, deleted: { rows: 1 } });

    for (const entry of Object.values(manifest.tables)) {
      for (const file of [entry.new, entry.changed, entry.deleted]) {
        const content = await readFile(join(dir, file.file));
        expect(createHash('sha256').update(content).digest('hex'), file.file).toBe(file.sha256);
        expect(content.length, file.file).toBe(file.bytes);
        expect((await stat(join(dir, file.file))).mode & 0o777, file.file).toBe(0o600);
      }
    }
    expect((await stat(join(dir, 'manifest.json'))).mode & 0o777).toBe(0o600);
    const deleted = await readFile(join(dir, readings.deleted.file), 'utf8');
    expect(deleted).toBe(DRIFT_IDS.map((id) => `${id}\n`).join(''));
    const devicesChanged = await readFile(join(dir, manifest.tables['public.devices']!.changed.file), 'utf8');
    expect(devicesChanged).toBe('dev-007\tFreezer 7\t7.50\t2027-01-01 08:00:00+00\n');

    // The source's sequence now hands out ids above every id the target used, including the one its
    // sequence gave the rolled-back insert of the first test (still frozen: nothing else changed).
    const [targetSequence] = await f.sql<{ last: string }>('target', 'SELECT last_value::text AS last FROM readings_id_seq');
    const [targetMax] = await f.sql<{ max: string }>('target', 'SELECT max(id)::text AS max FROM readings');
    expect(Number(targetSequence!.last)).toBe(Number(targetMax!.max) + 1);
    expect(manifest.reserved).toEqual([{ table: 'public.readings', column: 'id', sequence: 'public.readings_id_seq', through: targetSequence!.last }]);
    const [sourceSequence] = await f.sql<{ last: string }>('source', 'SELECT last_value::text AS last FROM readings_id_seq');
    expect(sourceSequence!.last).toBe(targetSequence!.last);
    expect(await count(f, 'source', 'readings')).toBe(frozen.counts['public.readings']);

    // A second run keeps every table (complete files with matching entries).
    const again = await runStep(f, 'rollback.export-delta');
    expect((again.output as { tables: unknown[] }).tables).toEqual((result.output as { tables: unknown[] }).tables);
    expect(f.notes).toContain('export-delta: already exported by an earlier attempt: public.devices, public.readings, public.events');
  });

  it('reimport after the unfreeze puts every post-cutover row into the source without colliding with new source writes, twice without duplicates', async () => {
    const unfrozen = await runStep(f, 'rollback.unfreeze-source');
    // 12 table grants and USAGE, UPDATE on the readings sequence.
    expect(unfrozen.summary).toMatch(/^Removed the write barrier from 3 tables and restored 14 write grants/);
    // The old application writes again before the re-import runs: its ids come after the target's.
    await writeSourceAfterUnfreeze(f);
    const [firstSourceWrite] = await f.sql<{ min: string }>('source', `SELECT min(id) AS min FROM readings WHERE recorded_at >= '2027-01-02'`);
    const [targetMax] = await f.sql<{ max: string }>('target', 'SELECT max(id) AS max FROM readings');
    const [targetSequence] = await f.sql<{ last: string }>('target', 'SELECT last_value::text AS last FROM readings_id_seq');
    expect(Number(firstSourceWrite!.min)).toBe(Number(targetSequence!.last) + 1);

    const result = await runStep(f, 'rollback.reimport');
    expect(result.attention).toBeUndefined();
    expect(result.summary).toBe(
      `Re-imported ${NEW_READINGS + 1 + NEW_EVENTS} rows into the source (${NEW_READINGS + 1 + NEW_EVENTS} of ${NEW_READINGS + 1 + NEW_EVENTS} delta rows now there); 3 changes in other tables listed in manual-review.md`,
    );

    // Zero readings lost: count at the freeze + the target's post-cutover readings (+ the source's own new ones).
    expect(await count(f, 'source', 'readings')).toBe(frozen.counts['public.readings']! + NEW_READINGS + 1 + SOURCE_WRITES_AFTER_UNFREEZE);
    expect(await count(f, 'source', 'events')).toBe(SOURCE_EVENTS + NEW_EVENTS);
    // Every row the target took after the cutover point is in the source, value for value.
    expect(await rowsText(f, 'source', 'readings', `id > ${maxMigratedId} AND id <= ${targetMax!.max}`)).toEqual(
      await rowsText(f, 'target', 'readings', `id > ${maxMigratedId}`),
    );
    expect(await rowsText(f, 'source', 'events', `at >= '2027-01-01'`)).toEqual(await rowsText(f, 'target', 'events', `at >= '2027-01-01'`));
    // The late arrival (stamped before the cutover point) came back too; the drifted rows never left the source.
    expect(await count(f, 'source', 'readings', `recorded_at = '2025-12-31 23:55Z'`)).toBe(1);
    expect(await count(f, 'source', 'readings', `id = ANY('{${DRIFT_IDS.join(',')}}'::bigint[])`)).toBe(DRIFT_IDS.length);
    // Devices are for review only: the source keeps its own rows.
    expect(await f.sql('source', `SELECT id, threshold::text FROM devices WHERE id IN ('dev-007', 'dev-050', 'dev-051') ORDER BY id`)).toEqual([
      { id: 'dev-007', threshold: '5.00' },
      { id: 'dev-050', threshold: '5.00' },
    ]);
    // The source's identity keeps going above everything (no collision for the application's next insert).
    const [next] = await f.sql<{ id: string }>('source', `INSERT INTO readings (device_id, recorded_at, value) VALUES ('dev-002', now(), 1) RETURNING id`);
    await f.sql('source', `DELETE FROM readings WHERE id = $1`, [next!.id]);
    const [max] = await f.sql<{ max: string }>('source', `SELECT max(id) AS max FROM readings`);
    expect(Number(next!.id)).toBeGreaterThan(Number(max!.max));

    const dir = deltaDir(context(f, 'x'));
    const report = await readFile(join(dir, 'manual-review.md'), 'utf8');
    expect((await stat(join(dir, 'manual-review.md'))).mode & 0o777).toBe(0o600);
    expect(report).toContain(`| public.readings | ${NEW_READINGS + 1} | ${NEW_READINGS + 1} | 0 | 0 |`);
    expect(report).toContain(`| public.events | ${NEW_EVENTS} | ${NEW_EVENTS} | 0 | 0 |`);
    expect(report).toContain('### public.devices: 1 new, 1 changed, 1 deleted on the target');
    expect(report).toMatch(/New on the target: 1 \(`public\.devices\.new\.copy`\)\n {2}- id=dev-051\n/);
    expect(report).toMatch(/Changed on the target \(target values in the file\): 1 \(`public\.devices\.changed\.copy`\)\n {2}- id=dev-007\n/);
    expect(report).toMatch(/Deleted on the target \(the source still has them\): 1 \(`public\.devices\.deleted\.copy`\)\n {2}- id=dev-050\n/);
    expect(report).toContain(`public.readings: ${DRIFT_IDS.length} rows the source has are missing on the target`);
    for (const id of DRIFT_IDS) expect(report).toContain(`  - id=${id}\n`);
    expect(report).toContain('public.readings: 1 of the new rows is stamped at or before the cutover point (late arrivals');

    // Again: nothing new, same end state, same report.
    const sourceBefore = await rowsText(f, 'source', 'readings');
    const again = await runStep(f, 'rollback.reimport');
    expect(again.summary).toBe(
      `Re-imported 0 rows into the source (${NEW_READINGS + 1 + NEW_EVENTS} of ${NEW_READINGS + 1 + NEW_EVENTS} delta rows now there, ${NEW_READINGS + 1 + NEW_EVENTS} already before); 3 changes in other tables listed in manual-review.md`,
    );
    expect(await rowsText(f, 'source', 'readings')).toEqual(sourceBefore);
    expect(await count(f, 'source', 'events')).toBe(SOURCE_EVENTS + NEW_EVENTS);
    expect(await readFile(join(dir, 'manual-review.md'), 'utf8')).toBe(report);

    // The target is still frozen at the end of the branch.
    expect(await tryWrite(f, 'target', `INSERT INTO readings (device_id, recorded_at, value) VALUES ('dev-001', now(), 1)`)).toMatch(/^42501/);
  });

  it('every step has a dry-run text naming what it would do', async () => {
    const texts = await Promise.all(Object.entries(rollbackSteps).map(async ([id, step]) => [id, await step.dryRun(context(f, id))] as const));
    const byId = Object.fromEntries(texts);
    expect(byId['rollback.freeze-target']).toContain('REVOKE <privilege> ON TABLE <table> FROM <role>');
    expect(byId['rollback.export-delta']).toContain('hashtextextended');
    expect(byId['rollback.export-delta']).toContain('setval');
    expect(byId['rollback.reimport']).toContain('ON CONFLICT (<key>) DO NOTHING');
    expect(byId['rollback.reimport']).toContain(`public.readings: ${NEW_READINGS + 1} rows to re-import`);
    expect(byId['rollback.reimport']).toContain('public.devices: 1 new, 1 changed, 1 deleted → review');
  });
});

describe('nothing to do', () => {
  it('a target never loaded: every step says so and passes; unfreeze restores the source', async () => {
    const f = await newFixture('unloaded');
    await migrate(f, { load: false });
    const freeze = await runStep(f, 'rollback.freeze-target');
    expect(freeze.summary).toBe('Nothing to freeze: the target was never loaded by run rollback-run, so the application never wrote there');
    expect(await tryWrite(f, 'target', `INSERT INTO devices VALUES ('x', 'x', 1, now())`)).toBe('accepted');
    expect((await runStep(f, 'rollback.export-delta')).summary).toBe(
      'No delta: the target was never loaded by run rollback-run, so nothing was written there after the cutover point',
    );
    await runStep(f, 'rollback.unfreeze-source');
    expect((await runStep(f, 'rollback.reimport')).summary).toBe('Nothing to re-import: the target was never loaded by run rollback-run');
    expect(await tryWrite(f, 'source', `INSERT INTO devices VALUES ('x', 'x', 1, now())`)).toBe('accepted');
    const report = await readFile(join(deltaDir(context(f, 'x')), 'manual-review.md'), 'utf8');
    expect(report).toContain('The target was never loaded by this run');
  });

  it('a loaded target without writes after the cutover point: an empty delta, nothing re-imported', async () => {
    const f = await newFixture('quiet');
    await migrate(f);
    await runStep(f, 'rollback.freeze-target');
    expect((await runStep(f, 'rollback.export-delta')).summary).toBe('Nothing written to the target after the cutover point: 3 tables identical to the source');
    await runStep(f, 'rollback.unfreeze-source');
    const result = await runStep(f, 'rollback.reimport');
    expect(result.summary).toBe('Nothing to re-import: no append-only rows were written to the target after the cutover point; nothing else to review');
    expect(await count(f, 'source', 'readings')).toBe(SOURCE_READINGS);
    const manifest = (await readDeltaManifest(deltaDir(context(f, 'x'))))!;
    expect(Object.values(manifest.tables).map((t) => [t.bucketsDiffering, t.new.rows, t.changed.rows, t.deleted.rows])).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });
});

describe('rows whose parent exists only on the target', () => {
  it('are held back with attention and named, then go in once the parent is created in the source', async () => {
    const f = await newFixture('orphans');
    await migrate(f);
    await f.sql(
      'target',
      `BEGIN; SET LOCAL ROLE ${APP_ROLE};
       INSERT INTO devices VALUES ('dev-060', 'New freezer', 3.00, timestamptz '2027-01-01 00:00Z');
       INSERT INTO readings (device_id, recorded_at, value) VALUES
         ('dev-060', timestamptz '2027-01-01 00:05Z', 2.5), ('dev-060', timestamptz '2027-01-01 00:10Z', 2.75),
         ('dev-001', timestamptz '2027-01-01 00:05Z', 4.0);
       COMMIT;`,
    );
    for (const step of ['rollback.freeze-target', 'rollback.export-delta', 'rollback.unfreeze-source']) await runStep(f, step);
    const first = await runStep(f, 'rollback.reimport');
    expect(first.attention?.reason).toMatch(/^2 delta rows are not in the source \(2 held back for a missing parent row, 0 conflicting with source rows\)/);
    expect(await count(f, 'source', 'readings')).toBe(SOURCE_READINGS + 1);
    const dir = deltaDir(context(f, 'x'));
    const report = await readFile(join(dir, 'manual-review.md'), 'utf8');
    expect(report).toContain('| public.readings | 3 | 1 | 2 | 0 |');
    expect(report).toMatch(/\*\*public\.readings: 2 rows held back\*\* because their parent row is not in the source \(readings_device_id_fkey: no row of public\.devices/);
    expect(report).toContain(`  - id=${SOURCE_READINGS + 1}\n  - id=${SOURCE_READINGS + 2}\n`);
    expect(report).toContain('New on the target: 1 (`public.devices.new.copy`)\n  - id=dev-060');

    // The reviewer creates the device in the source; the retry brings the held-back readings in.
    await f.sql('source', `INSERT INTO devices VALUES ('dev-060', 'New freezer', 3.00, timestamptz '2027-01-01 00:00Z')`);
    const retry = await runStep(f, 'rollback.reimport');
    expect(retry.attention).toBeUndefined();
    expect(retry.summary).toMatch(/^Re-imported 2 rows into the source \(3 of 3 delta rows now there, 1 already before\)/);
    expect(await count(f, 'source', 'readings')).toBe(SOURCE_READINGS + 3);
    expect(await count(f, 'source', 'readings', `device_id = 'dev-060'`)).toBe(2);
  });
});

describe('a delta row whose key the source already has with other values', () => {
  it('is a conflict: the source row is kept, the key named, attention raised; never dropped silently', async () => {
    const f = await newFixture('conflict');
    await migrate(f);
    await f.sql(
      'target',
      `INSERT INTO readings (device_id, recorded_at, value) SELECT 'dev-001', timestamptz '2027-01-01 00:00Z' + i * interval '5 minutes', 2.5
         FROM generate_series(1, 3) i`,
    );
    for (const step of ['rollback.freeze-target', 'rollback.export-delta', 'rollback.unfreeze-source']) await runStep(f, step);
    // Someone writes an explicit id into the source that the target also used (the reservation cannot stop that).
    const clash = SOURCE_READINGS + 2;
    await f.sql('source', `INSERT INTO readings OVERRIDING SYSTEM VALUE VALUES (${clash}, 'dev-002', timestamptz '2027-02-01 00:00Z', 9.99)`);
    const result = await runStep(f, 'rollback.reimport');
    expect(result.attention?.reason).toMatch(/^1 delta row is not in the source \(0 held back for a missing parent row, 1 conflicting with source rows\)/);
    expect(await f.sql('source', `SELECT device_id, value::text FROM readings WHERE id = ${clash}`)).toEqual([{ device_id: 'dev-002', value: '9.99' }]);
    expect(await count(f, 'source', 'readings', `id > ${SOURCE_READINGS}`)).toBe(3);
    const report = await readFile(join(deltaDir(context(f, 'x')), 'manual-review.md'), 'utf8');
    expect(report).toContain('| public.readings | 3 | 2 | 0 | 1 |');
    expect(report).toContain(`**public.readings: 1 row conflicts**: the source has the key with other values.`);
    expect(report).toContain(`  - id=${clash}\n`);
  });
});

describe('on the FreshTrack schema (uuid and composite keys, enums, jsonb, bytea, row-level security on the source)', () => {
  it('re-imports the readings the new system ingested and lists an acknowledged alert and a changed role for review', async () => {
    const f = await emptyFixture('freshtrack', { tables: freshTrackTables });
    await prepareFreshTrackPair(f.sourceUrl, f.targetUrl, { readings: 5_000, seed: 6, now: Date.parse('2026-11-01T00:00:00Z') });
    await migrate(f);
    const frozen = f.outputs['freeze.snapshot'] as CutoverPoint;
    // The new system: every sensor reports twice (as the rehearsal's traffic), one alert acknowledged,
    // one member promoted (user_roles has a composite key), one migrated reading lost.
    const [ingested] = await f.sql<{ n: string }>(
      'target',
      `WITH ins AS (
         INSERT INTO temperature_readings (sensor_id, recorded_at, temperature, humidity, battery_level, signal_strength, received_at)
         SELECT s.id, t, 4.2, 55, 90, -70, t FROM sensors s
          CROSS JOIN generate_series(timestamptz '2027-01-01 00:00Z', timestamptz '2027-01-01 00:05Z', interval '5 minutes') t
         RETURNING 1)
       SELECT count(*) AS n FROM ins`,
    );
    const [alert] = await f.sql<{ id: string }>(
      'target',
      `UPDATE alert_instances SET status = 'acknowledged', acknowledged_at = timestamptz '2027-01-01 01:00Z'
        WHERE id = (SELECT id FROM alert_instances WHERE status = 'active' ORDER BY id LIMIT 1) RETURNING id::text`,
    );
    const [role] = await f.sql<{ user_id: string; organization_id: string }>(
      'target',
      `UPDATE user_roles SET role = 'admin' WHERE (user_id, organization_id) = (SELECT user_id, organization_id FROM user_roles WHERE role <> 'admin' ORDER BY 1, 2 LIMIT 1)
       RETURNING user_id::text, organization_id::text`,
    );
    await f.sql('target', `DELETE FROM temperature_readings WHERE id = 100`);

    const freeze = await runStep(f, 'rollback.freeze-target');
    // anon only reads on the target; authenticated and service_role lose INSERT, UPDATE and DELETE on 10 tables.
    expect(freeze.summary).toMatch(/^Target frozen: 62 write grants on 10 tables revoked from anon, authenticated, service_role/);
    const delta = await runStep(f, 'rollback.export-delta');
    expect(delta.summary).toMatch(new RegExp(`: ${ingested!.n} append-only rows to re-import, 2 changes in other tables for review$`));
    await runStep(f, 'rollback.unfreeze-source');
    const reimport = await runStep(f, 'rollback.reimport');
    expect(reimport.attention).toBeUndefined();
    expect(await count(f, 'source', 'temperature_readings')).toBe(frozen.counts['public.temperature_readings']! + Number(ingested!.n));
    expect(await count(f, 'source', 'temperature_readings', 'id = 100')).toBe(1);

    const report = await readFile(join(deltaDir(context(f, 'x')), 'manual-review.md'), 'utf8');
    expect(report).toContain(`### public.alert_instances: 0 new, 1 changed, 0 deleted on the target`);
    expect(report).toContain(`  - id=${alert!.id}\n`);
    expect(report).toContain(`### public.user_roles: 0 new, 1 changed, 0 deleted on the target`);
    expect(report).toContain(`  - user_id=${role!.user_id}, organization_id=${role!.organization_id}\n`);
    expect(report).toContain('public.temperature_readings: 1 row the source has is missing on the target (deleted there); the source still has it');
    expect(report).toMatch(/## Unchanged on the target\n\npublic\.organizations, public\.sites, public\.areas, public\.units, public\.sensors, public\.profiles, public\.ttn_connections\n/);
  });
});
