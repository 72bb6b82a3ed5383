/**
 * Child process for the rollback kill-and-resume test: runs the rollback branch's steps with the real
 * code from START_STEP on, saving the outputs of finished steps to OUTPUTS_FILE (what the engine's
 * state file would hold), and prints every progress report as a JSON line. At the first report with
 * label PAUSE_LABEL that counts rows (done > 0) it prints {"paused": …} and blocks, in the middle of
 * the step, for the parent to SIGKILL it there.
 *
 *   node node_modules/jiti/lib/jiti-cli.mjs test/rollback/branch-child.ts \
 *     <source url> <target url> <plan dir> <outputs file> <pause label> <start step>
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Progress } from '../../src/steps/types.js';
import { BRANCH, fixtureFor, runStep } from './fixture.js';

const [sourceUrl, targetUrl, planDir, outputsFile, pauseLabel, startStep] = process.argv.slice(2) as [string, string, string, string, string, string];
const outputs = existsSync(outputsFile) ? (JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, unknown>) : {};
const f = fixtureFor(sourceUrl, targetUrl, planDir, outputs);
const print = (value: unknown) => writeFileSync(1, `${JSON.stringify(value)}\n`);

const progress = (report: Progress) => {
  print(report);
  if (report.label === pauseLabel && report.unit === 'rows' && report.done > 0) {
    print({ paused: report });
    // Block the whole process (event loop included) mid-step: the open transaction stays open until the kill.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    process.exit(9);
  }
};

for (const step of BRANCH.slice(BRANCH.indexOf(startStep))) {
  await runStep(f, step, progress);
  writeFileSync(`${outputsFile}.tmp`, JSON.stringify(outputs));
  renameSync(`${outputsFile}.tmp`, outputsFile);
  print({ finished: step });
}
print({ done: true });
