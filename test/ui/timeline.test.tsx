import { afterEach, describe, expect, it } from 'vitest';
import { cleanupDirs, uiRun } from './fixture.js';
import { COLUMNS, ENTER, HOME, lineWith, PAGE_DOWN, ROWS, section } from './terminal.js';

afterEach(cleanupDirs);

describe('timeline and header', () => {
  it('marks each step done, failed, skipped, waiting or pending, with planned vs actual and who acted', async () => {
    const run = uiRun({
      actions: {
        // Preflight takes three minutes: its actual time shows the slip against the plan.
        'prep.preflight': {
          dryRun: () => 'check the plan',
          run: async () => {
            run.clock.advance(3 * 60_000);
            return { summary: 'all systems reachable' };
          },
        },
        'prep.lower-ttl': {
          dryRun: () => 'set TTL 300 on 3 records',
          run: async () => {
            throw new Error('zone file is read-only');
          },
        },
      },
    });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);

    let frame = await screen.waitFor('Failed: zone file is read-only');
    expect(lineWith(frame, 'prep.preflight')).toMatch(/^  ✓ prep\.preflight +Dec 03 22:00 22:03 \+3m/);
    expect(lineWith(frame, 'prep.lower-ttl')).toMatch(/^▸ ✗ prep\.lower-ttl +Dec 03 22:00/);
    expect(lineWith(frame, 'prep.advance-notice')).toMatch(/^  · prep\.advance-notice /);
    expect(frame).toContain('r retry · s skip');

    // Skip it from the keyboard, as the person running the UI and with why, as `cutover skip` would.
    screen.press('s');
    await screen.waitFor('Skip · prep.lower-ttl');
    await screen.waitFor('As Ana Ruiz · Enter send');
    await screen.waitFor('Reason:');
    screen.type('TTL lowered by hand in the provider console');
    screen.press(ENTER);

    frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    expect(lineWith(frame, 'prep.lower-ttl')).toMatch(/^  ↷ prep\.lower-ttl .* skipped by Ana Ruiz:/);
    expect(lineWith(frame, 'prep.advance-notice')).toMatch(/^  ✓ prep\.advance-notice /);
    expect(lineWith(frame, 'prep.staging-rehearsal')).toMatch(/^▸ … prep\.staging-rehearsal .* needs 1 of 3/);
    expect(lineWith(frame, 'prep.critical-workflows')).toMatch(/^  · prep\.critical-workflows /);
    screen.unmount();
    runner.close();
  });

  it('fits 80×24: a loud badge, T0 in the plan zone and the local zone, the next gate and the point of no return', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    const frame = await screen.waitFor('Sign-off · prep.staging-rehearsal');
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThan(ROWS);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(COLUMNS);
    expect(frame).toMatchInlineSnapshot(`
      " PRODUCTION  FreshTrack Pro: Supabase to self-hosted PostgreSQL
      T0 Sat Dec 05 22:00 EST · local Sun Dec 06 04:00 GMT+1 · now Dec 03 22:00 EST
      next: final opens in 24h 00m │ point of no return ahead · abort possible
      ── Timeline ────────────────── planned ──── actual ─────── by ──── 4–10 of 51 ──
        ✓ prep.lower-ttl             Dec 03 22:00 22:00
        ✓ prep.advance-notice        Dec 03 22:00 22:00
      ▸ … prep.staging-rehearsal     Dec 03 22:00                needs 1 of 3
        · prep.critical-workflows    Dec 03 22:00
       Final verification (final) · opens Dec 04 22:00 EST
        · final.health               Dec 04 22:00
        · final.export-dry-run       Dec 04 22:00
      ── Sign-off · prep.staging-rehearsal ────────────────────────── quorum 1 of 3 ──
      Staging rehearsal passed: A full migration was rehearsed on staging and its ver…
      No sign-offs yet · 1 needed
      Signing as Ana Ruiz · Enter to sign




      Dec 03 22:00:00  ✓ prep.lower-ttl 0ms: prep.lower-ttl ok
      Dec 03 22:00:00  ▶ prep.advance-notice
      Dec 03 22:00:00  ✓ prep.advance-notice 0ms: prep.advance-notice ok
      R abort · b rollback decision · PgUp/PgDn scroll · q quit"
    `);
    screen.unmount();
    runner.close();
  });

  it('a staging plan says STAGING', async () => {
    const run = uiRun({ plan: { environment: 'staging' } });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    const frame = await screen.waitFor('Sign-off');
    expect(frame.split('\n')[0]).toMatch(/^ STAGING  FreshTrack Pro/);
    expect(frame).not.toContain('PRODUCTION');
    screen.unmount();
    runner.close();
  });

  it('scrolls with PgDn while the current step stays on screen, and Home comes back', async () => {
    const run = uiRun();
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    await screen.waitFor('Sign-off · prep.staging-rehearsal');
    screen.press(PAGE_DOWN, PAGE_DOWN, PAGE_DOWN);
    const timeline = section(await screen.waitFor('deploy.smoke'), 'Timeline');
    expect(timeline).not.toContain('prep.advance-notice');
    // Pinned: scrolled far below it, the current step is still one of the timeline's rows.
    expect(timeline.split('\n')[0]).toMatch(/^▸ … prep\.staging-rehearsal/);
    screen.press(HOME);
    await screen.waitFor((frame) => section(frame, 'Timeline').includes('prep.advance-notice'), 'the timeline back at the current step');
    screen.unmount();
    runner.close();
  });
});
