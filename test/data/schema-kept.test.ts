import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { readSchemaSnapshot } from '../../src/steps/data/schema-snapshot.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, tableText, type Pair } from './support.js';

/**
 * The target's schema is left exactly as it was, plus data (issue 11, "What it must show" 3 and 4):
 * a partitioned table with partition indexes, a constraint comment, statistics targets, on the path
 * that drops and rebuilds indexes; and triggers in every enable state, none of which fires.
 */

const server = usePostgres();

const SCHEMA = `
CREATE TABLE public.measurement (id bigint NOT NULL, at timestamptz NOT NULL, device int NOT NULL, value numeric, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE public.measurement_q1 PARTITION OF public.measurement FOR VALUES FROM ('2026-01-01') TO ('2026-04-01');
CREATE TABLE public.measurement_q2 PARTITION OF public.measurement FOR VALUES FROM ('2026-04-01') TO ('2026-07-01');
CREATE TABLE public.measurement_q3 PARTITION OF public.measurement FOR VALUES FROM ('2026-07-01') TO ('2026-10-01');
CREATE TABLE public.measurement_q4 PARTITION OF public.measurement FOR VALUES FROM ('2026-10-01') TO ('2027-01-01');
CREATE INDEX measurement_device_idx ON public.measurement (device, at);
COMMENT ON INDEX public.measurement_device_idx IS 'readings by device';
ALTER TABLE public.measurement ALTER COLUMN device SET STATISTICS 900;

CREATE TABLE public.account (id int PRIMARY KEY, email text NOT NULL, CONSTRAINT account_email_key UNIQUE (email), CONSTRAINT positive CHECK (id > 0));
COMMENT ON CONSTRAINT account_email_key ON public.account IS 'one account per address';
COMMENT ON CONSTRAINT positive ON public.account IS 'ids start at 1';
COMMENT ON INDEX public.account_email_key IS 'the index behind the unique constraint';
CREATE INDEX account_lower_email_idx ON public.account (lower(email));
ALTER INDEX public.account_lower_email_idx ALTER COLUMN 1 SET STATISTICS 500;
ALTER TABLE public.account ALTER COLUMN email SET STATISTICS 700;
COMMENT ON TABLE public.account IS 'accounts';
COMMENT ON COLUMN public.account.email IS 'login';
CREATE STATISTICS account_id_email ON id, email FROM public.account;
ALTER STATISTICS account_id_email SET STATISTICS 300;

-- Triggers in each enable state, counting every row they see.
CREATE TABLE public.fired (trigger text PRIMARY KEY, n int NOT NULL DEFAULT 0);
INSERT INTO public.fired (trigger) VALUES ('origin'), ('always'), ('replica'), ('disabled');
CREATE FUNCTION public.count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE public.fired SET n = n + 1 WHERE trigger = TG_ARGV[0]; RETURN NEW; END $$;
CREATE TRIGGER count_origin AFTER INSERT ON public.account FOR EACH ROW EXECUTE FUNCTION public.count_row('origin');
CREATE TRIGGER count_always AFTER INSERT ON public.account FOR EACH ROW EXECUTE FUNCTION public.count_row('always');
CREATE TRIGGER count_replica AFTER INSERT ON public.account FOR EACH ROW EXECUTE FUNCTION public.count_row('replica');
CREATE TRIGGER count_disabled AFTER INSERT ON public.account FOR EACH ROW EXECUTE FUNCTION public.count_row('disabled');
ALTER TABLE public.account ENABLE ALWAYS TRIGGER count_always;
ALTER TABLE public.account ENABLE REPLICA TRIGGER count_replica;
ALTER TABLE public.account DISABLE TRIGGER count_disabled;
CREATE TRIGGER count_measurement AFTER INSERT ON public.measurement FOR EACH ROW EXECUTE FUNCTION public.count_row('always');
ALTER TABLE public.measurement ENABLE ALWAYS TRIGGER count_measurement;
COMMENT ON TRIGGER count_always ON public.account IS 'must never fire during a load';
`;

const DATA = `
ALTER TABLE public.account DISABLE TRIGGER USER;
ALTER TABLE public.measurement DISABLE TRIGGER USER;
INSERT INTO public.account SELECT i, 'user' || i || '@example.com' FROM generate_series(1, 500) i;
INSERT INTO public.measurement SELECT i, timestamptz '2026-01-01 00:00+00' + i * interval '1 hour', i % 13, i / 7.0 FROM generate_series(1, 8000) i;
`;

const TABLES = ['public.measurement', 'public.account'];
const SPECS = [
  { name: 'public.measurement', key: ['id', 'at'] },
  { name: 'public.account', key: ['id'] },
];

describe('the target schema after the load', () => {
  let pair: Pair;
  let before: string[];
  beforeAll(async () => {
    pair = await makePair(server(), 'kept');
    await pair.sql('source', SCHEMA + DATA);
    await pair.sql('target', SCHEMA);
    before = await targetSnapshot(pair, TABLES);
    await exportTables({ source: pair.source, tables: TABLES, dir: pair.dir, runId: 'run-kept' });
  });
  afterAll(() => pair.cleanup());

  it('is the catalog it was before, on the path that rebuilds indexes (partition indexes attached and valid)', async () => {
    expect(before.filter((l) => l.startsWith('index ')).length).toBe(13);
    const loaded = await loadTables({ target: pair.target, dir: pair.dir, runId: 'run-kept', rebuildIndexesAboveRows: 1 });
    expect(loaded.rows).toBe(8500);
    const after = await targetSnapshot(pair, TABLES);
    expect(after).toEqual(before);
    expect(await tableText(pair, 'target', 'public.measurement', 'id')).toEqual(await tableText(pair, 'source', 'public.measurement', 'id'));
    const report = await verifyTables({ source: pair.source, target: pair.target, tables: SPECS, runId: 'run-kept' });
    expect(report.schema).toEqual({ checked: before.length, changes: [] });
    expect(report.ok).toBe(true);
  });

  it('fires no trigger, whatever its enable state, and leaves each state as it was', async () => {
    const fired = await pair.sql<{ trigger: string; n: number }>('target', `SELECT trigger, n FROM public.fired ORDER BY 1`);
    expect(fired).toEqual([
      { trigger: 'always', n: 0 },
      { trigger: 'disabled', n: 0 },
      { trigger: 'origin', n: 0 },
      { trigger: 'replica', n: 0 },
    ]);
    const states = await pair.sql<{ tgname: string; tgenabled: string }>(
      'target',
      `SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'public.account'::regclass ORDER BY 1`,
    );
    expect(states).toEqual([
      { tgname: 'count_always', tgenabled: 'A' },
      { tgname: 'count_disabled', tgenabled: 'D' },
      { tgname: 'count_origin', tgenabled: 'O' },
      { tgname: 'count_replica', tgenabled: 'R' },
    ]);
  });

  it('verify names a change to the target schema since the load began', async () => {
    await pair.sql('target', `COMMENT ON CONSTRAINT positive ON public.account IS NULL; ALTER TABLE public.account DISABLE TRIGGER count_always`);
    const report = await verifyTables({ source: pair.source, target: pair.target, tables: SPECS, runId: 'run-kept' });
    expect(report.ok).toBe(false);
    expect(report.schema?.changes).toEqual([
      expect.stringMatching(/^before the load: constraint positive on public\.account: CHECK \(\(id > 0\)\) validated=t comment='ids start at 1'/),
      expect.stringMatching(/^before the load: trigger count_always on public\.account: .* enabled=A/),
      expect.stringMatching(/^after the load: +constraint positive on public\.account: .* comment=NULL/),
      expect.stringMatching(/^after the load: +trigger count_always on public\.account: .* enabled=D/),
    ]);
  });
});

async function targetSnapshot(pair: Pair, ids: string[]): Promise<string[]> {
  const client = await pair.target.connect();
  try {
    return await readSchemaSnapshot(client, ids);
  } finally {
    await client.end();
  }
}
