import { afterEach, describe, expect, it } from 'vitest';
import { reconcile, renderReconcile, type ReconcileOptions } from '../../src/steps/reconcile/index.js';
import { usePostgres } from '../support/postgres.js';
import {
  afterSwitch,
  createPair,
  FREEZE,
  fixturePlan,
  ingestAfterSwitch,
  NOW,
  sensor,
  SWITCH,
  type Pair,
} from './fixture.js';

const server = usePostgres();
let pair: Pair | undefined;

afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

async function fresh(extraSql = ''): Promise<Pair> {
  pair = await createPair(server(), extraSql);
  return pair;
}

function run(p: Pair, options: Partial<ReconcileOptions> = {}, plan = fixturePlan()) {
  return reconcile(plan, { source: p.source, target: p.target, cutoverPoint: { time: FREEZE }, now: NOW, ...options });
}

const table = (result: Awaited<ReturnType<typeof run>>, name: string) => result.tables.find((t) => t.table === name)!;

describe('reconcile on real PostgreSQL', () => {
  it('finds nothing when the target holds exactly the source rows', async () => {
    const p = await fresh();
    const result = await run(p);
    expect(result.clean).toBe(true);
    expect(result.totals).toMatchObject({ driftBuckets: 0, driftRows: 0, missingRows: 0, gaps: 0, problems: 0, newRows: 0 });
    // 5 sensors × 25 hours + sensor 6 × 22 hours; 3 alert statuses; 3 roles.
    expect(table(result, 'public.readings').bucketsCompared).toBe(147);
    expect(table(result, 'public.alerts').bucketsCompared).toBe(3);
    expect(table(result, 'public.user_roles')).toMatchObject({ bucketsCompared: 3, grouping: 'role (undated)' });
    expect(table(result, 'public.readings').gapCheck).toBe('not-switched');
    expect(renderReconcile(result)).toContain('CLEAN — 153 buckets compared in 3 tables');
  });

  it('names the key of a deleted reading (data loss) and of a changed value, with their buckets', async () => {
    const p = await fresh();
    await p.target.query('delete from public.readings where id = 300010');
    await p.target.query('update public.readings set temperature = temperature + 0.5 where id = 200100');
    const result = await run(p);
    const readings = table(result, 'public.readings');
    expect(result.clean).toBe(false);
    expect(readings).toMatchObject({ missingRows: 1, changedRows: 1, extraRows: 0, driftRows: 2, driftBuckets: 2, exact: true });
    expect(readings.keys).toEqual(
      expect.arrayContaining([
        {
          kind: 'missing',
          key: { id: '300010' },
          // i = 10: 24 h before the freeze + 50 min = 23:07:30 on the 4th.
          bucket: { group: { sensor_id: sensor(3) }, start: '2026-12-04T23:00:00.000Z', period: 'before' },
        },
        {
          kind: 'changed',
          key: { id: '200100' },
          bucket: { group: { sensor_id: sensor(2) }, start: '2026-12-05T06:00:00.000Z', period: 'before' },
        },
      ]),
    );
    expect(readings.keys).toHaveLength(2);
    expect(table(result, 'public.alerts').driftRows).toBe(0);
    const text = renderReconcile(result);
    expect(text).toContain('DATA LOSS: 1 source row missing from the target');
    expect(text).toContain(`missing id=300010  in sensor_id=${sensor(3)} from 2026-12-04T23:00:00.000Z (before the freeze)`);
  });

  it('reports an alert whose status changed as one changed row that moved bucket, not as data loss', async () => {
    const p = await fresh();
    await p.target.query("update public.alerts set status = 'resolved' where id = 1"); // was acknowledged
    const result = await run(p);
    const alerts = table(result, 'public.alerts');
    expect(alerts).toMatchObject({ missingRows: 0, extraRows: 0, changedRows: 1, driftBuckets: 1 });
    expect(alerts.keys).toEqual([
      {
        kind: 'changed',
        key: { id: '1' },
        bucket: { group: { status: 'acknowledged' }, period: 'before' },
        movedTo: { group: { status: 'resolved' }, period: 'before' },
      },
    ]);
    expect(result.totals.missingRows).toBe(0);
  });

  it('counts rows written to the target after the switch as new, not drift, and finds no gaps when sensors keep reporting', async () => {
    const p = await fresh();
    const ingested = await ingestAfterSwitch(p.target, [1, 2, 3, 4, 5]);
    await p.target.query(`insert into public.alerts values (100, 'open', '${afterSwitch(30)}', 'new on the target')`);
    await p.target.query(
      "insert into public.user_roles values ('00000000-0000-0000-0001-000000000099', '00000000-0000-0000-0002-000000000001', 'staff')",
    );
    const result = await run(p, { switchedAt: SWITCH });
    expect(result.clean).toBe(true);
    expect(table(result, 'public.readings')).toMatchObject({ newRows: ingested, driftRows: 0, gapCheck: 'checked', gapCount: 0 });
    expect(table(result, 'public.alerts')).toMatchObject({ newRows: 1, driftRows: 0 });
    expect(table(result, 'public.user_roles')).toMatchObject({ newRows: 1, driftRows: 0 });
  });

  it('still counts an extra row dated before the freeze as drift', async () => {
    const p = await fresh();
    await p.target.query(`insert into public.readings values (777, '${sensor(1)}', '2026-12-05T12:01:00Z', 9.9)`);
    const result = await run(p);
    expect(table(result, 'public.readings')).toMatchObject({ extraRows: 1, missingRows: 0, driftBuckets: 1 });
    expect(table(result, 'public.readings').keys).toEqual([
      { kind: 'extra', key: { id: '777' }, bucket: { group: { sensor_id: sensor(1) }, start: '2026-12-05T12:00:00.000Z', period: 'before' } },
    ]);
  });

  it('reports a post-switch ingestion gap longer than 30 min for an active sensor, and a sensor still silent now', async () => {
    const p = await fresh();
    // Readings fall at 2, 7, …, 57, 62, … minutes after the switch.
    await ingestAfterSwitch(p.target, [1, 2, 3, 4, 5], (s, minutes) => {
      if (s === 1) return minutes >= 62 && minutes < 87; // 57 → 87: exactly 30 min, not longer
      if (s === 2) return minutes >= 62 && minutes < 102; // 57 → 102: 45 min
      if (s === 3) return minutes < 40; // first reading 42 min after the switch
      if (s === 4) return minutes >= 62; // silent since 57 min after the switch
      return false;
    });
    const result = await run(p, { switchedAt: SWITCH });
    const readings = table(result, 'public.readings');
    expect(result.clean).toBe(false);
    expect(readings.gapCount).toBe(3);
    const bySensor = Object.fromEntries(readings.gaps.map((gap) => [gap.group.sensor_id, gap]));
    expect(bySensor[sensor(2)]).toEqual({ group: { sensor_id: sensor(2) }, from: afterSwitch(57), to: afterSwitch(102), minutes: 45, ongoing: false });
    expect(bySensor[sensor(3)]).toEqual({ group: { sensor_id: sensor(3) }, from: SWITCH, to: afterSwitch(42), minutes: 42, ongoing: false });
    expect(bySensor[sensor(4)]).toEqual({ group: { sensor_id: sensor(4) }, from: afterSwitch(57), to: NOW.toISOString(), minutes: 123, ongoing: true });
    // Sensor 6 had been quiet for 3 h before the freeze: not active, not the cutover's doing.
    expect(bySensor[sensor(6)]).toBeUndefined();
    expect(readings.driftRows).toBe(0);
    expect(renderReconcile(result)).toContain(`gap     sensor_id=${sensor(4)}: nothing from ${afterSwitch(57)} still silent at ${NOW.toISOString()} (123 min)`);
  });

  it('an active sensor that never reported after the switch is one gap from the switch until now', async () => {
    const p = await fresh();
    await ingestAfterSwitch(p.target, [1, 2, 3, 5]);
    const result = await run(p, { switchedAt: SWITCH });
    expect(table(result, 'public.readings').gaps).toEqual([
      { group: { sensor_id: sensor(4) }, from: SWITCH, to: NOW.toISOString(), minutes: 180, ongoing: true },
    ]);
  });

  it('bounds narrowing: keys per bucket and per run, rows fetched, buckets narrowed — counts stay honest', async () => {
    const p = await fresh();
    // 30 single losses in 30 different hours (sensors 1-3), and 8 in one hour of sensor 5.
    await p.target.query(`delete from public.readings where (id / 100000) in (1, 2, 3) and id % 100000 in (${[...Array(10).keys()].map((k) => 12 * k + 24).join(',')})`);
    await p.target.query('delete from public.readings where id between 500009 and 500016');
    const byKeys = table(await run(p, { limits: { keysPerBucket: 5, keysPerRun: 12 } }), 'public.readings');
    expect(byKeys).toMatchObject({ missingRows: 38, driftBuckets: 31, exact: true, keysNotNamed: 26 });
    expect(byKeys.keys).toHaveLength(12);
    const perBucket = new Map<string, number>();
    for (const key of byKeys.keys) {
      const id = JSON.stringify(key.bucket);
      perBucket.set(id, (perBucket.get(id) ?? 0) + 1);
    }
    expect(Math.max(...perBucket.values())).toBeLessThanOrEqual(5);

    const byRows = table(await run(p, { limits: { narrowRows: 10 } }), 'public.readings');
    expect(byRows.exact).toBe(false);
    expect(byRows.narrowing).toMatchObject({ complete: false, reason: 'narrowing stopped at the 10-row limit' });
    expect(byRows.missingRows).toBe(38); // from bucket counts: a lower bound, here the whole truth
    expect(byRows.keys.length).toBeLessThanOrEqual(10);

    const byBuckets = table(await run(p, { limits: { bucketsPerTable: 3 } }), 'public.readings');
    expect(byBuckets.narrowing).toMatchObject({ buckets: 3, complete: false });
    expect(byBuckets.narrowing!.reason).toContain('28 mismatched buckets beyond the 3-bucket limit were not narrowed');
    expect(byBuckets.missingRows).toBe(38);
    expect(renderReconcile(await run(p, { limits: { bucketsPerTable: 3 } }))).toContain('at least 38 missing');

    // Differing partitions beyond the limit are counted from their row totals, never listed.
    const byPartitions = table(await run(p, { limits: { partitionsPerTable: 2 } }), 'public.readings');
    expect(byPartitions).toMatchObject({ missingRows: 38, exact: false });
    expect(byPartitions.narrowing!.reason).toMatch(/^\d+ mismatched partitions beyond the 2-partition limit were counted, not listed/);
    expect(byPartitions.keys.length + byPartitions.keysNotNamed).toBe(38);
  });

  it('bounds narrowing in time: a statement timeout leaves the bucket counted but its keys unnamed', async () => {
    const p = await fresh(`
      create table public.events (id bigint primary key, payload text);
      insert into public.events select i, md5(i::text) from generate_series(1, 200000) i;`);
    await p.target.query('delete from public.events where id = 4242');
    const result = await run(p, { limits: { narrowTimeoutMs: 1 } }, fixturePlan([{ name: 'public.events', key: ['id'] }]));
    const events = table(result, 'public.events');
    expect(events).toMatchObject({ missingRows: 1, driftBuckets: 1, exact: false, keys: [] });
    expect(events.narrowing!.reason).toMatch(/narrowing on the (source|target) timed out after 1 ms/);
  });

  it('names a table it cannot compare and still compares the others', async () => {
    const p = await fresh();
    await p.target.query('drop table public.alerts');
    const result = await run(p);
    expect(table(result, 'public.alerts').problem).toBe('public.alerts does not exist in the target database: was it loaded (migrate.load)?');
    expect(table(result, 'public.readings')).toMatchObject({ bucketsCompared: 147, driftRows: 0 });
    expect(result).toMatchObject({ clean: false, totals: { problems: 1 } });
    expect(renderReconcile(result)).toContain('NOT COMPARED: 1 table');
  });

  it('compares a timestamp-without-time-zone column on the same UTC timeline', async () => {
    const p = await fresh(`
      create table public.visits (id bigint primary key, site text not null, seen_at timestamp not null);
      insert into public.visits select i, 'site-' || (i % 3), timestamp '2026-12-05 20:00' + i * interval '1 minute'
        from generate_series(1, 200) i;`);
    // 200 visits from 20:01 to 23:20 (the freeze is at 22:17:30); id 10 was at 20:10.
    await p.target.query('delete from public.visits where id = 10');
    await p.target.query("insert into public.visits values (1000, 'site-1', '2026-12-06 01:00')");
    const plan = fixturePlan([{ name: 'public.visits', key: ['id'], timestampColumn: 'seen_at', reconcile: { groupBy: ['site'], bucket: 'hour' } }]);
    const visits = table(await run(p, {}, plan), 'public.visits');
    expect(visits).toMatchObject({ missingRows: 1, extraRows: 0, newRows: 1, driftBuckets: 1 });
    expect(visits.keys).toEqual([
      { kind: 'missing', key: { id: '10' }, bucket: { group: { site: 'site-1' }, start: '2026-12-05T20:00:00.000Z', period: 'before' } },
    ]);
  });

  it('names a composite key missing from an undated table', async () => {
    const p = await fresh();
    await p.target.query("delete from public.user_roles where user_id = '00000000-0000-0000-0001-000000000004'");
    const roles = table(await run(p), 'public.user_roles');
    expect(roles.keys).toEqual([
      {
        kind: 'missing',
        key: { user_id: '00000000-0000-0000-0001-000000000004', organization_id: '00000000-0000-0000-0002-000000000001' },
        bucket: { group: { role: 'staff' }, period: 'undated' },
      },
    ]);
  });
});
