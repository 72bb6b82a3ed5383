import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlanInput } from '../../src/config/schema.js';
import { recognise } from '../../src/engine/identity.js';
import { customStepActions } from '../../src/steps/custom/index.js';
import { startStatusPageFake, type StatusPageFake } from '../fakes/status-page.js';
import { usePostgres } from '../support/postgres.js';
import { cleanupDirs, uiRun } from './fixture.js';
import { COLUMNS, ENTER, ROWS, section } from './terminal.js';

/**
 * Issue 9, item 6: the steps a plan adds are in the UI's timeline like built-in ones, run by their
 * real actions (the status page is a contract fake, the target a real PostgreSQL), and their
 * sign-off is given from the keyboard by the person the plan names.
 */

const pg = usePostgres();
let statusPage: StatusPageFake;
beforeAll(async () => {
  statusPage = await startStatusPageFake();
});
afterAll(async () => {
  await statusPage.close();
});
afterEach(cleanupDirs);

const steps = (): NonNullable<PlanInput['steps']> => [
  {
    kind: 'http',
    id: 'custom.status-page',
    title: 'Status page: maintenance scheduled',
    phase: 'prep',
    after: 'prep.preflight',
    url: `${statusPage.url}/v1/pages/${statusPage.page}/incidents`,
    headers: { Authorization: { valueEnv: 'STATUS_PAGE_AUTH' } },
    body: { incident: { name: 'Database move', status: 'scheduled' } },
    expectStatus: 201,
  },
  { kind: 'sql', id: 'custom.target-check', title: 'Target answers read-only', phase: 'prep', after: 'custom.status-page', database: 'target', sql: 'select 1 as ok', expect: 'rows' },
  { kind: 'signoff', id: 'custom.ops-ok', title: 'On-call briefed', description: 'The on-call engineer knows the window and the rollback phrase.', phase: 'prep', after: 'custom.target-check', approvers: ['Ben Okafor'] },
];

describe('steps a plan adds, in the terminal UI', () => {
  it('shows them in the timeline at 80×24, runs them, and takes their sign-off from the person the plan names', async () => {
    const run = uiRun({ plan: { steps: steps() } });
    run.session.registry = { ...run.session.registry, ...customStepActions(run.plan) };
    run.session.env = { STATUS_PAGE_AUTH: `OAuth ${statusPage.key}`, TARGET_DATABASE_URL: pg().url };
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed, { identity: recognise(run.plan, 'ben') });
    const frame = await screen.waitFor('Sign-off · custom.ops-ok');
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThan(ROWS);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(COLUMNS);
    // The fake's port changes from run to run (and with it where the line is cut).
    expect(frame.replace(/http:\/\/127\.0\.0\.1:\d+\S*/, '<status page URL>')).toMatchInlineSnapshot(`
      " PRODUCTION  FreshTrack Pro: Supabase to self-hosted PostgreSQL
      T0 Sat Dec 05 22:00 EST · local Sun Dec 06 04:00 GMT+1 · now Dec 03 22:00 EST
      next: final opens in 24h 00m │ point of no return ahead · abort possible
      ── Timeline ────────────────── planned ──── actual ─────── by ───── 3–9 of 54 ──
        ✓ custom.status-page         Dec 03 22:00 22:00
        ✓ custom.target-check        Dec 03 22:00 22:00
      ▸ … custom.ops-ok              Dec 03 22:00                needs 1 of 1
        · prep.replicate             Dec 03 22:00
        · prep.lower-ttl             Dec 03 22:00
        · prep.advance-notice        Dec 03 22:00
        · prep.staging-rehearsal     Dec 03 22:00
      ── Sign-off · custom.ops-ok ─────────────────────────────────── quorum 1 of 1 ──
      On-call briefed: The on-call engineer knows the window and the rollback phrase.
      No sign-offs yet · 1 needed
      Signing as Ben Okafor · Enter to sign




      Dec 03 22:00:00  ✓ custom.status-page 0ms: POST <status page URL>
      Dec 03 22:00:00  ▶ custom.target-check
      Dec 03 22:00:00  ✓ custom.target-check 0ms: target: SELECT returned 1 row(s)
      R abort · b rollback decision · PgUp/PgDn scroll · q quit"
    `);
    expect(section(frame, 'Timeline').split('\n').slice(0, 3).join('\n')).toMatch(/custom\.status-page[\s\S]*custom\.target-check[\s\S]*custom\.ops-ok/);
    expect(statusPage.incidents).toHaveLength(1);

    screen.press(ENTER);
    await screen.waitFor('Note (optional)');
    screen.press(ENTER);
    await screen.waitFor('[ Approve ]');
    screen.press(ENTER);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    // The sign-off is on the record under the name the system recognised.
    const signed = runner.journal.entries.findLast((entry) => entry.type === 'event')!;
    expect(signed.event).toMatchObject({ type: 'SIGNOFF', stepId: 'custom.ops-ok', by: 'Ben Okafor' });
    screen.unmount();
    runner.close();
  });
});
