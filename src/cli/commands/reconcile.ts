import { reconcileNow } from '../../services/reconcile.js';
import { openSession } from '../../services/session.js';
import { renderReconcile } from '../../steps/reconcile/index.js';
import type { GlobalOptions, Io } from '../io.js';
import { notifyDrift } from '../../services/notify-run.js';

/** `cutover reconcile [--json] [--prometheus-textfile FILE]`: for cron and systemd timers. */
export async function reconcileCommand(globals: GlobalOptions, options: { json?: boolean; prometheusTextfile?: string }, io: Io): Promise<number> {
  const session = await openSession(globals, io);
  const run = await reconcileNow(session, options.prometheusTextfile ? { prometheusTextfile: options.prometheusTextfile } : {});
  notifyDrift(session, run);
  if (options.json) {
    const { result, ...rest } = run;
    io.out(JSON.stringify({ ...rest, ...result }, null, 2));
    return run.exitCode;
  }
  io.out(renderReconcile(run.result).trimEnd());
  io.out('file' in run.stored ? `Stored: ${run.stored.file}` : `NOT stored: ${run.stored.problem}`);
  io.out(run.journal.appended ? `Journal: summary appended (line ${run.journal.seq}).` : `Journal: ${run.journal.reason}`);
  if (run.textfile) io.out('written' in run.textfile ? `Prometheus textfile: ${run.textfile.file}` : `Prometheus textfile NOT written: ${run.textfile.problem}`);
  return run.exitCode;
}
