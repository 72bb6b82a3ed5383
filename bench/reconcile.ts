/**
 * Reconciliation cost on N readings (default 5,000,000): a clean `reconcile` against a single
 * grouped `count(*)` over the same table, then one deleted row and one changed value found by key.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/reconcile.js [N]
 *
 * Both databases live on one embedded server on this machine, so the two sides' passes compete for
 * the same cores; in production they run on two machines. Times are medians of 3 runs, alternated
 * so background load hits both alike.
 */
import pg from 'pg';
import { examplePlan } from '../src/config/example.js';
import { planSchema } from '../src/config/schema.js';
import { startEmbeddedPostgres } from '../src/rehearsal/embedded.js';
import { reconcile, renderReconcile, type ReconcileResult } from '../src/steps/reconcile/index.js';

const rows = Number(process.argv[2] ?? 5_000_000);
if (!Number.isInteger(rows) || rows < 1000) throw new Error(`usage: reconcile.js [rows ≥ 1000], got ${process.argv[2]}`);

const SENSORS = 500;
const FREEZE = '2026-12-05T22:17:30.000Z';
const SWITCH = '2026-12-05T23:47:30.000Z';
const NOW = new Date('2026-12-06T00:47:30.000Z');
const BASELINE_SQL = "select sensor_id, date_trunc('hour', recorded_at), count(*) from public.readings group by 1, 2";

const plan = planSchema.parse({
  ...examplePlan,
  tables: [
    {
      name: 'public.readings',
      key: ['id'],
      timestampColumn: 'recorded_at',
      appendOnly: true,
      reconcile: { groupBy: ['sensor_id'], bucket: 'hour' },
    },
  ],
});

// One reading per sensor every 5 minutes (a LoRaWAN uplink rate), ending just before the freeze;
// the same rows on both sides, generated inside each database.
const GENERATE_SQL = `
  create table public.readings (
    id bigint primary key,
    sensor_id uuid not null,
    recorded_at timestamptz not null,
    temperature numeric(5,2)
  );
  insert into public.readings
  select i,
         ('00000000-0000-4000-8000-' || lpad((i % ${SENSORS})::text, 12, '0'))::uuid,
         timestamptz '${FREEZE}' - ((${rows} - 1 - i) / ${SENSORS} + 1) * interval '5 minutes' + (i % ${SENSORS}) * interval '500 milliseconds',
         round((2 + (hashint8(i) % 600) / 100.0)::numeric, 2)
    from generate_series(0, ${rows} - 1) i`;

// An hour of new readings on the target after the switch, as the new system ingests them.
const INGEST_SQL = `
  insert into public.readings
  select ${rows} + s * 100 + k,
         ('00000000-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
         timestamptz '${SWITCH}' + (2 + 5 * k) * interval '1 minute',
         4.5
    from generate_series(0, ${SENSORS} - 1) s, generate_series(0, 11) k`;
// Separately: VACUUM cannot run in the implicit transaction of a multi-statement query. It also sets
// hint bits, so no timed run pays for the first read of freshly written rows.
const VACUUM_SQL = 'vacuum analyze public.readings';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function time<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function main(): Promise<void> {
  const server = await startEmbeddedPostgres();
  const clients: pg.Client[] = [];
  try {
    const [sourceUrl, targetUrl] = [await server.createDatabase('bench_source'), await server.createDatabase('bench_target')];
    const connect = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      clients.push(client);
      return client;
    };
    const [source, target] = await Promise.all([connect(sourceUrl), connect(targetUrl)]);
    const counter = await connect(sourceUrl);

    const generated = await time(() =>
      Promise.all([source, target].map(async (client) => {
        await client.query(GENERATE_SQL);
        if (client === target) await client.query(INGEST_SQL);
        await client.query(VACUUM_SQL);
      })),
    );
    console.log(`generated ${rows.toLocaleString('en-US')} readings (${SENSORS} sensors, every 5 min) on each side in ${seconds(generated.ms)}`);
    console.log(`target: + ${(SENSORS * 12).toLocaleString('en-US')} readings ingested in the hour after the switch`);

    const run = (limits = {}) =>
      reconcile(plan, { source, target, cutoverPoint: { time: FREEZE }, switchedAt: SWITCH, now: NOW, limits });
    const baseline = async (workMem?: string) => {
      if (workMem) await counter.query(`set work_mem = '${workMem}'`);
      const result = await counter.query(BASELINE_SQL);
      if (workMem) await counter.query('reset work_mem');
      return result.rowCount;
    };

    // Warm the caches once on each path, then alternate.
    await baseline();
    await run();
    const baselineTimes: number[] = [];
    const baselineSameMemTimes: number[] = [];
    const reconcileTimes: number[] = [];
    let clean: ReconcileResult | undefined;
    let groups = 0;
    for (let round = 0; round < 3; round += 1) {
      const b = await time(() => baseline());
      baselineTimes.push(b.ms);
      groups = b.value ?? 0;
      const r = await time(() => run());
      reconcileTimes.push(r.ms);
      clean = r.value;
      baselineSameMemTimes.push((await time(() => baseline(clean!.limits.workMem))).ms);
    }
    const readings = clean!.tables[0]!;
    console.log('');
    console.log(`baseline  ${BASELINE_SQL}`);
    console.log(`          ${groups.toLocaleString('en-US')} groups; median ${seconds(median(baselineTimes))} (runs: ${baselineTimes.map(seconds).join(', ')})`);
    console.log(`          with work_mem=${clean!.limits.workMem} like reconcile: median ${seconds(median(baselineSameMemTimes))}`);
    console.log(`reconcile clean=${clean!.clean}, ${readings.bucketsCompared.toLocaleString('en-US')} buckets, ${readings.newRows.toLocaleString('en-US')} new rows after the cutover point, ${readings.gapCount} gaps`);
    console.log(`          median ${seconds(median(reconcileTimes))} (runs: ${reconcileTimes.map(seconds).join(', ')})`);
    console.log(`ratio     reconcile / grouped count(*) = ${(median(reconcileTimes) / median(baselineTimes)).toFixed(2)}×` +
      ` (vs the count at the same work_mem: ${(median(reconcileTimes) / median(baselineSameMemTimes)).toFixed(2)}×)`);

    await target.query('delete from public.readings where id = 1234567');
    await target.query('update public.readings set temperature = temperature + 0.25 where id = 3456789 % ' + rows);
    const drift = await time(() => run());
    console.log('');
    console.log(`after deleting id 1234567 and changing id ${3456789 % rows} in the target (${seconds(drift.ms)}):`);
    process.stdout.write(renderReconcile(drift.value));
  } finally {
    await Promise.allSettled(clients.map((client) => client.end()));
    await server.stop();
  }
}

await main();
