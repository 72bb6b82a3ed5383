import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/config/load.js';
import { examplePlan } from '../../src/config/example.js';
import { formatName } from '../../src/config/identifiers.js';
import type { Plan, PlanInput } from '../../src/config/schema.js';
import { checkPlanCoverage } from '../../src/steps/data/accounted.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { checkTargetReady } from '../../src/steps/data/target-ready.js';
import { formatVerifyReport, verifyTables } from '../../src/steps/data/verify.js';
import { cli } from '../support/cli.js';
import { usePostgres } from '../support/postgres.js';
import { makePair, type Pair } from './support.js';

/**
 * Every table accounted for, and `cutover init --from-source` on an application that is not FreshTrack
 * (issue 11, "What it must show" 6): 10 tables with composite keys, a partitioned table, mixed-case
 * names and one table without a key; Supabase's own schemas beside them.
 */

const server = usePostgres();

const SCHEMA = `
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
CREATE SCHEMA storage;
CREATE TABLE storage.objects (id uuid PRIMARY KEY, name text);
CREATE SCHEMA shop;
CREATE TABLE shop."Customer" ("customerId" uuid PRIMARY KEY, "fullName" text NOT NULL, "createdAt" timestamptz NOT NULL);
CREATE TABLE shop.product (sku text PRIMARY KEY, title text NOT NULL, price numeric(10,2) NOT NULL, updated_at timestamptz);
CREATE TABLE shop.order_line ("orderId" bigint, line int, sku text NOT NULL, qty int NOT NULL, PRIMARY KEY ("orderId", line));
CREATE TABLE shop."Order" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "customerId" uuid NOT NULL REFERENCES shop."Customer", placed_at timestamptz NOT NULL);
ALTER TABLE shop.order_line ADD FOREIGN KEY ("orderId") REFERENCES shop."Order", ADD FOREIGN KEY (sku) REFERENCES shop.product;
CREATE TABLE shop.warehouse (code text PRIMARY KEY, name text);
CREATE TABLE shop.stock (warehouse text REFERENCES shop.warehouse, sku text REFERENCES shop.product, qty int NOT NULL, PRIMARY KEY (warehouse, sku));
CREATE TABLE shop.stock_events (id bigint NOT NULL, recorded_at timestamptz NOT NULL, sku text NOT NULL, delta int NOT NULL, PRIMARY KEY (id, recorded_at))
  PARTITION BY RANGE (recorded_at);
CREATE TABLE shop.stock_events_2025 PARTITION OF shop.stock_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.stock_events_2026 PARTITION OF shop.stock_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE SEQUENCE shop.invoice_no START 5000;
CREATE TABLE shop.invoice (no int PRIMARY KEY DEFAULT nextval('shop.invoice_no'), "orderId" bigint NOT NULL REFERENCES shop."Order", issued_at timestamptz NOT NULL);
CREATE TABLE public."Audit ""Log"" Entries" (id serial PRIMARY KEY, at timestamptz NOT NULL, what text);
CREATE TABLE public.settings (name text NOT NULL UNIQUE, value jsonb);
CREATE TABLE public.scratch (note text);
`;

const DATA = `
INSERT INTO shop."Customer" SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'Customer ' || i, timestamptz '2026-01-01' + i * interval '1 day' FROM generate_series(1, 30) i;
INSERT INTO shop.product SELECT 'SKU-' || i, 'Product ' || i, i * 2.5, NULL FROM generate_series(1, 20) i;
INSERT INTO shop."Order" ("customerId", placed_at) SELECT ('00000000-0000-0000-0000-' || lpad((1 + i % 30)::text, 12, '0'))::uuid, timestamptz '2026-02-01' + i * interval '1 hour' FROM generate_series(1, 100) i;
INSERT INTO shop.order_line SELECT 1 + i / 3, i % 3, 'SKU-' || (1 + i % 20), 1 + i % 4 FROM generate_series(0, 299) i;
INSERT INTO shop.warehouse VALUES ('north', 'North'), ('south', 'South');
INSERT INTO shop.stock SELECT w, 'SKU-' || i, i FROM unnest(ARRAY['north', 'south']) w, generate_series(1, 20) i;
INSERT INTO shop.stock_events SELECT i, timestamptz '2025-06-01' + i * interval '6 hours', 'SKU-' || (1 + i % 20), (i % 5) - 2 FROM generate_series(1, 2000) i;
INSERT INTO shop.invoice ("orderId", issued_at) SELECT i, timestamptz '2026-03-01' + i * interval '1 hour' FROM generate_series(1, 40) i;
INSERT INTO public."Audit ""Log"" Entries" (at, what) SELECT timestamptz '2026-01-01' + i * interval '1 minute', 'did ' || i FROM generate_series(1, 250) i;
INSERT INTO public.settings VALUES ('theme', '"dark"'), ('locale', '"fr"');
INSERT INTO public.scratch VALUES ('temporary');
`;

describe('every table accounted for, and a plan written from the source', () => {
  let pair: Pair;
  let dir: string;
  let plan: Plan;
  let env: Record<string, string>;

  beforeAll(async () => {
    pair = await makePair(server(), 'fromsource');
    await pair.sql('source', SCHEMA + DATA);
    await pair.sql('target', SCHEMA);
    dir = await mkdtemp(join(tmpdir(), 'cutover-init-'));
    env = { SHOP_SOURCE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await pair.cleanup();
  });

  it('init --from-source writes a valid plan: parents first, keys, guessed timestamps and append-only, a keyless table excluded', async () => {
    const file = join(dir, 'cutover.config.ts');
    const result = await cli(['--config', file, 'init', '--from-source', '--source-env', 'SHOP_SOURCE_URL'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('with 10 tables from the source (SHOP_SOURCE_URL)');
    expect(result.stdout).not.toContain(pair.sourceUrl);
    plan = (await loadPlan(file)).plan;
    expect(plan.source.urlEnv).toBe('SHOP_SOURCE_URL');
    const byName = new Map(plan.tables.map((t, i) => [t.name, { ...t, index: i }]));
    expect([...byName.keys()].sort()).toEqual([
      'public."Audit ""Log"" Entries"',
      'public.settings',
      'shop."Customer"',
      'shop."Order"',
      'shop.invoice',
      'shop.order_line',
      'shop.product',
      'shop.stock',
      'shop.stock_events',
      'shop.warehouse',
    ]);
    expect(byName.size).toBe(10);
    // Parents before children.
    expect(byName.get('shop."Customer"')!.index).toBeLessThan(byName.get('shop."Order"')!.index);
    expect(byName.get('shop."Order"')!.index).toBeLessThan(byName.get('shop.order_line')!.index);
    expect(byName.get('shop.product')!.index).toBeLessThan(byName.get('shop.order_line')!.index);
    expect(byName.get('shop.warehouse')!.index).toBeLessThan(byName.get('shop.stock')!.index);
    // Keys (composite, mixed case), timestamps and append-only guessed.
    expect(byName.get('shop.order_line')!.key).toEqual(['orderId', 'line']);
    expect(byName.get('shop."Customer"')).toMatchObject({ key: ['customerId'], timestampColumn: 'createdAt', appendOnly: false });
    expect(byName.get('shop.stock_events')).toMatchObject({ key: ['id', 'recorded_at'], timestampColumn: 'recorded_at', appendOnly: true });
    expect(byName.get('public."Audit ""Log"" Entries"')).toMatchObject({ key: ['id'], timestampColumn: 'at', appendOnly: true });
    expect(byName.get('public.settings')).toMatchObject({ key: ['name'], appendOnly: false });
    expect(byName.get('shop.product')!.timestampColumn).toBe('updated_at');
    expect(plan.excludedTables).toEqual([{ name: 'public.scratch', reason: expect.stringContaining('no primary key') }]);
    // Supabase's schemas and partitions are not plan tables.
    expect(plan.tables.some((t) => /^(auth|storage)\.|_202[56]$/.test(t.name))).toBe(false);
  });

  it('init --from-source without the source URL: exit 2, says which variable to set, writes nothing', async () => {
    const file = join(dir, 'none.config.ts');
    const result = await cli(['--config', file, 'init', '--from-source'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/SOURCE_DATABASE_URL is not set: set it to the source database/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(file)).toBe(false);
  });

  it('check accounts for every table of the plan, and names one the plan forgets', async () => {
    const good = await checkPlanCoverage(plan, env);
    expect(good).toEqual([
      { system: 'plan tables', ok: true, message: 'all 11 source tables in public, shop accounted for (10 migrated, 1 excluded with a reason)' },
    ]);
    const forgetful = { ...plan, tables: plan.tables.filter((t) => t.name !== 'shop.warehouse' && t.name !== 'shop.stock') };
    const bad = await checkPlanCoverage(forgetful, env);
    expect(bad).toEqual([
      {
        system: 'plan tables',
        ok: false,
        message: expect.stringMatching(/^2 source tables in public, shop are neither in plan.tables nor in plan.excludedTables: shop.stock, shop.warehouse\. Add each/),
      },
    ]);
    await expect(
      checkTargetReady({ source: pair.source, target: pair.target, tables: forgetful.tables.map((t) => t.name), excludedTables: forgetful.excludedTables, appRoles: [] }),
    ).rejects.toThrow(/shop\.stock, shop\.warehouse/);
  });

  it('cutover check on the written plan: exit 0 with every table accounted for; exit 1 naming a table the plan forgets', async () => {
    // The plan as the person would finish it: local DNS, an outbox, and the old system answering.
    const health = createServer((_, response) => response.end('ok'));
    await new Promise<void>((done) => health.listen(0, '127.0.0.1', done));
    const port = (health.address() as AddressInfo).port;
    try {
      const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
      await writeFile(join(dir, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records: records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })), changes: [] }));
      const local = { url: `http://127.0.0.1:${port}/health`, bodyMatch: 'ok' };
      const finished = (tables: PlanInput['tables']) => ({
        ...examplePlan,
        source: { urlEnv: 'SHOP_SOURCE_URL' },
        tables,
        excludedTables: plan.excludedTables,
        dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records },
        mail: { provider: 'outbox', dir: 'outbox', from: 'Shop <ops@example.com>', audience: { source: 'file', file: 'users.txt' } },
        // check reaches every probe (issue 14, item 7): each one answers here.
        probes: { ...examplePlan.probes, oldHealth: local, newHealth: local, smoke: [local], external: [local], monitoring: [local] },
      });
      const file = join(dir, 'finished.json');
      const planned = plan.tables.map((t) => ({ ...t, key: t.key.map((k) => formatName(k)), ...(t.timestampColumn ? { timestampColumn: formatName(t.timestampColumn) } : {}) }));
      await writeFile(file, JSON.stringify(finished(planned)));
      const good = await cli(['--config', file, 'check'], env);
      expect(good.stdout).toContain('✓ plan tables: all 11 source tables in public, shop accounted for (10 migrated, 1 excluded with a reason)');
      expect(good.code).toBe(0);

      const forgetful = join(dir, 'forgetful.json');
      await writeFile(forgetful, JSON.stringify(finished(planned.filter((t) => t.name !== 'shop.warehouse'))));
      const bad = await cli(['--config', forgetful, 'check'], env);
      expect(bad.stdout).toMatch(/✗ plan tables: 1 source table in public, shop is neither in plan.tables nor in plan.excludedTables: shop.warehouse\./);
      expect(bad.code).toBe(1);
    } finally {
      health.close();
    }
  });

  it('the written plan passes final.target-ready and migrates with every verify line clean', async () => {
    const names = plan.tables.map((t) => t.name);
    const ready = await checkTargetReady({ source: pair.source, target: pair.target, tables: names, excludedTables: plan.excludedTables, appRoles: [] });
    expect(ready.tables).toBe(10);
    expect(ready.warnings).toContainEqual(expect.stringMatching(/^public\.scratch stays behind \(plan\.excludedTables\): no primary key/));
    await exportTables({ source: pair.source, tables: names, dir: pair.dir, runId: 'run-shop' });
    const loaded = await loadTables({ target: pair.target, dir: pair.dir, runId: 'run-shop' });
    expect(loaded.rows).toBe(2784);
    const report = await verifyTables({ source: pair.source, target: pair.target, tables: plan.tables, runId: 'run-shop', excludedTables: plan.excludedTables });
    const text = formatVerifyReport(report);
    expect(report.ok, text).toBe(true);
    expect(report.tables.every((t) => t.match)).toBe(true);
    expect(text).toContain('ok   sequences: 3 positioned');
    expect(text).toContain('ok   every table accounted for: 11 source tables in public, shop (10 migrated, 1 excluded with a reason)');
    expect(text).toMatch(/ok {3}target schema: as before the load \(\d+ catalog entries/);
  });
});
