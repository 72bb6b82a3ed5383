import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/steps/reconcile/prometheus-textfile.js';
import { describeLag, lagMetrics, lagProblems, readSlotLag, runReplication } from '../../src/steps/replicate/lag.js';
import { replicationNames } from '../../src/steps/replicate/names.js';
import { makePair, type Pair } from '../data/support.js';
import { localPlan } from '../support/plan.js';
import { useLogicalPostgres } from './support.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

/**
 * The replication's lag and the WAL its slot holds (issue 15, "Watching it"), read from the source's
 * catalog the same way for `check`, `status`, the UI and the Prometheus textfile, and judged against
 * the plan's thresholds. A slot nobody streams from is the case that fills disks: it is made here
 * for real, and WAL written after it must show as held.
 */

const server = useLogicalPostgres();
let pair: Pair;
let dir: string;
const runId = '20261130-1100-lag0';
const { slot } = replicationNames(runId);
let written = 0;

beforeAll(async () => {
  pair = await makePair(server(), 'lag');
  dir = await mkdtemp(join(tmpdir(), 'cutover-replicate-lag-'));
  await pair.sql('source', `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  const from = (await pair.sql<{ lsn: string }>('source', 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
  // WAL after the slot's start: not confirmed by anyone, so lag and retained both grow by at least this.
  await pair.sql('source', `CREATE TABLE public.filler (id int, pad text); INSERT INTO public.filler SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`);
  written = Number((await pair.sql<{ n: string }>('source', `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text AS n`, [from]))[0]!.n);
}, 120_000);
afterAll(async () => {
  await pair.sql('source', `SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => {});
  await pair.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const plan = (limits: { maxLagBytes?: number; maxRetainedBytes?: number; maxLagSeconds?: number } = {}) =>
  localPlan(dir, { strategy: 'replicate', replicate: { workers: 2, chunkRows: 5_000, drainTimeout: '1m', ...limits } });

describe('replication lag and retained WAL', () => {
  it('reads the slot of the run: not streaming, holding the WAL written since it was made', async () => {
    const client = await pair.source.connect();
    try {
      const [lag] = await readSlotLag(client, slot);
      expect(lag).toMatchObject({ slot, active: false, lagSeconds: null });
      // 20,000 rows of 200 bytes went into the WAL after the slot, and nobody confirmed them.
      expect(written).toBeGreaterThan(1_000_000);
      expect(lag!.retainedBytes).toBeGreaterThanOrEqual(written);
      expect(lag!.lagBytes).toBeGreaterThanOrEqual(written);
      expect(lagProblems(lag!, plan().replicate)).toEqual([]);
      expect(describeLag(lag!, plan().replicate)).toMatch(new RegExp(`^Slot ${slot} is not streaming and holds \\d+ (kB|MB) of WAL: resume its run`));
    } finally {
      await client.end();
    }
  });

  it('names every threshold of the plan the slot is over', async () => {
    const limits = plan({ maxLagBytes: 1024, maxRetainedBytes: 2048 }).replicate;
    const reading = await runReplication(plan({ maxLagBytes: 1024, maxRetainedBytes: 2048 }), { SOURCE_DATABASE_URL: pair.sourceUrl }, dir, runId);
    expect(reading.problems).toEqual([
      expect.stringMatching(/^more than plan\.replicate\.maxLagBytes \(1 kB\) behind/),
      expect.stringMatching(/^holding more WAL than plan\.replicate\.maxRetainedBytes \(2 kB\)/),
    ]);
    expect(reading.text).toMatch(/^Replication: Slot cutover_20261130_1100_lag0 is not streaming/);
    const metrics = renderMetrics(lagMetrics([reading.lag!], limits));
    expect(metrics).toMatch(new RegExp(`^cutover_replication_retained_bytes\\{slot="${slot}"\\} ${reading.lag!.retainedBytes}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^cutover_replication_streaming\\{slot="${slot}"\\} 0$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^cutover_replication_over_threshold\\{slot="${slot}"\\} 1$`, 'm'));
    expect(metrics).toMatch(/^cutover_replication_max_lag_seconds 60$/m);
    // No flush lag reported by a walsender: the series is absent, not 0.
    expect(metrics).not.toMatch(/^cutover_replication_lag_seconds\{/m);
  });

  it('says so when the run has no slot, and when the source cannot be read', async () => {
    const none = await runReplication(plan(), { SOURCE_DATABASE_URL: pair.sourceUrl }, dir, '20261130-1100-none');
    expect(none).toMatchObject({ problems: [], text: expect.stringMatching(/^Replication: no slot cutover_20261130_1100_none on the source/) });
    expect(none.lag).toBeUndefined();
    const unset = await runReplication(plan(), {}, dir, runId);
    expect(unset.text).toMatch(/^Replication: the source could not be read \(.*SOURCE_DATABASE_URL/);
  });

  it('cutover status shows it, writes the textfile, and exits 1 over a threshold', async () => {
    const cliDir = await mkdtemp(join(tmpdir(), 'cutover-replicate-lag-cli-'));
    try {
      const planFile = writeLocalPlan(cliDir, { extra: { strategy: 'replicate', replicate: { maxRetainedBytes: 2048 } } });
      const env = { SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl, CUTOVER_CLOCK: 'manual:2026-12-01T00:00:00Z' };
      const first = await cli(['--config', planFile, 'status', '--json'], env);
      const statusRunId = (JSON.parse(first.stdout) as { runId: string }).runId;
      const runSlot = replicationNames(statusRunId).slot;
      await pair.sql('source', `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [runSlot]);
      try {
        await pair.sql('source', `INSERT INTO public.filler SELECT g, repeat('y', 200) FROM generate_series(1, 1000) g`);
        const textfile = join(cliDir, 'cutover_replication.prom');
        const result = await cli(['--config', planFile, 'status', '--prometheus-textfile', textfile], env);
        expect(result.stderr).toBe('');
        expect(result.stdout).toMatch(new RegExp(`^Replication: Slot ${runSlot} is not streaming and holds \\d+ kB of WAL \\(holding more WAL than plan\\.replicate\\.maxRetainedBytes \\(2 kB\\)`, 'm'));
        expect(result.code).toBe(1);
        expect(await readFile(textfile, 'utf8')).toMatch(new RegExp(`^cutover_replication_over_threshold\\{slot="${runSlot}"\\} 1$`, 'm'));
        const json = JSON.parse((await cli(['--config', planFile, 'status', '--json'], env)).stdout) as { replication: { lag: { slot: string; active: boolean } } };
        expect(json.replication.lag).toMatchObject({ slot: runSlot, active: false });
      } finally {
        await pair.sql('source', `SELECT pg_drop_replication_slot($1)`, [runSlot]);
      }
    } finally {
      await rm(cliDir, { recursive: true, force: true });
    }
  });

  it('refuses --prometheus-textfile for a copy plan, with exit 2', async () => {
    const cliDir = await mkdtemp(join(tmpdir(), 'cutover-replicate-lag-cli-'));
    try {
      const planFile = writeLocalPlan(cliDir);
      const result = await cli(['--config', planFile, 'status', '--prometheus-textfile', join(cliDir, 'x.prom')], { CUTOVER_CLOCK: 'manual:2026-12-01T00:00:00Z' });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--prometheus-textfile: the plan's strategy is copy/);
    } finally {
      await rm(cliDir, { recursive: true, force: true });
    }
  });
});
