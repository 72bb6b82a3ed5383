import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';

/**
 * Issue 14, item 4: scripts and timers call `cutover` from any folder. The built CLI in a real process
 * (the working folder is the process's own), so discovery is tested as a cron job would meet it.
 */
const main = join(import.meta.dirname, '../../dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'cutover-discovery-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const project = join(root, 'project');
const nested = join(project, 'ops', 'timers');
const elsewhere = join(root, 'elsewhere');
mkdirSync(nested, { recursive: true });
mkdirSync(elsewhere);
const planFile = writeLocalPlan(project);
// T0 is 2026-12-05 22:00 in New York; prep opens 48 h before.
const clockAt = (iso: string) => `manual:${iso}`;

async function cutover(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CUTOVER_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [main, ...args], { cwd, env: { ...clean, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('finding the plan and the environment', () => {
  it('finds the plan upward from the working folder when --config is not given', async () => {
    const result = await cutover(['run', '--dry-run'], nested, { CUTOVER_CLOCK: clockAt('2026-12-03T03:00:00Z') });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Dry run from: Waiting until Dec 03 22:00:00 -05:00 (in 24h): phase prep opens.');
  });

  it('says where it looked when there is no plan here or above (exit 2)', async () => {
    const result = await cutover(['status'], elsewhere);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`No plan at ${join(elsewhere, 'cutover.config.ts')}. Write one with \`cutover init\`, or point to it with --config FILE.`);
  });

  it('takes CUTOVER_CONFIG, and --config over it', async () => {
    const env = { CUTOVER_CLOCK: clockAt('2026-12-03T03:00:00Z') };
    expect((await cutover(['run', '--dry-run'], elsewhere, { ...env, CUTOVER_CONFIG: planFile })).code).toBe(0);
    const wrong = await cutover(['run', '--dry-run'], elsewhere, { ...env, CUTOVER_CONFIG: join(elsewhere, 'missing.ts') });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`No plan at ${join(elsewhere, 'missing.ts')}`);
    const given = await cutover(['--config', planFile, 'run', '--dry-run'], elsewhere, { ...env, CUTOVER_CONFIG: join(elsewhere, 'missing.ts') });
    expect(given.code).toBe(0);
  });

  it('reads --env-file with Node\'s parser (quotes, comments); a variable already set wins', async () => {
    const envFile = join(elsewhere, 'cutover.env');
    writeFileSync(envFile, `# the plan and the clock for this timer\nCUTOVER_CONFIG="${planFile}"\nCUTOVER_CLOCK='${clockAt('2026-12-03T03:00:00Z')}'\n`);
    const fromFile = await cutover(['--env-file', envFile, 'run', '--dry-run'], elsewhere);
    expect(fromFile.stderr).toBe('');
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain('Waiting until Dec 03 22:00:00 -05:00 (in 24h)');
    const overridden = await cutover(['--env-file', envFile, 'run', '--dry-run'], elsewhere, { CUTOVER_CLOCK: clockAt('2026-12-02T03:00:00Z') });
    expect(overridden.stdout).toContain('Waiting until Dec 03 22:00:00 -05:00 (in 2d)');
  });

  it('names a missing --env-file (exit 2) and runs nothing', async () => {
    // In-process: a real `node main.js --env-file missing` is stopped by Node itself first (exit 9,
    // nodejs/node#54232: Node reads `--env-file` among the script's arguments).
    const result = await cli(['--env-file', join(elsewhere, 'missing.env'), 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`--env-file ${join(elsewhere, 'missing.env')}: no such file. Give the path of a KEY=value file, or leave the option out.\n`);
  });

  it('does not look upward for `cutover init`: it writes here, never over a parent\'s plan', async () => {
    const result = await cutover(['init'], nested);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(join(nested, 'cutover.config.ts'));
  });
});
