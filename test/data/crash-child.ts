/**
 * Child process for the crash tests: runs one export or load with the real code and prints every
 * progress report as a JSON line, so the parent can SIGKILL it at a chosen point.
 *
 *   node node_modules/jiti/lib/jiti-cli.mjs test/data/crash-child.ts <export|load> <source url> <target url> <dir> <run id> <tables,...>
 */
import { databaseAt } from '../../src/adapters/postgres.js';
import { exportTables } from '../../src/steps/data/export.js';
import { loadTables } from '../../src/steps/data/load.js';
import type { Progress } from '../../src/steps/types.js';

const [mode, sourceUrl, targetUrl, dir, runId, tableList] = process.argv.slice(2) as [string, string, string, string, string, string];
const tables = tableList.split(',');
const progress = (report: Progress) => process.stdout.write(`${JSON.stringify(report)}\n`);

if (mode === 'export') {
  await exportTables({ source: databaseAt(sourceUrl, 'source'), tables, dir, runId, progress });
} else {
  await loadTables({ target: databaseAt(targetUrl, 'target'), dir, runId, tables, progress });
}
process.stdout.write(`${JSON.stringify({ finished: true })}\n`);
