import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { checkTargetReady } from '../../src/steps/data/target-ready.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import { exportDelta } from '../../src/steps/rollback/export-delta.js';
import { reimportDelta } from '../../src/steps/rollback/reimport.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Every sequence the plan's tables use comes across at the source's position (issue 11, "What it must
 * show" 2): one shared by two tables and owned by no column (invoice numbers), a descending one, a
 * cycling one. After the load the target's nextval never collides; after a rollback's delta export the
 * source's sequences never hand out an id the target used.
 */

const server = usePostgres();

const SCHEMA = `
CREATE SEQUENCE public.invoice_numbers START 1000;
CREATE TABLE public.invoice (id int PRIMARY KEY DEFAULT nextval('public.invoice_numbers'), amount numeric NOT NULL);
CREATE TABLE public.credit_note (id int PRIMARY KEY DEFAULT nextval('public.invoice_numbers'), amount numeric NOT NULL);
CREATE SEQUENCE public.countdown INCREMENT -1 MINVALUE -1000000 MAXVALUE -1 START -1;
CREATE TABLE public.ledger (id bigint PRIMARY KEY DEFAULT nextval('public.countdown'), note text);
ALTER SEQUENCE public.countdown OWNED BY public.ledger.id;
CREATE SEQUENCE public.ring MINVALUE 1 MAXVALUE 50 CYCLE;
CREATE TABLE public.slot (n serial PRIMARY KEY, ring_no int NOT NULL DEFAULT nextval('public.ring'), label text);
`;

const DATA = `
INSERT INTO public.invoice (amount) SELECT i FROM generate_series(1, 300) i;
INSERT INTO public.credit_note (amount) SELECT -i FROM generate_series(1, 200) i;
-- Numbers handed out and never stored (cancelled invoices): the position is well past the max.
SELECT setval('public.invoice_numbers', 30434);
INSERT INTO public.ledger (note) SELECT 'entry ' || i FROM generate_series(1, 120) i;
INSERT INTO public.slot (label) SELECT 'slot ' || i FROM generate_series(1, 120) i;
`;

const TABLES = ['public.invoice', 'public.credit_note', 'public.ledger', 'public.slot'];
const SPECS = [
  { name: 'public.invoice', key: ['id'], appendOnly: true },
  { name: 'public.credit_note', key: ['id'], appendOnly: true },
  { name: 'public.ledger', key: ['id'], appendOnly: true },
  { name: 'public.slot', key: ['n'], appendOnly: true },
];

describe('sequences on real PostgreSQL', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await makePair(server(), 'seq');
    await pair.sql('source', SCHEMA + DATA);
    await pair.sql('target', SCHEMA);
  });
  afterAll(() => pair.cleanup());

  const position = async (side: 'source' | 'target', sequence: string) =>
    (await pair.sql<{ p: string }>(side, `SELECT last_value::text || (CASE WHEN is_called THEN '+' ELSE '' END) AS p FROM ${sequence}`))[0]!.p;

  it('after the load, every sequence stands where the source left it and nextval never collides', async () => {
    await exportTables({ source: pair.source, tables: TABLES, dir: pair.dir, runId: 'run-seq' });
    const loaded = await loadTables({ target: pair.target, dir: pair.dir, runId: 'run-seq' });
    expect(loaded.sequences.map((s) => s.sequence).sort()).toEqual(['public.countdown', 'public.invoice_numbers', 'public.ring', 'public.slot_n_seq']);

    const clean = await verifyTables({ source: pair.source, target: pair.target, tables: SPECS });
    expect(clean.sequences).toEqual({ checked: 4, problems: [] });
    expect(clean.ok).toBe(true);
    for (const sequence of ['public.invoice_numbers', 'public.countdown', 'public.ring', 'public.slot_n_seq']) {
      expect(`${sequence} ${await position('target', sequence)}`).toBe(`${sequence} ${await position('source', sequence)}`);
    }
    // New rows take the next numbers without a unique violation, in both directions.
    await pair.sql('target', `INSERT INTO public.invoice (amount) SELECT i FROM generate_series(1, 5) i`);
    await pair.sql('target', `INSERT INTO public.credit_note (amount) SELECT i FROM generate_series(1, 5) i`);
    await pair.sql('target', `INSERT INTO public.ledger (note) SELECT 'new' FROM generate_series(1, 5)`);
    await pair.sql('target', `INSERT INTO public.slot (label) SELECT 'new' FROM generate_series(1, 5)`);
    const [invoice] = await pair.sql<{ min: number }>('target', `SELECT min(id) AS min FROM public.credit_note WHERE amount > 0`);
    expect(invoice!.min).toBeGreaterThan(30434);
    const [ledger] = await pair.sql<{ max: string }>('target', `SELECT max(id)::text AS max FROM public.ledger WHERE note = 'new'`);
    expect(ledger!.max).toBe('-121');
    const [ring] = await pair.sql<{ r: number[] }>('target', `SELECT array_agg(ring_no ORDER BY n) AS r FROM public.slot WHERE label = 'new'`);
    expect(ring!.r).toEqual([21, 22, 23, 24, 25]);
  });

  it('a sequence set past the max of its column when the source position is behind it (explicit ids)', async () => {
    const other = await makePair(server(), 'seq_behind');
    try {
      await other.sql('source', SCHEMA);
      await other.sql('target', SCHEMA);
      // Ids written explicitly: the sequences never moved, the columns hold values past them.
      await other.sql('source', `INSERT INTO public.invoice VALUES (5000, 1); INSERT INTO public.ledger VALUES (-77, 'x')`);
      await exportTables({ source: other.source, tables: TABLES, dir: other.dir, runId: 'run-behind' });
      await loadTables({ target: other.target, dir: other.dir, runId: 'run-behind' });
      const [next] = await other.sql<{ i: number; l: string }>('target', `SELECT nextval('public.invoice_numbers')::int AS i, nextval('public.countdown')::text AS l`);
      expect(next).toEqual({ i: 5001, l: '-78' });
    } finally {
      await other.cleanup();
    }
  });

  it('final.target-ready names a sequence the tables use that the target lacks', async () => {
    const other = await makePair(server(), 'seq_missing');
    try {
      await other.sql('source', SCHEMA);
      await other.sql('target', SCHEMA.replace("CREATE SEQUENCE public.invoice_numbers START 1000;", '').replace(/DEFAULT nextval\('public\.invoice_numbers'\)/g, ''));
      await expect(checkTargetReady({ source: other.source, target: other.target, tables: TABLES, appRoles: [] })).rejects.toThrow(
        /sequence public\.invoice_numbers \(used by public\.invoice\.id, public\.credit_note\.id\) does not exist on the target/,
      );
    } finally {
      await other.cleanup();
    }
  });

  it('verify reports a sequence left behind on the target', async () => {
    await pair.sql('target', `SELECT setval('public.invoice_numbers', 1000, false)`);
    const behind = await verifyTables({ source: pair.source, target: pair.target, tables: SPECS });
    expect(behind.ok).toBe(false);
    expect(behind.sequences?.problems).toContainEqual(expect.stringMatching(/^public\.invoice_numbers on the target would next give 1000, .* the source's position is 30434/));
    await pair.sql('target', `SELECT setval('public.invoice_numbers', (SELECT max(id) FROM public.credit_note))`);
  });

  it("after the rollback delta the source's sequences never hand out an id the target used, in either direction", async () => {
    const delta = await exportDelta({ source: pair.source, target: pair.target, tables: SPECS, dir: join(pair.dir, 'rollback-delta'), runId: 'run-seq', cutoverPoint: null });
    expect(delta.manifest.reserved.map((r) => r.sequence).sort()).toEqual(['public.countdown', 'public.invoice_numbers', 'public.ring', 'public.slot_n_seq']);
    const [target] = await pair.sql<{ invoice: number; ledger: string }>(
      'target',
      `SELECT greatest((SELECT max(id) FROM public.invoice), (SELECT max(id) FROM public.credit_note)) AS invoice, (SELECT min(id)::text FROM public.ledger) AS ledger`,
    );
    const [next] = await pair.sql<{ invoice: number; ledger: string; ring: number }>(
      'source',
      `SELECT nextval('public.invoice_numbers')::int AS invoice, nextval('public.countdown')::text AS ledger, nextval('public.ring')::int AS ring`,
    );
    expect(next!.invoice).toBeGreaterThan(target!.invoice);
    expect(BigInt(next!.ledger)).toBeLessThan(BigInt(target!.ledger));
    expect(next!.ledger).toBe('-126');
    // The cycling sequence continues after the target's last number.
    expect(next!.ring).toBe(26);

    // The re-import brings the target's new rows into the source; its sequences still point past them.
    const reimported = await reimportDelta({ source: pair.source, dir: join(pair.dir, 'rollback-delta'), runId: 'run-seq' });
    expect(reimported.tables.map((t) => [t.table, t.inserted])).toEqual([
      ['public.invoice', 5],
      ['public.credit_note', 5],
      ['public.ledger', 5],
      ['public.slot', 5],
    ]);
    await pair.sql('source', `INSERT INTO public.invoice (amount) VALUES (1); INSERT INTO public.ledger (note) VALUES ('after the rollback')`);
    const [after] = await pair.sql<{ ledger: string }>('source', `SELECT id::text AS ledger FROM public.ledger WHERE note = 'after the rollback'`);
    expect(after!.ledger).toBe('-127');
  });
});
