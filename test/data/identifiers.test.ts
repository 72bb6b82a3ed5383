import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { canonicalTableId, parseTableName } from '../../src/config/identifiers.js';
import { planSchema } from '../../src/config/schema.js';
import { exportTables } from '../../src/steps/data/export.js';
import { freezeSource, unfreezeSource } from '../../src/steps/data/freeze.js';
import { loadTables } from '../../src/steps/data/load.js';
import { readManifest } from '../../src/steps/data/manifest.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import { reconcile } from '../../src/steps/reconcile/reconcile.js';
import { exportDelta } from '../../src/steps/rollback/export-delta.js';
import { reimportDelta } from '../../src/steps/rollback/reimport.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, tableText, type Pair } from './support.js';

/**
 * Any name PostgreSQL allows, written in the plan in SQL syntax and carried quoted through export,
 * load, verify, reconcile and the rollback delta (issue 11, "What it must show" 1).
 */

const server = usePostgres();

const SCHEMA = `
CREATE SCHEMA "Billing Dept";
CREATE TABLE public."User" ("userId" serial PRIMARY KEY, "displayName" text NOT NULL, "createdAt" timestamptz NOT NULL);
CREATE TABLE public."Audit ""Log"" Entries" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "order" int NOT NULL,
  "userId" int REFERENCES public."User" ("userId"),
  "what/where" text,
  at timestamptz NOT NULL
);
CREATE TABLE "Billing Dept"."Invoice.Line" ("Invoice" int, "line#" int, amount numeric(10,2), PRIMARY KEY ("Invoice", "line#"));
`;

const DATA = `
INSERT INTO public."User" ("displayName", "createdAt")
SELECT 'user ' || i, timestamptz '2026-12-01 00:00+00' + i * interval '1 hour' FROM generate_series(1, 40) i;
INSERT INTO public."Audit ""Log"" Entries" ("order", "userId", "what/where", at)
SELECT i % 7, 1 + i % 40, E'line "' || i || E'"\\ttab', timestamptz '2026-12-01 00:00+00' + i * interval '1 minute' FROM generate_series(1, 250) i;
INSERT INTO "Billing Dept"."Invoice.Line" SELECT i / 3, i % 3, i * 1.5 FROM generate_series(1, 30) i;
`;

const PLAN_TABLES = [
  { name: 'public."User"', key: ['"userId"'], timestampColumn: '"createdAt"' },
  { name: 'public."Audit ""Log"" Entries"', key: ['id'], timestampColumn: 'at', appendOnly: true, reconcile: { groupBy: ['order'] } },
  { name: '"Billing Dept"."Invoice.Line"', key: ['"Invoice"', '"line#"'] },
];

describe('identifiers in the plan', () => {
  it('reads SQL syntax into exact names, and canonical ids parse back to the same names', () => {
    const plan = planSchema.parse({ ...examplePlan, tables: PLAN_TABLES });
    expect(plan.tables.map((t) => t.name)).toEqual(['public."User"', 'public."Audit ""Log"" Entries"', '"Billing Dept"."Invoice.Line"']);
    expect(plan.tables[0]!.key).toEqual(['userId']);
    expect(plan.tables[0]!.timestampColumn).toBe('createdAt');
    expect(plan.tables[1]!.reconcile?.groupBy).toEqual(['order']);
    expect(plan.tables[2]!.key).toEqual(['Invoice', 'line#']);
    expect(parseTableName('"Billing Dept"."Invoice.Line"')).toEqual({ schema: 'Billing Dept', table: 'Invoice.Line' });
    expect(parseTableName('public."Audit ""Log"" Entries"')).toEqual({ schema: 'public', table: 'Audit "Log" Entries' });
    expect(canonicalTableId('readings')).toBe('public.readings');
    expect(canonicalTableId('public."readings"')).toBe('public.readings');
    expect(canonicalTableId('"Zoë"')).toBe('public."Zoë"');
  });

  it('refuses an unquoted capital (PostgreSQL would fold it) and says how to write it', () => {
    const result = planSchema.safeParse({ ...examplePlan, tables: [{ name: 'public.User', key: ['userId'] }] });
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^tables\.0\.name: .*User has capitals.*write "User" in double quotes/),
      expect.stringMatching(/^tables\.0\.key\.0: .*write "userId" in double quotes/),
    ]);
    expect(planSchema.safeParse({ ...examplePlan, tables: [{ name: 'public."open', key: ['id'] }] }).success).toBe(false);
    expect(planSchema.safeParse({ ...examplePlan, tables: [{ name: 'a.b.c', key: ['id'] }] }).success).toBe(false);
  });
});

describe('round trip of quoted names on PostgreSQL', () => {
  let pair: Pair;
  const plan = planSchema.parse({ ...examplePlan, tables: PLAN_TABLES });
  const names = plan.tables.map((t) => t.name);

  beforeAll(async () => {
    pair = await makePair(server(), 'idents');
    await pair.sql('source', SCHEMA + DATA);
    await pair.sql('target', SCHEMA);
  });
  afterAll(() => pair.cleanup());

  it('exports, loads and verifies every table, then names a changed row by its quoted key', async () => {
    const exported = await exportTables({ source: pair.source, tables: names, dir: pair.dir, runId: 'run-idents' });
    expect(exported.tables.map((t) => [t.table, t.rows])).toEqual([
      ['public."User"', 40],
      ['public."Audit ""Log"" Entries"', 250],
      ['"Billing Dept"."Invoice.Line"', 30],
    ]);
    // File names stay inside the folder and are distinct whatever the table is called.
    const files = (await readdir(pair.dir)).filter((f) => f.endsWith('.copy')).sort();
    expect(files).toEqual(['%22Billing%20Dept%22.%22Invoice.Line%22.copy', 'public.%22Audit%20%22%22Log%22%22%20Entries%22.copy', 'public.%22User%22.copy']);
    const manifest = await readManifest(pair.dir);
    expect(Object.keys(manifest!.tables).sort()).toEqual([...names].sort());

    const loaded = await loadTables({ target: pair.target, dir: pair.dir, runId: 'run-idents' });
    expect(loaded.rows).toBe(320);
    for (const table of ['public."User"', 'public."Audit ""Log"" Entries"', '"Billing Dept"."Invoice.Line"']) {
      expect(await tableText(pair, 'target', table, '1')).toEqual(await tableText(pair, 'source', table, '1'));
    }
    // The serial of "User" moved past the loaded ids.
    const [next] = await pair.sql<{ id: number }>('target', `SELECT nextval(pg_get_serial_sequence('public."User"', 'userId'))::int AS id`);
    expect(next!.id).toBe(41);

    const clean = await verifyTables({ source: pair.source, target: pair.target, tables: plan.tables });
    expect(clean.ok).toBe(true);

    await pair.sql('target', `UPDATE "Billing Dept"."Invoice.Line" SET amount = 0 WHERE "Invoice" = 2 AND "line#" = 1`);
    const differs = await verifyTables({ source: pair.source, target: pair.target, tables: plan.tables });
    expect(differs.ok).toBe(false);
    const line = differs.tables.find((t) => t.table === '"Billing Dept"."Invoice.Line"')!;
    expect(line.differences).toEqual([expect.objectContaining({ kind: 'changed values', count: 1, sampleKeys: ['(2,1)'] })]);
    await pair.sql('target', `UPDATE "Billing Dept"."Invoice.Line" SET amount = 10.50 WHERE "Invoice" = 2 AND "line#" = 1`);
  });

  it('reconciles the same tables, naming a lost row by its quoted key', async () => {
    await pair.sql('target', `DELETE FROM public."Audit ""Log"" Entries" WHERE id = 17`);
    const source = new pg.Client(pair.sourceUrl);
    const target = new pg.Client(pair.targetUrl);
    await Promise.all([source.connect(), target.connect()]);
    try {
      const result = await reconcile(plan, { source, target, cutoverPoint: { time: '2026-12-05T00:00:00Z' }, now: new Date('2026-12-06T00:00:00Z') });
      expect(result.tables.map((t) => [t.table, t.problem ?? 'compared'])).toEqual([
        ['public."User"', 'compared'],
        ['public."Audit ""Log"" Entries"', 'compared'],
        ['"Billing Dept"."Invoice.Line"', 'compared'],
      ]);
      const audit = result.tables.find((t) => t.table === 'public."Audit ""Log"" Entries"')!;
      expect(audit.missingRows).toBe(1);
      expect(audit.keys).toEqual([expect.objectContaining({ kind: 'missing', key: { id: '17' } })]);
      expect(result.tables.filter((t) => t.table !== audit.table).every((t) => t.driftRows === 0)).toBe(true);
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
    await pair.sql('target', `INSERT INTO public."Audit ""Log"" Entries" (id, "order", "userId", "what/where", at) OVERRIDING SYSTEM VALUE
                              SELECT id, "order", "userId", "what/where", at FROM (VALUES (17, 3, 18, E'line "17"\\ttab', timestamptz '2026-12-01 00:17+00')) v(id, "order", "userId", "what/where", at)`);
  });

  it('exports the rollback delta of the quoted tables and re-imports it into the source', async () => {
    await pair.sql('target', `INSERT INTO public."User" ("displayName", "createdAt") VALUES ('after the switch', '2026-12-06 01:00+00')`);
    await pair.sql('target', `INSERT INTO public."Audit ""Log"" Entries" ("order", "userId", "what/where", at) SELECT 1, max("userId"), 'new', '2026-12-06 01:00+00' FROM public."User"`);
    await pair.sql('target', `UPDATE public."User" SET "displayName" = 'renamed' WHERE "userId" = 3`);
    const dir = join(pair.dir, 'rollback-delta');
    const delta = await exportDelta({
      source: pair.source,
      target: pair.target,
      tables: plan.tables.map((t) => ({ name: t.name, key: t.key, appendOnly: t.appendOnly, timestampColumn: t.timestampColumn })),
      dir,
      runId: 'run-idents',
      cutoverPoint: null,
    });
    expect(delta.tables.map((t) => [t.table, t.new, t.changed, t.deleted])).toEqual([
      ['public."User"', 1, 1, 0],
      ['public."Audit ""Log"" Entries"', 1, 0, 0],
      ['"Billing Dept"."Invoice.Line"', 0, 0, 0],
    ]);
    const reimported = await reimportDelta({ source: pair.source, dir, runId: 'run-idents' });
    expect(reimported.review.map((r) => r.table)).toContain('public."User"');
    const [row] = await pair.sql<{ n: number }>('source', `SELECT count(*)::int AS n FROM public."Audit ""Log"" Entries" WHERE "what/where" = 'new'`);
    // Its parent "User" 41 is not append-only, so the reading is held back for review, not orphaned.
    expect(row!.n + reimported.tables.reduce((sum, t) => sum + t.heldBack.count, 0)).toBe(1);
  });
});

describe('the freeze on quoted names', () => {
  let pair: Pair;
  const plan = planSchema.parse({ ...examplePlan, tables: PLAN_TABLES });
  const names = plan.tables.map((t) => t.name);
  const acl = (pair: Pair) =>
    pair.sql<{ name: string; acl: string | null; triggers: string | null }>(
      'source',
      `SELECT c.oid::regclass::text AS name, c.relacl::text AS acl,
              (SELECT string_agg(t.tgname || ':' || t.tgenabled::text, ',' ORDER BY t.tgname) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'Billing Dept') AND c.relkind IN ('r', 'p', 'S') ORDER BY 1`,
    );

  beforeAll(async () => {
    pair = await makePair(server(), 'identfreeze');
    await pair.sql('source', SCHEMA + DATA);
    await pair.sql(
      'source',
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ident_app') THEN CREATE ROLE ident_app NOLOGIN; END IF; END $$;
       GRANT USAGE ON SCHEMA "Billing Dept" TO ident_app;
       GRANT SELECT, INSERT, UPDATE, DELETE ON public."User", public."Audit ""Log"" Entries", "Billing Dept"."Invoice.Line" TO ident_app;
       GRANT USAGE, UPDATE ON SEQUENCE public."User_userId_seq" TO ident_app;`,
    );
  });
  afterAll(() => pair.cleanup());

  it('revokes, guards and restores exactly on tables with capitals, spaces, quotes and dots in their names', async () => {
    const before = await acl(pair);
    const recordFile = join(pair.dir, 'freeze-grants.json');
    const frozen = await freezeSource({ source: pair.source, tables: names, appRoles: ['ident_app'], recordFile, window: 'the test window' });
    expect(frozen.revoked.map((g) => g.table)).toEqual(expect.arrayContaining(['public."User"', 'public."Audit ""Log"" Entries"', '"Billing Dept"."Invoice.Line"']));
    // Refused for the app role and, through the barrier, for the superuser too.
    await expect(pair.sql('source', `SET ROLE ident_app; INSERT INTO public."User" ("displayName", "createdAt") VALUES ('x', now())`)).rejects.toThrow(/permission denied|maintenance|the test window/);
    await expect(pair.sql('source', `UPDATE "Billing Dept"."Invoice.Line" SET amount = 0 WHERE "Invoice" = 1`)).rejects.toThrow(/the test window/);
    const [count] = await pair.sql<{ n: number }>('source', `SELECT count(*)::int AS n FROM public."User"`);
    expect(count!.n).toBe(40);

    const unfrozen = await unfreezeSource({ source: pair.source, grants: frozen.revoked });
    expect(unfrozen.restored).toBe(frozen.revoked.length);
    expect(await acl(pair)).toEqual(before);
    await pair.sql('source', `SET ROLE ident_app; INSERT INTO public."User" ("displayName", "createdAt") VALUES ('after', now())`);
  });
});
