import type { Command } from 'commander';
import { ExitError } from '../../engine/errors.js';
import type { GlobalOptions, Io } from '../io.js';

type Action = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

/** Commands whose machinery is still being built: they refuse loudly instead of pretending. */
export function registerLater(program: Command, globals: () => GlobalOptions, io: Io, action: Action): void {
  const notYet = (what: string) => async (): Promise<number> => {
    throw new ExitError(`${what} is not implemented yet in this version of cutover.`, 2);
  };
  void globals;
  void io;
  program.command('reconcile').description('compare source and target (grouped counts and hashes)').option('--json').option('--prometheus-textfile <file>')
    .action(action(notYet('cutover reconcile')));
  program.command('decide').description('the rollback decision tree on the current evidence').option('--json')
    .action(action(notYet('cutover decide')));
  program.command('notify').description('notices').command('preview <template>').option('--html <file>')
    .action(action(notYet('cutover notify preview')));
  program.command('rehearse').description('the whole cutover on two embedded PostgreSQL servers')
    .option('--rows <n>').option('--speed <x>').option('--with-rollback').option('--inject-drift <n>').option('--interactive').option('--keep <dir>')
    .action(action(notYet('cutover rehearse')));
}
