import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Plan } from '../../src/config/schema.js';
import { PostgresStore } from '../../src/engine/postgres-store.js';
import { forgetStore, useStore } from '../../src/engine/run-store.js';
import type { EmbeddedServer } from '../../src/rehearsal/embedded.js';

/**
 * The engine's tests run against both state stores (DESIGN §2): files in the state folder, and a
 * state database (team mode) on the suite's real PostgreSQL server, a fresh database per test.
 */
export interface StoreUnderTest {
  name: 'files' | 'postgres';
  /** Keep the run of `stateDir` in this store (for this process). */
  attach(stateDir: string, plan: Plan): Promise<void>;
  /** Take a copy of the saved state; calling the result puts that copy back (a state that fell behind). */
  keepState(stateDir: string): () => void;
  /** What a child process needs in its environment to use the same store (see crash-child.ts). */
  childEnv(stateDir: string): Record<string, string>;
  /** Where the journal's lines really are (proves the run did not fall back to the other store). */
  journalLines(stateDir: string): number;
}

let databases = 0;

export function storesUnderTest(server: () => EmbeddedServer): StoreUnderTest[] {
  const attached: Array<{ stateDir: string; store: PostgresStore }> = [];
  afterEach(() => {
    for (const { stateDir, store } of attached.splice(0)) {
      forgetStore(stateDir);
      store.close();
    }
  });
  const stores = new Map<string, PostgresStore>();
  const urls = new Map<string, string>();
  return [
    {
      name: 'files',
      attach: async () => {},
      childEnv: () => ({}),
      keepState: (stateDir) => {
        const text = readFileSync(join(stateDir, 'state.json'));
        return () => writeFileSync(join(stateDir, 'state.json'), text);
      },
      journalLines: (stateDir) => (existsSync(join(stateDir, 'journal.ndjson')) ? readFileSync(join(stateDir, 'journal.ndjson'), 'utf8').trim().split('\n').length : 0),
    },
    {
      name: 'postgres',
      attach: async (stateDir, plan) => {
        const url = await server().createDatabase(`state_${process.pid}_${++databases}`);
        const store = new PostgresStore({ plan, urlEnv: 'CUTOVER_STATE_URL', env: { CUTOVER_STATE_URL: url } });
        useStore(stateDir, store);
        stores.set(stateDir, store);
        urls.set(stateDir, url);
        attached.push({ stateDir, store });
      },
      childEnv: (stateDir) => ({ CRASH_STATE_URL: urls.get(stateDir)! }),
      keepState: (stateDir) => {
        const store = stores.get(stateDir)!;
        const text = store.loadStateText()!;
        return () => store.saveStateText(text);
      },
      // Nothing in the folder: every line is a row.
      journalLines: (stateDir) => (existsSync(join(stateDir, 'journal.ndjson')) ? -1 : stores.get(stateDir)!.readJournalLines().length),
    },
  ];
}
