import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [readings]`: the two benchmarks, each in its own process so their peak RSS is their
 * own. Both compare against a baseline measured in the same script on the same data:
 * - data-path: export + load (+ verify) of the readings table against pg_dump -Fc | pg_restore;
 * - reconcile: a clean reconciliation against one grouped count(*) over the same table;
 * - initial-copy: strategy replicate's parallel initial copy against pg_dump -Fd -j N | pg_restore -j N
 *   and against today's single stream (export + load).
 */
const here = dirname(fileURLToPath(import.meta.url));
const readings = process.argv[2] ?? '5000000';
let failed = false;
for (const bench of ['data-path.js', 'reconcile.js', 'initial-copy.js']) {
  console.log(`\n=== ${bench.replace('.js', '')} (${Number(readings).toLocaleString('en-US')} readings) ===`);
  const result = spawnSync(process.execPath, [join(here, bench), readings], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
