import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { PlanInput } from '../../src/config/schema.js';
import { usePostgres } from '../support/postgres.js';
import { fixtureFor, prepare, type Fixture } from './fixture.js';

/**
 * One PostgreSQL server and one scratch folder per test file; each fixture gets its own pair of
 * databases and plan folder. Call at the top level of a test file.
 */
export function useFixtures(prefix: string) {
  const server = usePostgres();
  let scratch = '';
  let counter = 0;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), `cutover-${prefix}-`));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });
  /** A fresh source/target pair and plan folder, without any schema. */
  async function emptyFixture(name: string, overrides?: Partial<PlanInput>): Promise<Fixture> {
    counter++;
    const sourceUrl = await server().createDatabase(`${name}_source_${counter}`);
    const targetUrl = await server().createDatabase(`${name}_target_${counter}`);
    return fixtureFor(sourceUrl, targetUrl, join(scratch, `${name}-${counter}`), {}, ...(overrides ? [overrides] : []));
  }
  /** The fixture's own schema and data, prepared on both sides. */
  async function newFixture(name: string): Promise<Fixture> {
    const f = await emptyFixture(name);
    await prepare(f);
    return f;
  }
  return { emptyFixture, newFixture };
}
