import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 * Several operators on one host, for real (issue 12 item 3): the lead runs `cutover run` in a tmux
 * terminal (the UI drives the run), and two approvers sign window.go's 2-of-2 quorum from two other
 * terminals under their own OS accounts, created here with useradd. Their commands hand the sign-off
 * to the driving UI through the inbox; the UI applies each and moves on. Meanwhile the recurring
 * timer's `cutover run --non-interactive` steps aside with exit 4.
 *
 * Needs tmux and root (to create the two accounts and their group); skipped with the reason otherwise.
 */
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const isRoot = process.getuid?.() === 0;
const hasUseradd = spawnSync('useradd', ['--help']).status === 0;
const skipReason = !hasTmux ? 'tmux is not installed' : !isRoot ? 'creating two OS accounts needs root' : !hasUseradd ? 'useradd is not available' : undefined;
if (skipReason) console.warn(`test/ui/operators-pty.test.ts skipped: ${skipReason}.`);

const GROUP = 'cutover-ops-t';
const ANA = 'cutover-ana-t';
const BEN = 'cutover-ben-t';
const created: { users: string[]; group: boolean } = { users: [], group: false };

const root = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'cutover-operators-pty-'));
const socket = `cutover-ops-${process.pid}`;
const terminalEnv = { PATH: process.env.PATH ?? '', HOME: work, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'Europe/Berlin' };

const tmux = tmuxOn(socket, terminalEnv);

function sh(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
}

let cli = '';
let node = process.execPath;
const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** A command in a new 80×24 tmux window, as `account`, leaving its exit code on screen. */
function terminal(name: string, account: string, args: string[], env: Record<string, string> = {}): Terminal {
  // Every account names the operators' group of the shared state folder (docs/operations.md, issue 13).
  const vars = Object.entries({ HOME: work, CUTOVER_STATE_GROUP: GROUP, ...env }).map(([key, value]) => `${key}=${quote(value)}`);
  const command = [node, cli, ...args].map(quote).join(' ');
  const as = account === userInfo().username ? '' : `runuser -u ${account} -- `;
  tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', `${as}env ${vars.join(' ')} ${command}; echo "exited with $?"; sleep 600`);
  return new Terminal(tmux, name);
}

describe.skipIf(Boolean(skipReason))('several operators on one host (tmux, two OS accounts)', () => {
  beforeAll(() => {
    if (spawnSync('getent', ['group', GROUP]).status !== 0) {
      sh('groupadd', [GROUP]);
      created.group = true;
    }
    for (const user of [ANA, BEN]) {
      if (spawnSync('id', [user]).status !== 0) {
        sh('useradd', ['--no-create-home', '--no-user-group', '--gid', GROUP, '--shell', '/bin/sh', user]);
        created.users.push(user);
      }
    }
    // The build, its dependencies, node itself and the plan must be reachable by the two accounts, also
    // when the project sits in a folder only root may enter (CI builds from such a clone): a copy of
    // node_modules made of hard links (a real copy where hard links cannot reach) and of the node binary.
    chmodSync(work, 0o755);
    const build = join(work, 'build');
    mkdirSync(build, { mode: 0o755 });
    if (spawnSync('cp', ['-al', join(root, 'node_modules'), join(build, 'node_modules')]).status !== 0) {
      cpSync(join(root, 'node_modules'), join(build, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    }
    node = join(work, 'node');
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    writeFileSync(join(build, 'package.json'), JSON.stringify({ type: 'module' }));
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(build, 'dist')], { encoding: 'utf8' });
    cli = join(build, 'dist/src/cli/main.js');
  }, 300_000);

  afterAll(() => {
    spawnSync('tmux', ['-L', socket, 'kill-server']);
    for (const user of created.users) spawnSync('userdel', [user]);
    if (created.group) spawnSync('groupdel', [GROUP]);
    rmSync(work, { recursive: true, force: true });
  });

  it('two approvers sign a 2-of-2 gate from their own terminals while the UI drives; the UI advances; the timer steps aside (exit 4)', async () => {
    const dir = join(work, 'run');
    mkdirSync(dir, { mode: 0o755 });
    const lead = userInfo().username;
    const plan: PlanInput = {
      ...examplePlan,
      dns: { provider: 'local', zone: 'freshtrackpro.com', file: join(dir, 'zone.json'), records: (examplePlan.dns as PlanInput['dns']).records, resolvers: [] },
      mail: { provider: 'outbox', dir: join(dir, 'outbox'), from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: join(dir, 'audience.txt') } },
      approvers: {
        // The lead drives and signs the ordinary gates; window.go needs both others.
        default: [{ name: 'Lead', os: lead }, { name: 'Ana Ruiz', os: ANA }, { name: 'Ben Okafor', os: BEN }],
        steps: { 'window.go': { approvers: ['Ana Ruiz', 'Ben Okafor'], quorum: 2 } },
      },
    };
    const planFile = join(dir, 'cutover.config.ts');
    writeFileSync(planFile, renderPlanFile(plan), { mode: 0o644 });
    writeFileSync(join(dir, 'audience.txt'), 'ops@freshtrackpro.com\n');
    await createZoneFile(join(dir, 'zone.json'), 'freshtrackpro.com', plan.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })));
    // The shared state folder, as docs/operations.md says: the group of the operators, setgid.
    const stateDir = join(dir, '.cutover');
    mkdirSync(stateDir);
    const gid = Number(spawnSync('getent', ['group', GROUP], { encoding: 'utf8' }).stdout.split(':')[2]);
    chownSync(stateDir, 0, gid);
    chmodSync(stateDir, 0o2770);

    const start = new Date(t0Of(parsePlan(plan)).toMillis() - 48 * 3_600_000 - 60_000).toISOString();
    const ui = terminal('lead', lead, ['--config', planFile, 'run'], { CUTOVER_CLOCK: `compressed:100000@${start}`, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'Europe/Berlin' });

    // The lead skips what fails here (no databases) and signs the ordinary gates, up to window.go.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const screen = await ui.waitFor(/Sign-off · window\.go|── [✗?] \S+ ─|Signing as Lead · Enter to sign/, deadline - Date.now());
      if (screen.includes('Sign-off · window.go')) break;
      if (screen.includes('Signing as Lead · Enter to sign')) {
        const step = /Sign-off · (\S+)/.exec(screen)![1]!;
        ui.keys('Enter');
        await ui.waitFor('Note (optional):');
        ui.keys('Enter');
        await ui.waitFor('[ Approve ]');
        ui.keys('Enter');
        await ui.waitFor(new RegExp(`signed off by Lead|Sign-off · (?!${step.replace('.', '\\.')})`));
        continue;
      }
      const stepId = /── [✗?] (\S+) ─/.exec(screen)![1]!;
      ui.keys('s');
      await ui.waitFor('Reason:');
      ui.text('no databases in this test');
      await ui.waitFor('Reason: no databases in this test');
      ui.keys('Enter');
      // The skip is applied once the step's failure panel is gone (the timeline may scroll past the step).
      const failurePanel = new RegExp(`── [✗?] ${stepId.replace('.', '\\.')} ─|Reason: no databases`);
      const gone = Date.now() + 60_000;
      while (failurePanel.test(ui.screen())) {
        if (Date.now() > gone) throw new Error(`The skip of ${stepId} was never applied. The terminal shows:\n${ui.screen()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    let screen = await ui.waitFor('You are Lead, not an approver of window.go.');
    expect(screen).toContain('quorum 2 of 2');
    expect(screen).toContain('No sign-offs yet · 2 needed');

    // The recurring timer, meanwhile: it steps aside.
    const timer = terminal('timer', lead, ['--config', planFile, 'run', '--non-interactive']);
    const timerScreen = await timer.waitFor('exited with');
    expect(timerScreen).toContain('exited with 4');
    expect(timerScreen).toContain('steps aside');

    // Ana signs from her own terminal and account: handed to the UI, applied, answered.
    const ana = terminal('ana', ANA, ['--config', planFile, 'signoff', 'window.go', '--note', 'go from ana']);
    let other = await ana.waitFor('exited with');
    expect(other).toContain('exited with 0');
    expect(other).toContain('Recorded as Ana Ruiz');
    screen = await ui.waitFor('Ana Ruiz ✓ "go from ana" · 1 more needed');

    // Ana cannot be Ben: a claim from her account for him is refused, naming who she is.
    const impostor = terminal('impostor', ANA, ['--config', planFile, 'signoff', 'window.go', '--by', 'Ben Okafor']);
    other = await impostor.waitFor('exited with');
    expect(other).toContain('exited with 2');
    expect(other.replace(/\n/g, '')).toContain('is not who runs this command: you are recognised as Ana Ruiz');

    const ben = terminal('ben', BEN, ['--config', planFile, 'signoff', 'window.go', '--note', 'go from ben']);
    other = await ben.waitFor('exited with');
    expect(other).toContain('exited with 0');
    const signedAt = Date.now();
    // The run moves past window.go at once, to the steps after it (window.pre-verify is done then): the
    // timeline has scrolled on by the time the screen is read, so wait for a step only a passed go reaches.
    screen = await ui.waitFor(/✓ window\.pre-verify/);
    console.info(`the UI showed window.go passed ${Date.now() - signedAt} ms after Ben's command exited`);
    expect(screen).not.toContain('Sign-off · window.go');

    // The journal says who, and how the system knew: the accounts that created the requests.
    const journal = readFileSync(join(stateDir, 'journal.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const go = journal.filter((entry) => entry.type === 'event' && (entry.event as { stepId?: string }).stepId === 'window.go');
    expect(go.map((entry) => entry.identity)).toEqual([
      { name: 'Ana Ruiz', account: ANA, via: 'os-account' },
      { name: 'Ben Okafor', account: BEN, via: 'os-account' },
    ]);
    ui.keys('q');
    await ui.waitFor('exited with');
  }, 400_000);
});
