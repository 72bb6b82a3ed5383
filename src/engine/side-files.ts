import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { onDurableWrite, writeFileAtomicSync } from '../adapters/atomic-write.js';
import { storeAt, type RunStore } from './run-store.js';

/**
 * Team mode: the side files steps keep in the state folder (the grants the freeze revoked, the DNS
 * values before a change, the e-mail batches sent, stored reconciliations, notification deliveries)
 * belong to the run, not to the machine that wrote them. Each durable write of one is mirrored into
 * the state database as it happens (before the step acts on it), and a process attaching to the run
 * writes the database's copies into its own state folder, so a driver that takes over on another
 * machine restores the grants the first one revoked and does not send again what it sent.
 *
 * The engine's own records (state, journal, lock, inbox, seal key) live in the store already.
 */
const ENGINE_RECORDS = /^(state\.json|journal\.ndjson|lock(\..*)?|\.lock.*|inbox(\/.*)?|.*\.tmp)$/;

export function mirrorSideFiles(stateDir: string, store: RunStore): () => void {
  const root = resolve(stateDir);
  for (const { name, content } of store.sideFiles()) {
    const file = join(root, name);
    if (!isSideFile(name) || (existsSync(file) && readFileSync(file, 'utf8') === content)) continue;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(file, content, 0o600);
  }
  return onDurableWrite((file, content) => {
    const name = relative(root, resolve(file));
    if (name.startsWith(`..${sep}`) || name === '..' || isAbsolute(name) || !isSideFile(name)) return;
    if (storeAt(root) !== store) return; // the folder went back to files (or to another store)
    store.saveSideFile(name.split(sep).join('/'), content);
  });
}

function isSideFile(name: string): boolean {
  return !name.split('/').includes('..') && !ENGINE_RECORDS.test(name);
}
