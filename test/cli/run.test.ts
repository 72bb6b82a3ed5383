import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const planFile = writeLocalPlan(dir);
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
const at = (ms: number) => ({ CUTOVER_CLOCK: `manual:${new Date(ms).toISOString()}` });
const before = at(T0 - 72 * 3_600_000);
/** `as`: the OS account the command runs as (the example plan's people are ana, ben and chen). */
const run = (args: string[], env: Record<string, string> = before, as?: string) => cli(['--config', planFile, ...args], env, as);

describe('cutover run and the commands around it', () => {
  it('exits 3 at a time gate, naming what it waits for and when', async () => {
    const result = await run(['run', '--non-interactive']);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('Waiting until Dec 03 22:00:00 -05:00 (in 24h): phase prep opens.');
  });

  it('refuses a sign-off for a step that is not waiting, naming where the run is (exit 2)', async () => {
    const result = await run(['signoff', 'window.go'], before, 'ana');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('window.go is not the current step. Waiting until Dec 03 22:00:00 -05:00');
  });

  it('fails loudly on a step it cannot do, and goes on after a skip with a reason', async () => {
    // At T-48h preflight runs: the databases' variables are not set, so it fails (exit 1).
    const failed = await run(['run', '--non-interactive'], at(T0 - 48 * 3_600_000));
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/✗ prep\.preflight: source database: SOURCE_DATABASE_URL is not set/);
    expect(failed.stdout).not.toContain('retrying');
    expect(failed.stdout).toContain('Next: cutover retry prep.preflight');
    // Issue 14: the findings are printed once (the ✗ line), not as notes and again in the closing line.
    expect(failed.stdout.match(/SOURCE_DATABASE_URL is not set/g)).toHaveLength(1);
    expect(failed.stdout).toContain('prep.preflight failed (the error is above).');
    // `status` follows the exit-code contract: a failed step is attention needed (1).
    const failedStatus = await run(['status'], at(T0 - 48 * 3_600_000));
    expect(failedStatus.code).toBe(1);
    expect(failedStatus.stdout).toMatch(/✗ prep\.preflight/);

    const skip = await run(['skip', 'prep.preflight', '--reason', 'databases checked by hand'], at(T0 - 48 * 3_600_000), 'ana');
    expect(skip.code).toBe(0);
    // It says what it recorded and what happens next; nothing runs until the next `cutover run`.
    expect(skip.stdout).toMatch(/^Recorded: the skip of prep\.preflight \("databases checked by hand"\) by Ana Ruiz \(journal line \d+\)\.$/m);
    expect(skip.stdout).toContain('Next: prep.replicate, which runs at the next `cutover run`');
    expect(skip.stdout).not.toContain('Running ');
    // Lower TTL and the advance notice run for real on the local zone and the outbox; then a sign-off.
    const next = await run(['run', '--non-interactive'], at(T0 - 48 * 3_600_000));
    expect(next.code).toBe(3);
    expect(next.stdout).toMatch(/✓ prep\.lower-ttl .*3 of 3 records changed/);
    expect(next.stdout).toMatch(/✓ prep\.advance-notice .*2 recipients/);
    expect(next.stdout).toContain('Waiting for sign-off of prep.staging-rehearsal by 1 of Ana Ruiz, Ben Okafor, Chen Wei (0 so far)');
  });

  it('takes sign-offs only from approvers, once each, and rejection blocks until re-opened', async () => {
    const stranger = await run(['signoff', 'prep.staging-rehearsal'], before, 'mallory');
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain(
      'mallory (OS account) may not sign off prep.staging-rehearsal: prep.staging-rehearsal is signed by its approvers. Who may: Ana Ruiz (OS account ana), Ben Okafor (OS account ben), Chen Wei (OS account chen).',
    );
    // Typing an approver's name changes nothing: the OS account says who runs the command.
    const impostor = await run(['signoff', 'prep.staging-rehearsal', '--by', 'Ana Ruiz'], before, 'mallory');
    expect(impostor.code).toBe(2);
    expect(impostor.stderr).toContain('mallory (OS account) may not sign off prep.staging-rehearsal');
    const rejected = await run(['signoff', 'prep.staging-rehearsal', '--reject', '--note', 'staging verify failed'], before, 'ben');
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toContain('prep.staging-rehearsal was rejected by Ben Okafor ("staging verify failed")');
    const stuck = await run(['run', '--non-interactive']);
    expect(stuck.code).toBe(1);
    expect((await run(['retry', 'prep.staging-rehearsal'], before, 'ben')).code).toBe(0);
    const approved = await run(['signoff', 'prep.staging-rehearsal', '--by', 'Ana Ruiz', '--note', 'rehearsed on staging'], before, 'ana');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('Waiting for sign-off of prep.critical-workflows');
  });

  it('stops before a step with --until, and shows what comes with --dry-run', async () => {
    await run(['signoff', 'prep.critical-workflows'], before, 'chen');
    const dry = await run(['run', '--dry-run'], at(T0 - 24 * 3_600_000));
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('- final.health:');
    const until = await run(['run', '--non-interactive', '--until', 'final.health'], at(T0 - 24 * 3_600_000));
    expect(until.code).toBe(3);
    expect(until.stdout).toContain('Stopped before final.health as asked (--until).');
    expect(until.stdout).not.toContain('▶ final.health');
  });

  it('reports status as text and JSON, with sign-offs and the skip on the record', async () => {
    const text = await run(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/↷ prep\.preflight .*skipped by Ana Ruiz: databases checked by hand/);
    expect(text.stdout).toMatch(/✓ prep\.staging-rehearsal .*rejected by Ben Okafor, signed by Ana Ruiz/);
    const json = JSON.parse((await run(['status', '--json'])).stdout);
    expect(json.location.stepId).toBe('final.health');
    expect(json.abortPossible).toBe(true);
    expect(json.rollbackPossible).toBe(false);
  });

  it('turns a rollback request before the freeze into an abort', async () => {
    const result = await run(['rollback', '--reason', 'vendor outage', '--phrase', 'rollback freshtrackpro.com'], at(T0 - 24 * 3_600_000), 'ana');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('The source was never frozen, so this aborts the cutover');
    const ended = await run(['run', '--non-interactive'], at(T0 - 24 * 3_600_000));
    expect(ended.stdout).toMatch(/✓ abort\.restore-ttl/);
    expect(ended.stdout).toMatch(/✓ abort\.notice/);
    expect(ended.stdout).toContain('The cutover was aborted before the freeze; nothing was migrated.');
    expect(ended.code).toBe(1);
  });
});
