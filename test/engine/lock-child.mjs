// A lock contender for lock.test.ts (plain JS on the built engine, so a hundred rounds start fast).
//   node lock-child.mjs STATE_DIR BARRIER_FILE DONE_FILE
// Waits for BARRIER_FILE, tries the lock, prints WON (then holds it until DONE_FILE exists) or LOCKED.
import { existsSync } from 'node:fs';
import { acquireLock } from '../../dist/src/engine/lock.js';

const [stateDir, barrier, done] = process.argv.slice(2);
while (!existsSync(barrier)) await new Promise((resolve) => setTimeout(resolve, 1));
try {
  const lock = acquireLock(stateDir, 'lock-child');
  process.stdout.write(`WON${lock.tookOverFrom ? ' took-over' : ''}\n`);
  while (!existsSync(done)) await new Promise((resolve) => setTimeout(resolve, 5));
  lock.release();
} catch (error) {
  process.stdout.write(error.exitCode === 4 ? 'LOCKED\n' : `ERROR ${error.message}\n`);
}
