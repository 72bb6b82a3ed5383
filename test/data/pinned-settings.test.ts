import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { digestsFromManifest, verifyTables } from '../../src/steps/data/verify.js';
import { readManifest } from '../../src/steps/data/manifest.js';
import { reconcile } from '../../src/steps/reconcile/reconcile.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Settings that change the text of a value, set at database level on each side (as a DBA or a
 * hosting provider may have): every connection of cutover pins them, so export, load, verify and
 * reconcile see the same text for the same value, and a real change is still found.
 */

const server = usePostgres();

const SCHEMA = `
CREATE TABLE span (id int PRIMARY KEY, d interval, at timestamptz, local_at timestamp, day date, f double precision, b bytea, x xml, m money);
CREATE TABLE plain (id int PRIMARY KEY, note text);
`;
const DATA = `
INSERT INTO span VALUES
  (1, '1 year 2 mons -3 days 04:05:06.7', '2024-03-10 06:59:59.999999+00', '1999-12-31 23:59:59.5', '2000-02-29', 0.1 + 0.2, '\\x00ff', '<a>1</a>', 12.34),
  (2, '-1 microseconds', '0044-03-15 00:00:00+00 BC', '2038-01-19 03:14:08', '0044-03-15 BC', -0, '', 'text', -0.01),
  (3, '100 years', 'infinity', '-infinity', '1970-01-01', 1e-300, '\\x5c2e0a', '<?xml version="1.0"?><b/>', 0),
  (13, '13 days 12:00:00', '2024-12-13 12:13:14+00', '2024-12-13 12:13:14', '2024-12-13', 13.13, '\\x13', '<d>13</d>', 13);
INSERT INTO plain SELECT g, 'note ' || g FROM generate_series(1, 20) g;
`;
const TABLES = [
  { name: 'public.span', key: ['id'] },
  { name: 'public.plain', key: ['id'] },
];

/** Every row of span as text, in one fixed style (a plain client: nothing of cutover's own). */
async function rowsOf(url: string): Promise<string[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(`SET IntervalStyle = postgres; SET DateStyle = ISO; SET TimeZone = UTC; SET extra_float_digits = 3; SET bytea_output = hex`);
    return (await client.query<{ row: string }>(`SELECT s::text AS row FROM span s ORDER BY id`)).rows.map((r) => r.row);
  } finally {
    await client.end();
  }
}

describe('database-level settings on either side cannot change a verdict', () => {
  let pair: Pair;
  const runId = 'run-settings';

  beforeAll(async () => {
    pair = await makePair(server(), 'settings');
    const db = (url: string) => new URL(url).pathname.slice(1);
    // Set before anything connects: they apply to every new session of that database.
    await pair.sql(
      'source',
      `ALTER DATABASE ${db(pair.sourceUrl)} SET IntervalStyle = sql_standard;
       ALTER DATABASE ${db(pair.sourceUrl)} SET DateStyle = 'SQL, DMY';
       ALTER DATABASE ${db(pair.sourceUrl)} SET TimeZone = 'Pacific/Chatham';
       ALTER DATABASE ${db(pair.sourceUrl)} SET extra_float_digits = -3;
       ALTER DATABASE ${db(pair.sourceUrl)} SET bytea_output = escape`,
    );
    await pair.sql(
      'target',
      `ALTER DATABASE ${db(pair.targetUrl)} SET IntervalStyle = iso_8601;
       ALTER DATABASE ${db(pair.targetUrl)} SET DateStyle = 'German, YMD';
       ALTER DATABASE ${db(pair.targetUrl)} SET TimeZone = 'America/St_Johns';
       ALTER DATABASE ${db(pair.targetUrl)} SET xmloption = document`,
    );
    await pair.sql('source', SCHEMA);
    await pair.sql('source', DATA);
    await pair.sql('target', SCHEMA);
    const dir = join(pair.dir, runId);
    await exportTables({ source: pair.source, tables: TABLES.map((t) => t.name), dir, runId });
    await loadTables({ target: pair.target, dir, runId });
  });
  afterAll(async () => {
    await pair.cleanup();
  });

  it('the sides really differ in how they write values', async () => {
    const [source] = await pair.sql<{ d: string; day: string }>('source', `SELECT d::text, day::text FROM span WHERE id = 13`);
    const [target] = await pair.sql<{ d: string; day: string }>('target', `SELECT d::text, day::text FROM span WHERE id = 13`);
    expect(source).toEqual({ d: '13 12:00:00', day: '13/12/2024' });
    expect(target).toEqual({ d: 'P13DT12H', day: '13.12.2024' });
  });

  it('loads every value exactly and verifies clean, from the export digest and from a live scan', async () => {
    expect(await rowsOf(pair.targetUrl)).toEqual(await rowsOf(pair.sourceUrl));

    const live = await verifyTables({ source: pair.source, target: pair.target, tables: TABLES });
    expect(live.tables.map((t) => [t.table, t.match, t.differences])).toEqual(TABLES.map((t) => [t.name, true, []]));
    const manifest = await readManifest(join(pair.dir, runId));
    const fromExport = await verifyTables({ source: pair.source, target: pair.target, tables: TABLES, sourceDigests: digestsFromManifest(manifest) });
    expect(fromExport.ok).toBe(true);
    expect(fromExport.tables.every((t) => t.sourceDigestFrom === 'export')).toBe(true);
  });

  it('reconciles clean', async () => {
    const source = await pair.source.connect();
    const target = await pair.target.connect();
    try {
      const result = await reconcile(
        { tables: TABLES.map((t) => ({ ...t, appendOnly: false })), thresholds: { readingsGap: '15m' } },
        { source, target, cutoverPoint: { time: '2026-01-01T00:00:00Z' }, now: new Date('2026-01-02T00:00:00Z') },
      );
      expect(result.totals).toMatchObject({ driftRows: 0, problems: 0 });
      expect(result.clean).toBe(true);
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
  });

  it('names the table and the row where one interval really changed', async () => {
    await pair.sql('target', `UPDATE span SET d = d + interval '1 microsecond' WHERE id = 13`);
    try {
      const report = await verifyTables({ source: pair.source, target: pair.target, tables: TABLES });
      expect(report.ok).toBe(false);
      expect(report.tables.filter((t) => !t.match).map((t) => [t.table, t.differences])).toEqual([
        ['public.span', [{ kind: 'changed values', count: 1, sampleKeys: ['(13)'] }]],
      ]);
    } finally {
      await pair.sql('target', `UPDATE span SET d = d - interval '1 microsecond' WHERE id = 13`);
    }
  });
});
