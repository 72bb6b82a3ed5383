import { ExitError, EXIT } from '../../engine/errors.js';
import { rehearse as runRehearsal } from '../../rehearsal/rehearse.js';
import type { Io } from '../io.js';

export interface RehearseFlags {
  rows?: string;
  speed?: string;
  withRollback?: boolean;
  injectDrift?: string;
  interactive?: boolean;
  keep?: string;
  report?: string;
  strategy?: string;
}

function positive(flag: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const number = Number(value.replaceAll('_', ''));
  if (!Number.isFinite(number) || number < min || !Number.isInteger(number)) {
    throw new ExitError(`${flag} ${value}: expected a whole number of at least ${min}`, EXIT.usage);
  }
  return number;
}

export async function rehearse(flags: RehearseFlags, io: Io): Promise<number> {
  const strategy = flags.strategy ?? 'copy';
  if (strategy !== 'copy' && strategy !== 'replicate') {
    throw new ExitError(`--strategy ${strategy}: expected copy or replicate`, EXIT.usage);
  }
  const outcome = await runRehearsal(
    {
      rows: positive('--rows', flags.rows, 1_000_000),
      speed: positive('--speed', flags.speed, 20_000, 1),
      ...(flags.withRollback ? { withRollback: true } : {}),
      ...(flags.injectDrift !== undefined ? { injectDrift: positive('--inject-drift', flags.injectDrift, 0) } : {}),
      ...(flags.interactive ? { interactive: true } : {}),
      ...(flags.keep ? { keep: flags.keep } : {}),
      ...(flags.report ? { reportPath: flags.report } : {}),
      strategy,
    },
    io,
  );
  return outcome.code;
}
