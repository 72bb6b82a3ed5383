import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runbook } from '../../machines/runbook.js';
import { cli } from '../support/cli.js';
import { voiceDefects } from '../support/voice.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-rehearse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The embedded default, end to end: two real PostgreSQL servers, the whole timeline, the report. */
describe('cutover rehearse', () => {
  it('runs T-48h to T+7d on embedded PostgreSQL and reports every data-path step with real row counts', async () => {
    const report = join(dir, 'plain.md');
    const result = await cli(['rehearse', '--rows', '20000', '--speed', '500000', '--report', report], { ...process.env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/✓ migrate\.verify .*Source and target identical: 10 tables/);
    // Issue 14, must-show 4: every printed line in one voice (times with their zone, no doubled words,
    // no "1 <plural>", no placeholders).
    expect(voiceDefects(result.stdout)).toEqual([]);
    // Issue 14: the closing summary on screen — what was done, where it ended, nothing left to do.
    const summary = result.stdout.slice(result.stdout.indexOf('── Summary ──')).split('\n');
    // Every step of the main line done (38 today), the recurring checks counted by their runs.
    const mainLine = runbook.filter((phase) => !phase.branch).flatMap((phase) => phase.steps);
    expect(summary[1]).toMatch(new RegExp(`^The rehearsal: ${mainLine.filter((step) => step.kind !== 'recurring').length} steps done, [3-9]\\d recurring check runs, 0 failed, 0 skipped, \\d+ sign-offs recorded\\.$`));
    expect(summary).toContain('Where it stands: The cutover is complete.');
    expect(summary).toContain('Next: nothing: the cutover is complete');
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('- Outcome: The cutover is complete.');
    expect(text).toContain('- Failed steps: none');
    expect(text).toContain('- Not yet available in this version (skipped): none');
    for (const step of ['freeze.enable', 'freeze.verify-no-writes', 'freeze.snapshot', 'export.tables', 'export.verify', 'migrate.load', 'migrate.verify']) {
      expect(text).toMatch(new RegExp(`\\| \`${step.replace('.', '\\.')}\` \\| done \\|`));
    }
    expect(text).toMatch(/\| `export\.tables` \| done \| [\d.]+ s \| 20,3\d\d \| [\d,]+ \|/);
    expect(text).toMatch(/\| `migrate\.load` \| done \| [\d.]+ s \| 20,3\d\d \| [\d,]+ \|/);
    expect(text).toContain('- public.temperature_readings: 20,000');
    expect(text).toMatch(/- Forecast at T-24h \(`final\.export-dry-run`\): Exported [\d,]+ rows/);
    expect(text).toMatch(/- Measured: [\d.]+ s from `freeze\.enable` to `validate\.complete-notice`/);
    // Notices in the outbox, addresses masked; DNS switched and restored in the local zone.
    for (const template of ['advance-notice', 'reminder-24h', 'maintenance-starting', 'maintenance-complete', 'survey']) {
      expect(text).toMatch(new RegExp(`\\| \`[\\w-]+:${template}:0\` \\| 12 \\| \\[STAGING\\] `));
    }
    expect(text).not.toMatch(/[a-z0-9.]+@org1\.example\.com/);
    expect(text).toMatch(/A api\.freshtrackpro\.com: 203\.0\.113\.11 \(TTL 300\) → 198\.51\.100\.20 \(TTL 300\)/);
    expect(text).toMatch(/`watch\.reconcile`: 24 of 24 runs; last: Reconciled 10 tables, [\d,]+ buckets: clean/);
    expect(text).toMatch(/`hypercare\.check`: 8 of 8 runs/);
    // The team was told through the local stand-in: every phase, every gate, once each.
    expect(text).toContain('| team-chat | phase.opened | Phase prep opened: Preparation | sent |');
    expect(text).toContain('| audit-hook | gate.waiting | window.go waits for a sign-off | sent |');
    expect(text).toMatch(/Received by the stand-in: team-chat (\d+) of \1 sent, audit-hook (\d+) of \2 sent\./);
    // The HTML report is written beside the Markdown one.
    const html = readFileSync(join(dir, 'plain.html'), 'utf8');
    expect(html).toContain('<h2>Timeline: planned against actual</h2>');
    expect(html).toMatch(/24 reconciliations: 24 clean/);
  });

  it('--with-rollback --inject-drift 10: the first reconciliation, with the first hypercare check, names every deleted row; the verdict with its evidence, every rollback step, zero readings lost', async () => {
    const report = join(dir, 'rollback.md');
    const result = await cli(['rehearse', '--rows', '20000', '--speed', '500000', '--with-rollback', '--inject-drift', '10', '--report', report], { ...process.env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const text = readFileSync(report, 'utf8');
    expect(voiceDefects(result.stdout)).toEqual([]);
    expect(text).toContain('- Outcome: The rollback is complete: the old system is live again.');
    const deleted = [...text.matchAll(/^- id (\d+) \(sensor [0-9a-f-]+, [^)]+\): (.+)$/gm)];
    expect(deleted).toHaveLength(10);
    // Issue 10, item 4: named by the first reconciliation after the switch, within the first hypercare hour
    // (it used to be the first-day review, a day later). Times as people read them (issue 14): "Dec 06 04:12:00 -05:00".
    for (const [, , named] of deleted) {
      expect(named).toMatch(/^named by the reconciliation: `hypercare\.check` run 1 at [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2} \((\d+) min after the switch\)$/);
      expect(Number(/\((\d+) min after/.exec(named!)![1])).toBeLessThan(60);
    }
    expect(text).toMatch(/First caught by `hypercare\.check` run 1 at [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2} \(\d+ min after the switch\): .*10 source rows missing/);
    expect(text).toContain('Decision tree verdict: **ROLLBACK**');
    expect(text).toMatch(/^- .*\*\*yes\*\* — 10 source rows missing from the target/m);
    for (const step of ['rollback.decide', 'rollback.freeze-target', 'rollback.export-delta', 'rollback.dns-revert', 'rollback.unfreeze-source', 'rollback.reimport', 'rollback.notice']) {
      expect(text).toMatch(new RegExp(`^- \`${step.replace('.', '\\.')}\`: done`, 'm'));
    }
    const [, atEnd, atFreeze, written] = /Readings in the source after the rollback: ([\d,]+) = ([\d,]+) at the freeze \+ ([\d,]+) written to the target after the switch: \*\*zero readings lost\*\*/.exec(text)!;
    const count = (value: string | undefined) => Number(value!.replaceAll(',', ''));
    expect(count(atFreeze)).toBe(20_000);
    expect(count(written)).toBeGreaterThan(1000);
    expect(count(atEnd)).toBe(count(atFreeze) + count(written));
    expect(text).toContain('| team-chat | decision.verdict | Decision: ROLLBACK | sent |');
    expect(text).toContain('| team-chat | rollback.started | Rollback started | sent |');
    expect(text).toContain('| audit-hook | rollback.finished | Rollback finished: the old system is live again | sent |');
    expect(text).not.toContain('MISMATCH');
  });
});
