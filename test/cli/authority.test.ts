import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import type { PlanInput } from '../../src/config/schema.js';
import { t0Of } from '../../src/config/settings.js';
import { openRunner, type Session } from '../../src/services/session.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Journal } from '../../src/engine/journal.js';
import { cli } from '../support/cli.js';
import { driveToEnd } from '../support/drive.js';

/**
 * Who may act at the gates (issue 12): every gate event is judged against the plan for the person the
 * OS recognises, whatever `--by` says. The example plan's people are Ana Ruiz (OS account ana), Ben
 * Okafor (ben) and Chen Wei (chen); window.go needs 2 of the 3, rollback.decide 2 of Ana and Ben.
 * `as` is the OS account a command runs as (Io.account: one test process cannot be several users).
 */
const dir = mkdtempSync(join(tmpdir(), 'cutover-authority-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
const input: PlanInput = {
  ...examplePlan,
  dns: { provider: 'local', zone: 'freshtrackpro.com', file: join(dir, 'zone.json'), records, resolvers: [] },
  mail: { provider: 'outbox', dir: join(dir, 'outbox'), from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: join(dir, 'audience.txt') } },
};
const planFile = join(dir, 'cutover.config.ts');
writeFileSync(planFile, renderPlanFile(input));
const plan = parsePlan(input);
const T0 = t0Of(plan).toMillis();
const stateDir = join(dir, '.cutover');
const clock = new ManualClock(T0 - 48 * 3_600_000);
const env = () => ({ CUTOVER_CLOCK: `manual:${new Date(clock.now()).toISOString()}` });
const run = (args: string[], as: string) => cli(['--config', planFile, ...args], env(), as);

const EVERYONE = 'Who may: Ana Ruiz (OS account ana), Ben Okafor (OS account ben), Chen Wei (OS account chen).';
const ROLLBACK_APPROVERS = 'Who may: Ana Ruiz (OS account ana), Ben Okafor (OS account ben).';

/** Every action succeeds at once: the run reaches window.go with its sign-offs played by the plan's people. */
function session(): Session {
  const registry = Object.fromEntries(
    ['prep.preflight', 'prep.replicate', 'prep.lower-ttl', 'prep.advance-notice', 'final.health', 'final.export-dry-run', 'final.target-ready', 'final.ttl-propagated', 'final.baseline', 'final.reminder'].map((id) => [
      id,
      { dryRun: () => id, run: async () => ({ summary: `${id} ok` }) },
    ]),
  );
  return {
    plan,
    planFile,
    planDir: dir,
    stateDir,
    clock,
    registry,
    adapters: { dns: () => { throw new Error('no DNS here'); }, mail: () => { throw new Error('no mail here'); } },
    env: {},
  };
}

describe('authority on every gate event', () => {
  it('skip, confirm, rollback, abort and decide --assert by a non-approver or an empty name exit 2 naming who may', async () => {
    // The Why of issue 12, one by one: each of these used to exit 0.
    const skipGo = await run(['skip', 'window.go', '--by', 'Mallory', '--reason', '.'], 'mallory');
    expect(skipGo.code).toBe(2);
    expect(skipGo.stderr).toContain(`mallory (OS account) may not skip window.go: skipping a gate needs one of the people who could pass it. ${EVERYONE}`);

    const skipDns = await run(['skip', 'dns.switch', '--by', '', '--reason', ''], 'mallory');
    expect(skipDns.code).toBe(2);
    expect(skipDns.stderr).toContain(`mallory (OS account) may not skip dns.switch`);
    expect(skipDns.stderr).toContain(EVERYONE);

    const confirm = await run(['confirm', 'dns.switch', '--by', 'Mallory', '--phrase', 'freshtrackpro.com'], 'mallory');
    expect(confirm.code).toBe(2);
    expect(confirm.stderr).toContain(`mallory (OS account) may not confirm dns.switch: dns.switch is confirmed by its approvers. ${EVERYONE}`);

    // Before the freeze `cutover rollback` aborts: the rollback approvers and the typed phrase.
    const abort = await run(['rollback', '--by', '', '--reason', '', '--phrase', 'rollback freshtrackpro.com'], 'mallory');
    expect(abort.code).toBe(2);
    expect(abort.stderr).toContain(`mallory (OS account) may not abort the cutover: the approvers of rollback.decide decide that. ${ROLLBACK_APPROVERS}`);
    // Chen may sign off window.go, but is not a rollback approver.
    const chen = await run(['rollback', '--reason', 'vendor outage', '--phrase', 'rollback freshtrackpro.com'], 'chen');
    expect(chen.code).toBe(2);
    expect(chen.stderr).toContain(`Chen Wei (OS account chen) may not abort the cutover`);
    const noPhrase = await run(['rollback', '--reason', 'vendor outage', '--phrase', 'rollback'], 'ana');
    expect(noPhrase.code).toBe(2);
    expect(noPhrase.stderr).toContain('To abort the cutover, type the phrase exactly: --phrase "rollback freshtrackpro.com" (you typed "rollback").');

    const assert = await run(['decide', '--assert', 'security-breach', '--by', ''], 'mallory');
    expect(assert.code).toBe(2);
    expect(assert.stderr).toContain(`mallory (OS account) may not assert security-breach: the approvers of review.decision and rollback.decide decide on the evidence. ${ROLLBACK_APPROVERS}`);

    // An approver typing an empty or someone else's name is refused too: --by is checked, not believed.
    const empty = await run(['skip', 'window.go', '--by', '', '--reason', 'x'], 'ana');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--by "" is not who runs this command: you are recognised as Ana Ruiz (OS account ana).');

    // Nothing of it reached the record.
    expect(Journal.open(stateDir).entries.filter((entry) => entry.type === 'event')).toEqual([]);
  });

  it('one identity cannot fill a 2-of-3 quorum; each event journals who and how they were recognised', async () => {
    const runner = openRunner(session(), 'drive', 'cutover run (test)', { retries: 0 });
    try {
      const blocked = await driveToEnd(runner, clock, { stopOn: (b) => b.kind === 'signoff' && b.location.stepId === 'window.go' });
      expect(blocked.location.stepId).toBe('window.go');
    } finally {
      runner.close();
    }

    const first = await run(['signoff', 'window.go', '--note', 'go'], 'ana');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Waiting for sign-off of window.go by 2 of Ana Ruiz, Ben Okafor, Chen Wei (1 so far: Ana Ruiz)');
    const again = await run(['signoff', 'window.go', '--note', 'go, really'], 'ana');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('Ana Ruiz has already signed off window.go: each person counts once toward the quorum');
    // Claiming to be Ben from Ana's account is not Ben's sign-off.
    const claimed = await run(['signoff', 'window.go', '--by', 'Ben Okafor'], 'ana');
    expect(claimed.code).toBe(2);
    expect(claimed.stderr).toContain('--by "Ben Okafor" is not who runs this command');

    const second = await run(['signoff', 'window.go', '--by', 'ben okafor'], 'ben');
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('Waiting for sign-off of window.go');

    const events = Journal.open(stateDir).entries.filter((entry) => entry.type === 'event' && (entry.event as { stepId?: string }).stepId === 'window.go');
    expect(events.map((entry) => [(entry.event as { by: string }).by, entry.identity])).toEqual([
      ['Ana Ruiz', { name: 'Ana Ruiz', account: 'ana', via: 'os-account' }],
      ['Ben Okafor', { name: 'Ben Okafor', account: 'ben', via: 'os-account' }],
    ]);
    // The report says who acted and how they were recognised.
    const report = await run(['report'], 'chen');
    expect(report.stdout).toContain('## Who acted');
    expect(report.stdout).toMatch(/\| SIGNOFF `window\.go` \| Ana Ruiz \| OS account ana \|/);
    expect(report.stdout).toMatch(/\| SIGNOFF `window\.go` \| Ben Okafor \| OS account ben \|/);
  });
});

describe('approvers in the plan', () => {
  const check = async (approvers: PlanInput['approvers']) => {
    const file = join(dir, `plan-${Math.random().toString(36).slice(2)}.ts`);
    writeFileSync(file, renderPlanFile({ ...input, approvers }));
    return cli(['--config', file, 'check']);
  };

  it('check refuses the same person twice in a list, and names that differ only in case', async () => {
    const twice = await check({ default: ['ana', 'ben'], steps: { 'window.go': { approvers: ['ana', 'ana', 'ben'], quorum: 2 } } });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('approvers.steps.window.go.approvers[1]: ana is already listed at approvers.steps.window.go.approvers[0]: each person counts once toward a quorum');

    const cased = await check({ default: [{ name: 'Dana', os: 'dana' }, 'ben'], steps: { 'window.go': { approvers: ['dana', 'ben'], quorum: 2 } } });
    expect(cased.code).toBe(2);
    expect(cased.stderr).toContain('"dana" and "Dana" differ only in case or spacing');

    const shared = await check({ default: [{ name: 'Dana', os: 'ops' }, { name: 'Eve', os: 'ops' }] });
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain('Dana and Eve are both the OS account ops: one account is one person');

    // Two distinct people are two, even when one of them is written plainly (name = OS account).
    const quorum = await check({ default: ['ana'], steps: { 'window.go': { approvers: ['ana', 'Ana '], quorum: 2 } } });
    expect(quorum.code).toBe(2);
    expect(quorum.stderr).toContain('quorum 2 is more than the 1 approver(s) who may sign');
  });
});
