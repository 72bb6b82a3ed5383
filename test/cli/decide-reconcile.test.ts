import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import type { PlanInput } from '../../src/config/schema.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Journal } from '../../src/engine/journal.js';
import { acquireLock } from '../../src/engine/lock.js';
import { Runner, type Blocked } from '../../src/engine/runner.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { cli } from '../support/cli.js';
import { driveToEnd } from '../support/drive.js';
import { usePostgres } from '../support/postgres.js';
import { startWebhookFake, type WebhookFake } from '../fakes/signed-webhook.js';
import { createPair, fixtureTables, FREEZE, ingestAfterSwitch, NOW, SWITCH, type Pair } from '../reconcile/fixture.js';
import { peopleTime } from '../../src/engine/time-format.js';

/**
 * `cutover reconcile` and `cutover decide` through the CLI, on a run whose state the real runner
 * wrote: every step action is a stub except that freeze.snapshot records the fixture's cutover point,
 * and T0 is set so that DNS switches exactly at the fixture's switch time.
 */

const server = usePostgres();
const dir = mkdtempSync(join(tmpdir(), 'cutover-decide-'));
const planFile = join(dir, 'cutover.config.ts');
const stateDir = join(dir, '.cutover');
const earlyState = join(dir, 'early-state');
const promFile = join(dir, 'textfile_collector', 'cutover.prom');
let pair: Pair;
/** The team's webhook: `cutover reconcile` from cron tells it about drift. */
let hook: WebhookFake;

const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
const input: PlanInput = {
  ...examplePlan,
  // 18:47:30 in New York on Dec 5 is the fixture's SWITCH (23:47:30Z).
  t0: { at: '2026-12-05T18:47:30', zone: 'America/New_York' },
  tables: fixtureTables,
  dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records },
  mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'supabase-auth' } },
};
const plan = parsePlan(input);

const stubOutputs: Record<string, unknown> = {
  'freeze.snapshot': { at: FREEZE, lsn: '0/3000060', counts: {} },
  'final.baseline': { p50Ms: 40, p95Ms: 100, errorRate: 0, requests: 50 },
  'hypercare.check': { checkedAt: SWITCH, url: 'https://198.51.100.20/health', requests: 50, failures: 0, errorRate: 0, p95Ms: 110 },
};
const stubs = new Proxy({} as StepRegistry, {
  get: (_target, id: string) => ({
    run: async () => ({ summary: `${id} (stub)`, ...(stubOutputs[id] ? { output: stubOutputs[id] } : {}) }),
    dryRun: () => 'stub',
  }),
});

/** Drive a run with the real runner and stub actions until `stop` says so. */
async function driveRun(state: string, stop: (blocked: Blocked, runner: Runner) => boolean) {
  const clock = new ManualClock(Date.parse(SWITCH) - 49 * 3_600_000);
  const adapters = { dns: () => { throw new Error('no DNS in this test'); }, mail: () => { throw new Error('no mail in this test'); } };
  const runner = Runner.open({ stateDir: state, plan, planDir: dir, registry: stubs, adapters, clock, mode: 'drive', command: 'test', retries: 0 });
  try {
    return await driveToEnd(runner, clock, { stopOn: (blocked) => stop(blocked, runner) });
  } finally {
    runner.close();
  }
}

const minutesBeforeNow = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
const env = () => ({ SOURCE_DATABASE_URL: pair.sourceUrl, TARGET_DATABASE_URL: pair.targetUrl, CUTOVER_CLOCK: `manual:${NOW.toISOString()}`, HOOK_SECRET: 'hook-secret' });
/** `as`: the OS account the command runs as (the example plan's people are ana, ben and chen). */
const run = (args: string[], extra: Record<string, string | undefined> = {}, as?: string) => cli(['--config', planFile, ...args], { ...env(), ...extra }, as);
/** Each reconciliation at its own time, as a 6-hourly timer would make them (the fixture's ingestion ends at NOW). */
const at = (time: Date) => ({ CUTOVER_CLOCK: `manual:${time.toISOString()}` });
const FIRST = minutesBeforeNow(20);
const SECOND = minutesBeforeNow(10);

function metrics(): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of readFileSync(promFile, 'utf8').split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match) values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

const summaries = () => Journal.open(stateDir).entries.filter((entry) => entry.type === 'reconcile.summary');
const storedRuns = () => readdirSync(join(stateDir, 'reconcile')).filter((name) => name.endsWith('.json'));

beforeAll(async () => {
  hook = await startWebhookFake({ secret: 'hook-secret' });
  writeFileSync(planFile, renderPlanFile({ ...input, notifications: { targets: [{ kind: 'webhook', name: 'team', url: hook.url, secretEnv: 'HOOK_SECRET' }] } }));
  writeFileSync(join(dir, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records: [], changes: [] }));
  pair = await createPair(server());
  await ingestAfterSwitch(pair.target, [1, 2, 3, 4, 5]);
  // Past the switch and the first hypercare run (its stub output is the run's latest check).
  const main = await driveRun(stateDir, (blocked, runner) => blocked.kind === 'time' && (runner.context().steps['hypercare.check']?.runs ?? 0) >= 1);
  expect(main.location.phaseId).toBe('hypercare');
  const early = await driveRun(earlyState, (blocked) => blocked.kind === 'signoff' && blocked.location.stepId === 'window.go');
  expect(early.location.stepId).toBe('window.go');
});

afterAll(async () => {
  await hook?.close();
  await pair?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('cutover reconcile', () => {
  it('exits 2 with a clear message when the freeze never happened', async () => {
    const result = await run(['--state', earlyState, 'reconcile']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('freeze.snapshot has not recorded one: run the window up to freeze.snapshot first');
  });

  it('exits 2 naming the variable when the target is not configured', async () => {
    const result = await run(['reconcile'], { TARGET_DATABASE_URL: undefined });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TARGET_DATABASE_URL is not set: set it to the target database');
  });

  it('exits 0 on a clean target, stores the run, journals a summary and writes the textfile', async () => {
    const result = await run(['reconcile', '--prometheus-textfile', promFile], at(FIRST));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('CLEAN — ');
    expect(result.stdout).toMatch(/Journal: summary appended \(line \d+\)\./);
    expect(result.stdout).toContain(`Prometheus textfile: ${promFile}`);
    expect(storedRuns()).toEqual([`${FIRST.toISOString().replaceAll(':', '-')}.json`]);
    expect(summaries()).toEqual([expect.objectContaining({ source: 'cutover reconcile', checkedAt: FIRST.toISOString(), clean: true })]);
    const m = metrics();
    expect(m.get('cutover_reconcile_clean')).toBe(1);
    expect(m.get('cutover_reconcile_missing_rows{table="public.readings"}')).toBe(0);
    expect(m.get('cutover_reconcile_last_success_timestamp_seconds')).toBe(FIRST.getTime() / 1000);
    // Clean, and nothing was wrong before: the team is not told anything.
    expect(hook.received).toEqual([]);
  });

  it('exits 1 on data loss, naming the row; with a runner holding the lock it still stores the run and says the journal line was skipped', async () => {
    await pair.target.query('delete from public.readings where id = 400100');
    const lock = acquireLock(stateDir, 'cutover run (another operator)');
    let result;
    try {
      result = await run(['reconcile', '--json', '--prometheus-textfile', promFile], at(SECOND));
    } finally {
      lock.release();
    }
    expect(result.code).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.totals.missingRows).toBe(1);
    expect(json.tables[0].keys).toEqual([expect.objectContaining({ kind: 'missing', key: { id: '400100' } })]);
    expect(json.journal).toEqual({ appended: false, reason: expect.stringContaining('the journal line was skipped: Another runner holds this cutover') });
    expect(json.attention).toBe('Reconciliation: data loss: 1 source row missing from the target');
    expect(storedRuns()).toHaveLength(2);
    expect(summaries()).toHaveLength(1);
    expect(metrics().get('cutover_reconcile_missing_rows{table="public.readings"}')).toBe(1);
    expect(metrics().get('cutover_reconcile_clean')).toBe(0);
    expect(metrics().get('cutover_reconcile_last_success_timestamp_seconds')).toBe(SECOND.getTime() / 1000);
    // Nobody drives the run and the journal line was skipped: the team still hears about it, once.
    expect(hook.received).toEqual([expect.objectContaining({ type: 'reconcile.drift', key: `reconcile:${SECOND.toISOString()}`, title: 'Reconciliation drift (cutover reconcile)' })]);
    expect(String(hook.received[0]!.text)).toContain('data loss: 1 source row missing from the target');
  });
});

describe('cutover decide', () => {
  it('exits 1 with verdict rollback on the stored run the journal could not take, showing the path and evidence', async () => {
    const text = await run(['decide']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('Verdict: ROLLBACK');
    expect(text.stdout).toContain(`YES — 1 source row missing from the target (reconciliation at ${peopleTime(SECOND.getTime(), 'America/New_York')})`);
    expect(text.stdout).toContain('To roll back: cutover rollback --reason TEXT --phrase "rollback freshtrackpro.com"');
    const json = await run(['decide', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ verdict: 'rollback', inputs: { dataLoss: { missingRows: 1 } }, path: expect.any(Array) });
  });

  it('exits 0 and continues once reconciliation is clean again, on the run\'s check and baseline', async () => {
    const { rows } = await pair.source.query('select id, sensor_id, recorded_at, temperature from public.readings where id = 400100');
    await pair.target.query('insert into public.readings (id, sensor_id, recorded_at, temperature) values ($1, $2, $3, $4)', Object.values(rows[0]!));
    expect((await run(['reconcile'])).code).toBe(0);
    const result = await run(['decide']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Verdict: CONTINUE');
    expect(result.stdout).toContain('0 % of 50 requests failed over hypercare.check');
    expect(result.stdout).not.toContain('Missing evidence');
  });

  it('records a named approver\'s assertion in the journal; it counts until withdrawn', async () => {
    const stranger = await run(['decide', '--assert', 'security-breach'], {}, 'mallory');
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain('mallory (OS account) may not assert security-breach: the approvers of review.decision and rollback.decide decide on the evidence. Who may: Ana Ruiz (OS account ana), Ben Okafor (OS account ben).');
    expect((await run(['decide', '--assert', 'meteor-strike'], {}, 'ana')).stderr).toContain('Use one of: security-breach, db-corruption, auth-broken.');

    const asserted = await run(['decide', '--assert', 'security-breach', '--by', 'Ana Ruiz', '--note', 'service key found in a public gist'], {}, 'ana');
    expect(asserted.code).toBe(1);
    expect(asserted.stdout).toMatch(/^Recorded: security-breach asserted by Ana Ruiz \("service key found in a public gist"\) \(journal line \d+\)\./);
    expect(asserted.stdout).toContain(`YES — asserted by Ana Ruiz at ${peopleTime(NOW.getTime(), 'America/New_York')}: service key found in a public gist`);
    expect(Journal.open(stateDir).entries.at(-1)).toMatchObject({
      type: 'decision.asserted',
      input: 'securityBreach',
      by: 'Ana Ruiz',
      identity: { name: 'Ana Ruiz', account: 'ana', via: 'os-account' },
    });
    expect((await run(['decide'])).code).toBe(1);

    const withdrawn = await run(['decide', '--withdraw', 'security-breach', '--note', 'key rotated, access logs clean'], {}, 'ben');
    expect(withdrawn.code).toBe(0);
    expect(withdrawn.stdout).toContain('Verdict: CONTINUE');
    expect((await run(['decide', '--withdraw', 'security-breach'], {}, 'ben')).stderr).toContain('Nobody has asserted security-breach');
  });

  it('hands an assertion to the process holding the lock; queued (exit 3) while nobody applies it; --by must be you', async () => {
    const lock = acquireLock(stateDir, 'cutover run (another operator)');
    try {
      const result = await run(['decide', '--assert', 'auth-broken'], {}, 'ana');
      expect(result.code).toBe(3);
      expect(result.stdout).toContain('drives this run: handed "cutover decide --assert auth-broken" to it.');
      expect(result.stdout).toContain('the request stays queued');
      // Reading the evidence needs no lock.
      expect((await run(['decide'])).code).toBe(0);
    } finally {
      lock.release();
    }
    const claimed = await run(['decide', '--assert', 'auth-broken', '--by', 'Ben Okafor'], {}, 'ana');
    expect(claimed.code).toBe(2);
    expect(claimed.stderr).toContain('--by "Ben Okafor" is not who runs this command: you are recognised as Ana Ruiz (OS account ana).');
  });
});
