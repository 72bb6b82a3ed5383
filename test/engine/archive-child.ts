/**
 * close.archive in its own process, for leftovers.test.ts: archive-child.ts PLAN_DIR RUN_ID.
 * Prints "started" once it runs, then "done" when finished.
 */
import { archiveExports } from '../../src/steps/core/archive.js';
import type { StepContext } from '../../src/steps/types.js';
import { localPlan } from '../support/plan.js';

const [planDir, runId] = process.argv.slice(2) as [string, string];
const ctx = { plan: { ...localPlan(planDir), exportsDir: 'exports' }, planDir, runId, signal: new AbortController().signal } as unknown as StepContext;
process.stdout.write('started\n');
await archiveExports.run(ctx);
process.stdout.write('done\n');
