/**
 * Child process for the replicate kill tests: runs prep.replicate's work (or the window's drain) with
 * the real code, printing progress as JSON lines, so the parent can SIGKILL it at a chosen point.
 *
 *   node node_modules/jiti/lib/jiti-cli.mjs test/replicate/kill-child.ts <prepare|drain> <source url> <target url> <state dir> <run id> [freeze lsn]
 */
import { databaseAt } from '../../src/adapters/postgres.js';
import { freshTrackTables } from '../../src/config/example.js';
import { replicationNames } from '../../src/steps/replicate/names.js';
import { prepareReplication } from '../../src/steps/replicate/prepare.js';
import { drainToFreeze } from '../../src/steps/replicate/window.js';

const [mode, sourceUrl, targetUrl, stateDir, runId, freezeLsn] = process.argv.slice(2) as [string, string, string, string, string, string?];
const source = databaseAt(sourceUrl, 'source');
const target = databaseAt(targetUrl, 'target');
const say = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

if (mode === 'prepare') {
  await prepareReplication({
    source,
    target,
    sourceUrl,
    runId,
    stateDir,
    tables: freshTrackTables!.map((t) => ({ name: t.name, key: t.key })),
    workers: 2,
    chunkRows: 25_000,
    progress: (report) => say(report),
  });
} else {
  say({ draining: true });
  await drainToFreeze({ source, target, names: replicationNames(runId), freezeLsn: freezeLsn!, timeoutMs: 120_000 });
}
say({ finished: true });
