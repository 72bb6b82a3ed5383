import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showLog } from '../../src/services/journal-log.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const planFile = join(dir, 'cutover.config.ts');
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
const env = { CUTOVER_CLOCK: `manual:${new Date(T0 - 48 * 3_600_000).toISOString()}` };
/** `as`: the OS account the command runs as (the example plan's Ana Ruiz is the account ana). */
const cutover = (args: string[], as?: string) => cli(['--config', planFile, ...args], env, as);

beforeAll(() => {
  writeLocalPlan(dir, { audience: ['ana@example.com'] });
});

describe('cutover log', () => {
  it('says there is nothing to read before the first run (exit 2)', async () => {
    const result = await cutover(['log']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('There is no journal');
    expect(result.stderr).toContain('cutover run');
  });

  it('prints every entry in the plan\'s zone with its offset, filters by step, and in JSON keeps the offset', async () => {
    expect((await cutover(['run', '--non-interactive'])).code).toBe(1); // preflight fails: no databases
    expect((await cutover(['skip', 'prep.preflight', '--by', 'Ana Ruiz', '--reason', 'checked by hand'], 'ana')).code).toBe(0);

    const all = await cutover(['log']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    // Dec 03 22:00 in New York is 03:00Z on Dec 04: people read local time with the offset named.
    expect(lines[0]).toMatch(/^\s*1 {2}Dec 03 22:00:00 -05:00 {2}run \S+ created \(FreshTrack Pro/);
    expect(lines.some((line) => /✗ prep\.preflight failed in \d+ ms: source database: SOURCE_DATABASE_URL is not set/.test(line))).toBe(true);
    expect(lines.at(-1)).toMatch(/↷ prep\.preflight skipped by Ana Ruiz: checked by hand$/);
    expect(lines.every((line) => /-05:00/.test(line))).toBe(true);

    const step = await cutover(['log', '--step', 'prep.preflight']);
    const stepLines = step.stdout.trim().split('\n');
    expect(stepLines.length).toBeGreaterThanOrEqual(3);
    expect(stepLines.every((line) => line.includes('prep.preflight'))).toBe(true);

    const json = await cutover(['log', '--json', '--step', 'prep.preflight']);
    const entries = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { at: string; type: string });
    expect(entries.map((entry) => entry.type).filter((type) => type !== 'step.note')).toEqual(['step.started', 'step.failed', 'event']);
    expect(entries[0]!.at).toMatch(/^2026-12-03T22:00:00(\.\d+)?-05:00$/);
  });

  it('refuses an unknown step id (exit 2) with where to find the ids', async () => {
    const result = await cutover(['log', '--step', 'prep.nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--step prep.nope: there is no such step. See the step ids with: cutover plan');
  });

  it('--follow prints lines as another process appends them', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const following = showLog({ stateDir: join(dir, '.cutover'), zone: 'America/New_York', follow: true, signal: controller.signal, pollMs: 50 }, (line) => lines.push(line));
    const before = lines.length;
    expect(before).toBeGreaterThan(0);
    expect((await cutover(['run', '--non-interactive'])).code).toBe(3);
    const deadline = Date.now() + 30_000;
    while (!lines.some((line) => /✓ prep\.advance-notice finished in .*: advance-notice sent to 1 recipient/.test(line))) {
      if (Date.now() > deadline) throw new Error(`no new line; got:\n${lines.slice(before).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    controller.abort();
    await following;
  });

  it('refuses a journal that was changed (exit 2), as the runner does; an incomplete last line is left out, as the runner cuts it', async () => {
    const copy = join(dir, 'copy');
    cpSync(join(dir, '.cutover'), copy, { recursive: true });
    const journal = join(copy, 'journal.ndjson');
    const original = readFileSync(journal, 'utf8');
    writeFileSync(journal, original.replace('Ana Ruiz', 'Mallory'));
    const edited = await cli(['--config', planFile, '--state', copy, 'log'], env);
    expect(edited.code).toBe(2);
    expect(edited.stderr).toMatch(/The journal .* is damaged at line \d+: the line was changed after it was written/);

    writeFileSync(journal, original);
    appendFileSync(journal, '{"seq":999,"at":"2026-12-0');
    // Issue 13: a last line without its newline was never acknowledged; the runner cuts it and runs on.
    const cut = await cli(['--config', planFile, '--state', copy, 'log'], env);
    const whole = await cli(['--config', planFile, 'log'], env);
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stderr).toMatch(/The last line of the journal is incomplete \(\d+ bytes, never acknowledged\): not shown/);
    expect(cut.stdout).toBe(whole.stdout);
  });
});
