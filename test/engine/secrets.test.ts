import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { t0Of } from '../../src/config/settings.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Runner } from '../../src/engine/runner.js';
import { localPlan } from '../support/plan.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('secrets', () => {
  it('never reach the state file or the journal, even when a step echoes them in its output or error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-secrets-'));
    dirs.push(dir);
    const stateDir = join(dir, '.cutover');
    const plan = localPlan(dir);
    const env = { SOURCE_DATABASE_URL: 'postgres://app:s3cr3t-Pa55@db.internal:5432/app', TARGET_DATABASE_URL: 'postgres://owner:tArget-Secret-9@db2.internal/app' };
    const clock = new ManualClock(t0Of(plan).toMillis() - 48 * 3_600_000);
    const runner = Runner.open({
      stateDir,
      plan,
      planDir: dir,
      env,
      clock,
      mode: 'drive',
      command: 'test',
      retries: 0,
      adapters: { dns: () => { throw new Error(); }, mail: () => { throw new Error(); } },
      registry: {
        'prep.preflight': {
          dryRun: () => '',
          // A careless step: the connection URL in its summary and output, the key in a note.
          run: async (ctx) => {
            ctx.note(`target is ${env.TARGET_DATABASE_URL}`);
            return { summary: `connected to ${env.SOURCE_DATABASE_URL}`, output: { url: env.SOURCE_DATABASE_URL, password: 's3cr3t-Pa55' } };
          },
        },
        'prep.lower-ttl': {
          dryRun: () => '',
          run: async () => {
            throw new Error(`connect failed for ${env.SOURCE_DATABASE_URL}: password s3cr3t-Pa55 rejected`);
          },
        },
      },
    });
    const blocked = await runner.drive({ waitGates: false });
    expect(blocked.kind).toBe('failed');
    runner.close();
    const written = readFileSync(join(stateDir, 'state.json'), 'utf8') + readFileSync(join(stateDir, 'journal.ndjson'), 'utf8');
    expect(written).toContain('[redacted]');
    expect(written).not.toContain('s3cr3t-Pa55');
    expect(written).not.toContain('tArget-Secret-9');
  });
});
