import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { loadPlan } from '../../src/config/load.js';
import { t0Of } from '../../src/config/settings.js';
import { cli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function writePlan(change: (plan: any) => void): string {
  const plan = structuredClone(examplePlan) as any;
  change(plan);
  const file = join(dir, `plan-${++counter}.config.ts`);
  writeFileSync(file, renderPlanFile(plan));
  return file;
}

async function check(file: string) {
  return cli(['--config', file, 'plan']);
}

const malformed: [string, (plan: any) => void, RegExp][] = [
  ['a column name with a space', (p) => (p.tables[2].timestampColumn = 'Created At'), /tables\[2\]\.timestampColumn: expected a column name/],
  ['a missing environment', (p) => delete p.environment, /environment: missing/],
  ['an unknown environment', (p) => (p.environment = 'prod'), /environment: .*"staging".*"production"/i],
  ['a T0 that is not a wall-clock time', (p) => (p.t0.at = '5 Dec 2026 10pm'), /t0\.at: expected a local wall-clock time such as 2026-12-05T22:00/],
  ['an unknown time zone', (p) => (p.t0.zone = 'Mars/Olympus_Mons'), /t0\.zone: unknown time zone "Mars\/Olympus_Mons"/],
  ['a connection URL where an env var name belongs', (p) => (p.source.urlEnv = 'postgres://app:hunter2@db.example.com/app'), /source\.urlEnv: expected the name of an environment variable .*not its value/],
  ['an unsupported record type', (p) => (p.dns.records[0].type = 'MX'), /dns\.records\[0\]\.type: /],
  ['a record outside the zone', (p) => (p.dns.records[1].name = 'api.example.org'), /dns\.records\[1\]\.name: api\.example\.org is not in the zone freshtrackpro\.com/],
  ['a quorum larger than its approvers', (p) => (p.approvers.steps['window.go'].quorum = 5), /approvers\.steps\.window\.go\.quorum: quorum 5 is more than the 3 approver\(s\)/],
  ['approvers for a step that is not a sign-off', (p) => (p.approvers.steps['prep.preflight'] = { quorum: 1 }), /approvers\.steps\.prep\.preflight: prep\.preflight is not a sign-off step/],
  ['a misspelt field', (p) => (p.tables[0].appendonly = true), /tables\[0\]\.appendonly: unknown field \(did you mean appendOnly\?\)/],
  ['an unknown mail provider', (p) => (p.mail.provider = 'sendgrid'), /mail\.provider: /],
  ['a table listed twice', (p) => p.tables.push({ name: 'public.sites', key: ['id'] }), /tables\[10\]\.name: public\.sites is listed twice/],
  ['a cadence in words', (p) => (p.cadences.hypercare = '15 minutes'), /cadences\.hypercare: expected a duration such as 15m, 2h30m or 1d/],
  ['a staging plan mailing everyone', (p) => (p.environment = 'staging'), /mail\.allowList: a staging plan that sends real mail needs an allow-list/],
  ['a probe that is not http', (p) => (p.probes.oldHealth.url = 'ftp://api.freshtrackpro.com/health'), /probes\.oldHealth\.url: expected an http\(s\) URL/],
  ['time buckets without a timestamp column', (p) => delete p.tables[8].timestampColumn && (p.tables[8].reconcile = { groupBy: ['role'], bucket: 'hour' }), /tables\[8\]\.reconcile\.bucket: bucketing by time needs timestampColumn/],
  ['a cutover TTL above the normal TTL', (p) => (p.dns.records[2].cutoverTtl = 90000), /dns\.records\[2\]\.cutoverTtl: the cutover TTL \(90000s\) should be lower/],
  // Steps the plan adds (issue 9): where they go, what they are called, who signs them.
  ['a step id without the custom. prefix', (p) => (p.steps = [added({ id: 'status-page' })]), /steps\[0\]\.id: expected a step id such as custom\.status-page/],
  ['a step id used twice', (p) => (p.steps = [added(), added({ after: 'custom.ops-ok' })]), /steps\[1\]\.id: custom\.ops-ok is already a step of the runbook/],
  ['a step after a step of another phase', (p) => (p.steps = [added({ after: 'prep.preflight' })]), /steps\[0\]\.after: there is no step "prep\.preflight" in phase window \(its steps: window\.go, /],
  ['a step after a step added later', (p) => (p.steps = [added({ id: 'custom.first', after: 'custom.second' }), added({ id: 'custom.second' })]), /steps\[0\]\.after: there is no step "custom\.second" in phase window/],
  ['a step in an unknown phase', (p) => (p.steps = [added({ phase: 'launch' })]), /steps\[0\]\.phase: there is no phase "launch" \(phases: prep, final, window/],
  ['a step in a phase of recurring checks', (p) => (p.steps = [added({ phase: 'hypercare', after: 'hypercare.check' })]), /steps\[0\]\.phase: hypercare is a phase of recurring checks/],
  ['a sign-off by someone the plan does not know', (p) => (p.steps = [added({ approvers: ['Dana Lee'] })]), /steps\[0\]\.approvers\[0\]: Dana Lee is not a person of this plan/],
  ['a sign-off quorum larger than its approvers', (p) => (p.steps = [added({ approvers: ['Ana Ruiz'], quorum: 2 })]), /steps\[0\]\.quorum: quorum 2 is more than the 1 approver\(s\)/],
  [
    'a secret header pasted where its variable belongs',
    (p) => (p.steps = [added({ kind: 'http', url: 'https://status.example.com/api', headers: { Authorization: { valueEnv: 'Bearer hunter2-token' } } })]),
    /steps\[0\]\.headers\.Authorization\.valueEnv: expected the name of an environment variable .*not its value/,
  ],
  ['SQL on a database that is neither side', (p) => (p.steps = [added({ kind: 'sql', database: 'replica', sql: 'select 1' })]), /steps\[0\]\.database: /],
  ['a command without a program', (p) => (p.steps = [added({ kind: 'command', argv: [] })]), /steps\[0\]\.argv: expected the program and its arguments/],
  [
    'an undo on a step of a branch',
    (p) => (p.steps = [added({ kind: 'command', argv: ['true'], phase: 'abort', after: 'abort.restore-ttl', undo: { kind: 'command', argv: ['false'] } })]),
    /steps\[0\]\.undo: custom\.ops-ok is in the abort branch: a branch step has no undo/,
  ],
];

/** A step the plan adds: a sign-off after the go/no-go unless a test says otherwise. */
function added(change: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'signoff', id: 'custom.ops-ok', title: 'On-call briefed', phase: 'window', after: 'window.go', ...change };
}

describe('the plan loader', () => {
  it('accepts the example plan', async () => {
    const loaded = await loadPlan(writePlan(() => {}));
    expect(loaded.plan.tables).toHaveLength(10);
    expect(t0Of(loaded.plan).toISO()).toBe('2026-12-05T22:00:00.000-05:00');
  });

  it.each(malformed)('refuses %s with exit 2 and the path of the problem', async (_name, change, message) => {
    const result = await check(writePlan(change));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user mistake
    expect(result.stderr).not.toContain('hunter2'); // a pasted secret is not echoed back
  });

  it('reports every problem at once, each with its path', async () => {
    const result = await check(
      writePlan((p) => {
        p.tables[1].key = [];
        p.mail.from = '';
        p.thresholds.errorRate = 5;
      }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\d problems/);
    expect(result.stderr).toMatch(/tables\[1\]\.key: expected at least one key column/);
    expect(result.stderr).toMatch(/mail\.from: expected a sender/);
    expect(result.stderr).toMatch(/thresholds\.errorRate: /);
  });

  it('refuses a plan file that does not parse, and a missing one', async () => {
    const broken = join(dir, 'broken.config.ts');
    writeFileSync(broken, 'export default { name: "x", ');
    const result = await check(broken);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/The plan .*broken\.config\.ts could not be read/);
    const missing = await check(join(dir, 'nope.config.ts'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No plan at .*nope\.config\.ts\. Write one with `cutover init`/);
  });
});

describe('T0 across daylight-saving changes in America/New_York', () => {
  const at = (t0: object) => writePlan((p) => (p.t0 = { zone: 'America/New_York', ...t0 }));

  it('rejects 2026-03-08 02:30, which does not exist (spring forward)', async () => {
    const result = await check(at({ at: '2026-03-08T02:30' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/t0\.at: 2026-03-08T02:30 does not exist in America\/New_York \(the clocks jump forward over it\)/);
  });

  it('needs an offset for 2026-11-01 01:30, which happens twice (fall back)', async () => {
    const result = await check(at({ at: '2026-11-01T01:30' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/t0\.offset: 2026-11-01T01:30 happens twice in America\/New_York .*"-04:00" \(EDT\) or "-05:00" \(EST\)/);
  });

  it('takes the offset it is given for the repeated hour, and refuses one that does not apply', async () => {
    const first = await loadPlan(at({ at: '2026-11-01T01:30', offset: '-04:00' }));
    expect(t0Of(first.plan).toUTC().toISO()).toBe('2026-11-01T05:30:00.000Z');
    const second = await loadPlan(at({ at: '2026-11-01T01:30', offset: '-05:00' }));
    expect(t0Of(second.plan).toUTC().toISO()).toBe('2026-11-01T06:30:00.000Z');
    const wrong = await check(at({ at: '2026-11-01T01:30', offset: '-06:00' }));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/t0\.offset: .* has offset -04:00 or -05:00, not -06:00/);
  });

  it('keeps T-48h an absolute 48 hours across the change', async () => {
    const { plan } = await loadPlan(at({ at: '2026-11-02T22:00' }));
    const result = await cli(['--config', join(dir, `plan-${counter}.config.ts`), 'plan', '--json']);
    expect(result.code).toBe(0);
    const timeline = JSON.parse(result.stdout);
    expect(timeline.t0).toBe('2026-11-02T22:00:00.000-05:00');
    // 48 real hours earlier is 23:00 EDT on 31 October, not 22:00.
    expect(timeline.phases[0].opensAt).toBe('2026-10-31T23:00:00.000-04:00');
    expect(plan.t0.zone).toBe('America/New_York');
  });
});
