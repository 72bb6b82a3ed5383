import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZoneFile } from '../../src/adapters/local-dns.js';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import type { PlanInput } from '../../src/config/schema.js';
import { t0Of } from '../../src/config/settings.js';
import { Terminal, tmuxOn } from '../support/tmux.js';

/**
 * `cutover run` in a real pseudo-terminal: tmux at 80×24, keys sent with send-keys, the screen read
 * with capture-pane. The CLI runs from a tsc build: jiti (which runs the sources elsewhere) resolves
 * `.js` specifiers to `.ts` but not to `.tsx`, and both the UI and the notice templates are `.tsx`.
 */
const root = join(import.meta.dirname, '../..');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('test/ui/pty.test.ts skipped: tmux is not installed (apt-get install -y tmux).');

const work = mkdtempSync(join(tmpdir(), 'cutover-pty-'));
const socket = `cutover-pty-${process.pid}`;
afterAll(() => {
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  rmSync(work, { recursive: true, force: true });
});

/** The tmux server's whole environment: no CI (it turns colour off), a UTF-8 locale, a known local zone. */
const terminalEnv = { PATH: process.env.PATH ?? '', HOME: work, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'Europe/Berlin' };

const tmux = tmuxOn(socket, terminalEnv);

let cli = '';
let counter = 0;

/** A plan on local providers (zone file, outbox, an audience file), and `cutover run` in a new 80×24 window. */
async function startRun(env: Record<string, string> = {}, overrides: Partial<PlanInput> = {}): Promise<{ terminal: Terminal; dir: string }> {
  const dir = join(work, `run-${++counter}`);
  mkdirSync(dir);
  const plan: PlanInput = {
    ...examplePlan,
    dns: { provider: 'local', zone: 'freshtrackpro.com', file: join(dir, 'zone.json'), records: (examplePlan.dns as PlanInput['dns']).records, resolvers: [] },
    mail: { provider: 'outbox', dir: join(dir, 'outbox'), from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: join(dir, 'audience.txt') } },
    // Whoever runs the tests is Ben Okafor: the UI signs and skips as the OS account running it.
    approvers: { ...examplePlan.approvers, default: [{ name: 'Ana Ruiz', os: 'ana' }, { name: 'Ben Okafor', os: userInfo().username }, { name: 'Chen Wei', os: 'chen' }] },
    ...overrides,
  };
  writeFileSync(join(dir, 'cutover.config.ts'), renderPlanFile(plan));
  writeFileSync(join(dir, 'audience.txt'), 'ops@freshtrackpro.com\n');
  await createZoneFile(
    join(dir, 'zone.json'),
    'freshtrackpro.com',
    plan.dns.records.map((record) => ({ name: record.name, type: record.type, content: record.oldValue, ttl: record.normalTtl })),
  );
  // Waits run 100 000× faster from a minute before the prep phase opens (T0 − 48h).
  const start = new Date(t0Of(parsePlan(plan)).toMillis() - 48 * 3_600_000 - 60_000).toISOString();
  const vars = Object.entries({ CUTOVER_CLOCK: `compressed:100000@${start}`, ...env }).map(([key, value]) => `${key}='${value}'`);
  const command = `env ${vars.join(' ')} '${process.execPath}' '${cli}' --config '${join(dir, 'cutover.config.ts')}' run; echo "cutover exited with $?"; sleep 600`;
  const name = `run${counter}`;
  tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', command);
  return { terminal: new Terminal(tmux, name), dir };
}

/** Skip every failing step from the keyboard (no databases here) until `until` is on screen. */
async function skipFailuresUntil(terminal: Terminal, until: string): Promise<string[]> {
  const skipped: string[] = [];
  const deadline = Date.now() + 90_000;
  for (;;) {
    const screen = await terminal.waitFor(new RegExp(`${until.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|── [✗?] \\S+ ─`), deadline - Date.now());
    if (screen.includes(until)) return skipped;
    const stepId = /── [✗?] (\S+) ─/.exec(screen)![1]!;
    terminal.keys('s');
    await terminal.waitFor(`Skip · ${stepId}`);
    await terminal.waitFor('Reason:');
    terminal.text('no databases in this rehearsal');
    await terminal.waitFor('Reason: no databases in this rehearsal');
    terminal.keys('Enter');
    // Skipped: the form is gone and the step no longer stands failed (the run may already have
    // scrolled its ↷ row out of view, so the row itself is not waited for).
    const id = stepId.replace('.', '\\.');
    await terminal.waitFor(new RegExp(`^(?![\\s\\S]*(Skip · ${id}|── [✗?] ${id} ─))`));
    skipped.push(stepId);
  }
}

describe.skipIf(!hasTmux)('cutover run in a real terminal (tmux)', () => {
  beforeAll(() => {
    const build = join(work, 'build');
    mkdirSync(build);
    // The build needs the project's packages and "type": "module" above it, as in the repository.
    symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'));
    writeFileSync(join(build, 'package.json'), JSON.stringify({ type: 'module' }));
    // tsc emits even if some other part of the tree does not type-check; CI's `npm run build` checks that.
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(build, 'dist')], { encoding: 'utf8' });
    cli = join(build, 'dist/src/cli/main.js');
  });

  it('signs off the first gate from the keyboard and moves on; q leaves it resumable (exit 3)', async () => {
    const { terminal } = await startRun();
    let screen = await terminal.waitFor('PRODUCTION');
    expect(screen).toContain('T0 Sat Dec 05 22:00 EST · local Sun Dec 06 04:00 GMT+1');

    const skipped = await skipFailuresUntil(terminal, 'Sign-off · prep.staging-rehearsal');
    // The UI acts as whoever runs it: this test's OS account is Ben Okafor in the plan.
    await terminal.waitFor('Signing as Ben Okafor · Enter to sign');
    terminal.keys('Enter');
    await terminal.waitFor('Note (optional):');
    terminal.text('rehearsed on staging, verify green');
    await terminal.waitFor('Note (optional): rehearsed on staging, verify green');
    terminal.keys('Enter');
    await terminal.waitFor('[ Approve ]');
    terminal.keys('Enter');

    screen = await terminal.waitFor('Sign-off · prep.critical-workflows');
    expect(screen).toMatch(/^ {2}✓ prep\.staging-rehearsal +Dec 03 22:00 22:0\d +Ben Okafor ✓/m);
    expect(screen).toMatch(/^▸ … prep\.critical-workflows +Dec 03 22:00 +needs 1 of 3/m);
    expect(screen).toContain('✎ prep.staging-rehearsal signed off by Ben Okafor');
    for (const line of screen.split('\n')) expect([...line].length).toBeLessThanOrEqual(80);

    terminal.keys('q');
    screen = await terminal.waitFor('cutover exited with 3');
    // Issue 14: the closing summary below the last frame, the same as the line output's.
    expect(screen).toContain('── Summary ──');
    expect(screen).toMatch(new RegExp(`This run: \\d+ steps done, ${skipped.length} failed, ${skipped.length} skipped, 1 sign-off recorded\\.`));
    for (const stepId of skipped) expect(screen).toContain(`↷ failed, then skipped: ${stepId} (`);
    expect(screen).toContain('Where it stands: phase prep (Preparation). Waiting for sign-off of prep.critical');
    expect(screen).toContain('Next: cutover signoff prep.critical-workflows [--note TEXT] [--reject]');
    expect(screen).toContain('The state is saved.');
  });

  it('uses colour on a colour terminal and none at all with NO_COLOR', async () => {
    const colour = /\u001b\[[0-9;]*(?:3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;|48;)[0-9;]*m/;
    const coloured = await startRun();
    await coloured.terminal.waitFor('PRODUCTION');
    expect(coloured.terminal.screen({ escapes: true })).toMatch(colour);
    coloured.terminal.keys('q');
    await coloured.terminal.waitFor('cutover exited with');

    const plain = await startRun({ NO_COLOR: '1' });
    const screen = await plain.terminal.waitFor('*** PRODUCTION ***');
    expect(screen).toContain('── Timeline');
    expect(plain.terminal.screen({ escapes: true })).not.toMatch(colour);
    plain.terminal.keys('q');
    await plain.terminal.waitFor('cutover exited with');
  });
});

describe.skipIf(!hasTmux)('cutover rehearse --interactive in a real terminal (tmux)', () => {
  it('runs the rehearsal to its first gate, takes the sign-off from the keyboard, and writes the report on q', async () => {
    const dir = join(work, 'rehearsal');
    mkdirSync(dir);
    const name = 'rehearse';
    const command = `cd '${dir}' && '${process.execPath}' '${cli}' rehearse --interactive --rows 2000 --speed 200000; echo "cutover exited with $?"; sleep 600`;
    tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', command);
    const terminal = new Terminal(tmux, name);
    // Preflight, lower TTL and the advance notice run for real against the embedded servers first.
    let screen = await terminal.waitFor('Sign-off · prep.staging-rehearsal', 120_000);
    expect(screen).toContain('STAGING');
    expect(screen).toMatch(/✓ prep\.lower-ttl/);
    expect(screen).toMatch(/✓ prep\.advance-notice/);
    terminal.keys('Enter');
    await terminal.waitFor('Note (optional):');
    terminal.text('signed by hand in the rehearsal');
    // The text on screen first: keys sent before the field is listening would be lost on a busy machine.
    await terminal.waitFor('Note (optional): signed by hand in the rehearsal');
    terminal.keys('Enter');
    await terminal.waitFor('[ Approve ]');
    terminal.keys('Enter');
    screen = await terminal.waitFor('Sign-off · prep.critical-workflows');
    expect(screen).toContain('✎ prep.staging-rehearsal signed off by rehearsal');
    terminal.keys('q');
    screen = await terminal.waitFor('cutover exited with', 60_000);
    expect(screen).toMatch(/Report: .*rehearsal-report\.md/);
    // Issue 14: quitting at a gate is exit 3, and a rehearsal (its workspace removed) is not resumable.
    expect(screen).toContain('cutover exited with 3');
    expect(screen).not.toContain('resume with');
    expect(screen).toContain('Next: cutover rehearse, to rehearse again');
  });
});
