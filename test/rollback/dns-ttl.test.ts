import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allSteps, branchPhase, findStep } from '../../machines/runbook.js';
import { createAdapters } from '../../src/adapters/providers.js';
import { t0Of } from '../../src/config/settings.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Runner } from '../../src/engine/runner.js';
import { createStepRegistry } from '../../src/steps/registry.js';
import type { StepAction, StepRegistry } from '../../src/steps/types.js';
import { driveToEnd } from '../support/drive.js';
import { localPlan } from '../support/plan.js';

/**
 * Issue 9 item 7: after a rollback the DNS records must be back on the old system AND at their
 * normal TTL, as after an abort or at the close. `rollback.dns-revert` restores the records exactly as
 * they were before the switch, which is at the cutover TTL `prep.lower-ttl` set two days earlier: so
 * without a TTL restore in the branch, the records kept a 5-minute TTL for good.
 *
 * The whole timeline runs on the engine with the real DNS actions on a local zone file (the DNS
 * provider a rehearsal uses). The other steps are not what this test is about: they only record
 * that they ran, and the first-day review returns a rollback verdict so the run takes the branch.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface ZoneRecord {
  name: string;
  type: string;
  content: string;
  ttl: number;
}

describe('the rollback branch and the DNS TTL', () => {
  it('ends with the records reverted to the old system at their normal TTL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-rollback-ttl-'));
    dirs.push(dir);
    const plan = localPlan(dir);
    const zoneFile = join(dir, 'zone.json');
    const readZone = () => (JSON.parse(readFileSync(zoneFile, 'utf8')) as { records: ZoneRecord[] }).records;
    // Before the cutover: the old values at their normal TTL.
    const initial = plan.dns.records.map((record) => ({ name: record.name, type: record.type, content: record.oldValue, ttl: record.normalTtl }));
    writeFileSync(zoneFile, `${JSON.stringify({ zone: plan.dns.zone, records: initial, changes: [] }, null, 2)}\n`);

    const real = createStepRegistry();
    let afterRevert: ZoneRecord[] = [];
    // The real actions of every step that changes DNS; the revert is watched to see what it alone leaves.
    const dnsActions: StepRegistry = {
      'prep.lower-ttl': real['prep.lower-ttl'],
      'dns.switch': real['dns.switch'],
      'rollback.restore-ttl': real['rollback.restore-ttl'],
      'abort.restore-ttl': real['abort.restore-ttl'],
      'close.restore-ttl': real['close.restore-ttl'],
      'rollback.dns-revert': {
        ...real['rollback.dns-revert'],
        run: async (ctx) => {
          const result = await real['rollback.dns-revert'].run(ctx);
          afterRevert = readZone();
          return result;
        },
      },
    };
    const ran: string[] = [];
    const recorded = (id: string): StepAction => ({
      dryRun: () => `would run ${id}`,
      run: async (ctx) => {
        ran.push(ctx.stepId);
        const decision = findStep(id)?.step.kind === 'decision';
        return { summary: `${id} ok`, output: decision ? { verdict: 'rollback' } : { ran: true } };
      },
    });
    const registry: StepRegistry = Object.fromEntries(allSteps().map((step) => [step.id, dnsActions[step.id] ?? recorded(step.id)]));

    const clock = new ManualClock(t0Of(plan).toMillis() - 49 * 3_600_000);
    const runner = Runner.open({
      stateDir: join(dir, '.cutover'),
      plan,
      planDir: dir,
      registry,
      adapters: createAdapters(plan, dir, {}),
      clock,
      mode: 'drive',
      command: 'test',
      retries: 0,
    });
    try {
      const end = await driveToEnd(runner, clock);
      expect(end.kind).toBe('ended');
      expect(end.location.ended).toBe('rolledBack');
    } finally {
      runner.close();
    }

    const byName = (records: ZoneRecord[]) => Object.fromEntries(records.map((record) => [record.name, { content: record.content, ttl: record.ttl }]));
    // What the revert alone leaves: the old values, but at the cutover TTL (the bug this fixes).
    expect(byName(afterRevert)).toEqual(Object.fromEntries(plan.dns.records.map((r) => [r.name, { content: r.oldValue, ttl: r.cutoverTtl }])));
    // The end of the branch: the old values at the normal TTL, exactly as before the cutover.
    expect(byName(readZone())).toEqual(Object.fromEntries(plan.dns.records.map((r) => [r.name, { content: r.oldValue, ttl: r.normalTtl }])));
    // The TTL was restored by the branch's own step, after the revert and before the notice.
    const finished = readFileSync(join(dir, '.cutover', 'journal.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; stepId?: string })
      .filter((entry) => entry.type === 'step.finished' && entry.stepId?.startsWith(`${branchPhase('rollback').id}.`))
      .map((entry) => entry.stepId);
    expect(finished.indexOf('rollback.restore-ttl')).toBeGreaterThan(finished.indexOf('rollback.dns-revert'));
    expect(finished.at(-1)).toBe('rollback.notice');
    expect(ran).not.toContain('close.restore-ttl');
  });
});
