import type { RunOptions } from '../cli/commands/run.js';
import { runLines } from '../cli/commands/run.js';
import type { Io } from '../cli/io.js';
import type { Session } from '../cli/session.js';

/** The terminal UI entry. Until the Ink UI lands, a terminal gets line output that waits through gates. */
export async function runInteractive(session: Session, options: RunOptions, io: Io): Promise<number> {
  return runLines(session, options, io, { waitGates: true });
}
