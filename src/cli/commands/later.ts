import type { Command } from 'commander';
import { ExitError } from '../../engine/errors.js';
import type { GlobalOptions, Io } from '../io.js';
import { decide, type DecideFlags } from './decide.js';
import { notifyPreview } from './notify.js';
import { reconcileCommand } from './reconcile.js';
import { rehearse, type RehearseFlags } from './rehearse.js';

type Action = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

/** Commands whose machinery is still being built: they refuse loudly instead of pretending. */
export function registerLater(program: Command, globals: () => GlobalOptions, io: Io, action: Action): void {
  const notYet = (what: string) => async (): Promise<number> => {
    throw new ExitError(`${what} is not implemented yet in this version of cutover.`, 2);
  };
  program.command('reconcile').description('compare source and target (grouped counts and hashes); exit 0 clean, 1 drift or data loss, 2 error')
    .option('--json', 'machine-readable output')
    .option('--prometheus-textfile <file>', 'write metrics for node_exporter\'s textfile collector')
    .action(action((options: { json?: boolean; prometheusTextfile?: string }) => reconcileCommand(globals(), options, io)));
  program.command('decide').description('the rollback decision tree on the current evidence; exit 1 when the verdict is rollback')
    .option('--json', 'machine-readable output')
    .option('--assert <input>', 'record a human-only input first: security-breach, db-corruption or auth-broken')
    .option('--withdraw <input>', 'withdraw an earlier assertion')
    .option('--by <name>', 'who asserts or withdraws (an approver)')
    .option('--note <text>', 'why, for the record')
    .action(action((options: DecideFlags) => decide(globals(), options, io)));
  program.command('notify').description('user notices').command('preview <template>').description('show a notice as recipients get it').option('--html <file>', 'write the HTML part to a file')
    .action(action((template: string, options: { html?: string }) => notifyPreview(globals(), template, options, io)));
  program.command('rehearse').description('the whole cutover on two embedded PostgreSQL servers, with a compressed clock')
    .option('--rows <n>', 'temperature readings to generate', '1000000')
    .option('--speed <x>', 'how much faster waits run than real time', '20000')
    .option('--with-rollback', 'take the rollback branch at the first-day review')
    .option('--inject-drift <n>', 'delete N migrated rows in the target after the switch')
    .option('--interactive', 'sign off by hand in the terminal UI')
    .option('--keep <dir>', 'keep the servers\' data, state, exports and outbox in DIR')
    .option('--report <file>', 'where to write the report', 'rehearsal-report.md')
    .action(action((flags: RehearseFlags) => rehearse(flags, io)));
}
