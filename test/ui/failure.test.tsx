import { afterEach, describe, expect, it } from 'vitest';
import { cleanupDirs, uiRun } from './fixture.js';
import { COLUMNS, ROWS } from './terminal.js';

afterEach(cleanupDirs);

/**
 * Five findings as prep.preflight reports them: one error, the findings joined by "; ", two of them
 * the long "not set" explanations the real check gives.
 */
const notSet = (variable: string, what: string) =>
  `${what}: ${variable} is not set: set it to the ${what}'s connection string (postgres://user:password@host:5432/db?sslmode=verify-full; a direct or session-pooler URL, not a transaction pooler) before running this step. The plan names the variable, never the value.`;
const FINDINGS = [
  notSet('SOURCE_DATABASE_URL', 'source database'),
  notSet('TARGET_DATABASE_URL', 'target database'),
  'old system: https://api.freshtrackpro.com/health: request failed: ENOTFOUND',
  'Supabase auth: SUPABASE_SERVICE_ROLE_KEY is not set',
  'mail: the outbox folder outbox is not writable (EACCES)',
];

/** The frame's text with the wrapping undone: every run of white space, line breaks included, as one space. */
const unwrapped = (frame: string) => frame.replace(/\s+/g, ' ');

describe('a failure in the terminal UI', () => {
  it('is shown whole: all five findings of a failed preflight are in the 80×24 frame, with retry and skip', async () => {
    const run = uiRun({
      actions: {
        'prep.preflight': {
          dryRun: () => 'reach every system the plan names',
          run: async () => {
            throw Object.assign(new Error(FINDINGS.join('; ')), { retryable: false });
          },
        },
      },
    });
    const { runner, feed } = run.open();
    const screen = run.show(runner, feed);
    const frame = await screen.waitFor('── ✗ prep.preflight');
    const text = unwrapped(frame);
    for (const finding of FINDINGS) expect(text).toContain(finding);
    expect(text).toContain(`Failed: ${FINDINGS.join('; ')} r retry`);
    expect(frame).toContain('r retry (cutover retry prep.preflight) · s skip with a reason');
    // Still the fixed frame: the other panes gave way, nothing wider or taller than the terminal.
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(ROWS);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(COLUMNS);
    expect(frame).toContain('T0 '); // the header stays
    screen.unmount();
    runner.close();
  });
});
