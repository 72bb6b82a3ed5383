import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allSteps } from '../../machines/runbook.js';
import { t0Of } from '../../src/config/settings.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { Runner } from '../../src/engine/runner.js';
import type { StepRegistry } from '../../src/steps/types.js';
import { localPlan } from '../support/plan.js';
import { usePostgres } from '../support/postgres.js';
import { storesUnderTest } from '../support/stores.js';

const server = usePostgres();
const stores = storesUnderTest(server);
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe.each(stores)('resuming from a state that is behind the journal ($name)', (store) => {
  it('replays a step the journal shows finished instead of running it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-resume-'));
    dirs.push(dir);
    const stateDir = join(dir, '.cutover');
    const plan = localPlan(dir);
    await store.attach(stateDir, plan);
    let restore: (() => void) | undefined;
    const clock = new ManualClock(t0Of(plan).toMillis() - 48 * 3_600_000);
    const runs = new Map<string, number>();
    const registry: StepRegistry = Object.fromEntries(
      allSteps().map((step) => [
        step.id,
        {
          dryRun: () => '',
          run: async (ctx) => {
            runs.set(ctx.stepId, (runs.get(ctx.stepId) ?? 0) + 1);
            // The state file as a kill right after this step's journal line would leave it.
            if (ctx.stepId === 'prep.advance-notice') restore = store.keepState(stateDir);
            return { summary: `${ctx.stepId} sent`, output: { recipients: 12 } };
          },
        },
      ]),
    );
    const open = () =>
      Runner.open({ stateDir, plan, planDir: dir, registry, adapters: { dns: () => { throw new Error(); }, mail: () => { throw new Error(); } }, clock, mode: 'drive', command: 'test', retries: 0 });

    const first = open();
    expect((await first.drive({ waitGates: false })).location.stepId).toBe('prep.staging-rehearsal');
    first.close();
    // The state file loses the step's completion; the journal keeps it.
    restore!();

    const second = open();
    expect(second.location().stepId).toBe('prep.advance-notice');
    const blocked = await second.drive({ waitGates: false });
    expect(blocked.location.stepId).toBe('prep.staging-rehearsal');
    expect(runs.get('prep.advance-notice')).toBe(1); // the notice was not sent twice
    expect(second.context().steps['prep.advance-notice']).toMatchObject({ status: 'done', summary: 'prep.advance-notice sent', output: { recipients: 12 } });
    second.close();
    expect(Journal.open(stateDir).entries.filter((entry) => entry.type === 'step.replayed').map((entry) => entry.stepId)).toEqual(['prep.advance-notice']);
    expect(verifyJournal(stateDir).ok).toBe(true);
    expect(store.journalLines(stateDir)).toBe(Journal.open(stateDir).entries.length);
  });
});
