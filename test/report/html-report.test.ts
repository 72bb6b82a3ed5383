import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runbook } from '../../machines/runbook.js';
import { cli } from '../support/cli.js';
import { writeLocalPlan } from '../support/local-plan.js';
import { loadPlan } from '../../src/config/load.js';
import { peekRun } from '../../src/engine/peek.js';
import { renderHtmlReport } from '../../src/engine/report-html.js';
import { buildView } from '../../src/engine/view.js';
import type { JournalEntry } from '../../src/engine/journal.js';

/**
 * The HTML report opened in a real headless browser (Debian's Chromium, driven by playwright-core):
 * one bar per step, slips marked, sign-offs with who and when, no console errors, nothing fetched
 * from anywhere. REPORT_SCREENSHOT=FILE keeps a screenshot (docs/report.png is one, taken from a
 * `cutover rehearse --rows 20000 --with-rollback --inject-drift 6` report the same way).
 */

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string => Boolean(path && existsSync(path)));
const dir = mkdtempSync(join(tmpdir(), 'cutover-html-'));
const planFile = join(dir, 'cutover.config.ts');
const html = join(dir, 'report.html');
const T0 = Date.parse('2026-12-06T03:00:00Z'); // 2026-12-05 22:00 in New York
// Two hours late into the preparation phase: its first steps start late and must show as slipped.
const late = { CUTOVER_CLOCK: `manual:${new Date(T0 - 46 * 3_600_000).toISOString()}` };
/** `as`: the OS account the command runs as (the example plan's Ana Ruiz is the account ana). */
const cutover = (args: string[], as?: string) => cli(['--config', planFile, ...args], late, as);
let browser: Browser | undefined;

beforeAll(async () => {
  writeLocalPlan(dir);
  expect((await cutover(['run', '--non-interactive'])).code).toBe(1); // preflight: no databases here
  expect((await cutover(['skip', 'prep.preflight', '--by', 'Ana Ruiz', '--reason', 'databases checked by hand'], 'ana')).code).toBe(0);
  expect((await cutover(['run', '--non-interactive'])).code).toBe(3);
  expect((await cutover(['signoff', 'prep.staging-rehearsal', '--by', 'Ben Okafor', '--note', 'staging run 14 <passed>'], 'ben')).code).toBe(0);
  expect((await cutover(['signoff', 'prep.critical-workflows', '--by', 'Chen Wei'], 'chen')).code).toBe(0);
  expect((await cutover(['run', '--non-interactive'])).code).toBe(3);
  const written = await cutover(['report', '--html', html]);
  expect(written.code).toBe(0);
  expect(written.stdout).toContain(`Wrote ${html}`);
  if (CHROMIUM) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('cutover report --html', () => {
  it('is one self-contained file: no script, stylesheet, image or font from anywhere', () => {
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(text).not.toMatch(/(src|href)="https?:/);
    // Text from people is escaped, not markup.
    expect(text).toContain('staging run 14 &lt;passed&gt;');
  });

  it.skipIf(!CHROMIUM)(`renders in headless Chromium: one bar per step, the slip marked, who signed and when, no console error${CHROMIUM ? '' : ' (SKIPPED: no Chromium found at /usr/bin/chromium; apt-get install -y chromium or set CHROMIUM_PATH)'}`, async () => {
    const page = await browser!.newPage({ viewport: { width: 1060, height: 900 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) problems.push(`fetched ${request.url()}`);
    });
    await page.goto(pathToFileURL(html).href);

    // Every step of every main phase has a row, and each row exactly one planned bar.
    const mainSteps = runbook.filter((phase) => !phase.branch).flatMap((phase) => phase.steps.map((step) => step.id));
    const rows = await page.$$eval('g.step', (groups) => groups.map((g) => ({ id: g.getAttribute('data-step'), planned: g.querySelectorAll('rect.planned').length, actual: g.querySelectorAll('rect.actual').length, slipped: g.classList.contains('slipped') })));
    expect(rows.map((row) => row.id)).toEqual(mainSteps);
    expect(rows.every((row) => row.planned === 1)).toBe(true);
    // What has happened has its actual bar, and nothing else has one.
    const happened = ['prep.preflight', 'prep.replicate', 'prep.lower-ttl', 'prep.advance-notice', 'prep.staging-rehearsal', 'prep.critical-workflows'];
    expect(rows.filter((row) => row.actual === 1).map((row) => row.id)).toEqual(happened);

    // Two hours late: the preparation's actions are marked as slipped, with the delay written out.
    expect(rows.filter((row) => row.slipped).map((row) => row.id)).toEqual(['prep.preflight', 'prep.replicate', 'prep.lower-ttl', 'prep.advance-notice']);
    expect(await page.locator('g.step[data-step="prep.preflight"] .slip-text').textContent()).toBe('+2.0 h late');
    expect(await page.locator('g.step[data-step="prep.preflight"] .slip-mark').count()).toBe(1);

    // Gates: a diamond per sign-off, with who and when; the table lists them in the plan's zone.
    const gates = await page.$$eval('path.gate > title', (titles) => titles.map((t) => t.textContent));
    expect(gates).toEqual([expect.stringMatching(/^signed by Ben Okafor at Dec 04 00:00:00 -05:00: staging run 14 <passed>$/), expect.stringMatching(/^signed by Chen Wei at Dec 04 00:00:00 -05:00$/)]);
    const table = await page.locator('table').first().innerText();
    expect(table).toContain('Ana Ruiz');
    expect(table).toContain('skipped');

    // The sections people look for are there, saying plainly what is not known yet.
    const body = await page.locator('body').innerText();
    expect(body).toContain('Freeze window against the forecast');
    expect(body).toContain('No reconciliation yet');
    expect(body).toContain('No decision yet');
    // Even the engine's headline reads in the plan's zone: no bare UTC time on the page.
    expect(body).toContain('Now: Waiting until Dec 04 22:00:00 -05:00');
    expect(body).not.toMatch(/\d{2}:\d{2}(:\d{2})?Z\b/);
    expect(problems).toEqual([]);
    if (process.env.REPORT_SCREENSHOT) await page.screenshot({ path: process.env.REPORT_SCREENSHOT, fullPage: true });
    await page.close();
  });

  it.skipIf(!CHROMIUM)('shows the week of reconciliations as a trend with the drift marked, and each decision with its evidence', async () => {
    // The run above has not reached the watch week: the lines the runner writes then are appended
    // to its journal as they would be (the renderer reads nothing else).
    const { plan } = await loadPlan(planFile);
    const { snapshot, journal } = peekRun(join(dir, '.cutover'), plan);
    let seq = journal.lastSeq;
    const at = (hours: number) => new Date(T0 + hours * 3_600_000).toISOString();
    const reconcile = (occurrence: number, missing: number): JournalEntry => ({
      seq: ++seq,
      at: at(24 + 6 * occurrence),
      type: 'step.finished',
      stepId: 'watch.reconcile',
      occurrence,
      summary: missing ? `Reconciled 10 tables: ${missing} missing, 0 changed, 0 extra rows in 1 buckets; 0 ingestion gaps` : 'Reconciled 10 tables, 900 buckets: clean',
      ...(missing ? { attention: `Reconciliation: data loss: ${missing} source rows missing from the target` } : {}),
      result: { output: { totals: { missingRows: missing, changedRows: 0, extraRows: 0, gaps: 0 } } },
    });
    const decision: JournalEntry = {
      seq: ++seq,
      at: at(24),
      type: 'step.finished',
      stepId: 'review.decision',
      summary: 'ROLLBACK: roll back now: critical data loss',
      result: { output: { verdict: 'rollback', summary: 'roll back now: critical data loss', path: [{ question: 'Is any source row missing from the target?', answer: 'yes', evidence: '6 source rows missing from the target (reconciliation at 2026-12-07T09:00:00Z)' }], missing: [] } },
    };
    const entries = [...journal.entries, decision, reconcile(1, 0), reconcile(2, 6), reconcile(3, 0)];
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('console', (message) => problems.push(message.text()));
    await page.setContent(renderHtmlReport({ plan, view: buildView(snapshot, T0, plan.t0.zone), journal: entries, outputs: {} }));
    expect(await page.locator('svg.trend circle.clean').count()).toBe(2);
    expect(await page.locator('svg.trend circle.drift').count()).toBe(1);
    expect(await page.locator('svg.trend circle.drift > title').textContent()).toMatch(/^watch\.reconcile #2 Dec 07 10:00:00 -05:00: Reconciled 10 tables: 6 missing/);
    const body = await page.locator('body').innerText();
    expect(body).toContain('3 reconciliations: 2 clean, 1 with rows missing, changed or extra');
    expect(body).toMatch(/ROLLBACK\s+review\.decision at Dec 06 22:00:00 -05:00: roll back now: critical data loss/);
    expect(body).toContain('Is any source row missing from the target? yes 6 source rows missing from the target');
    expect(problems).toEqual([]);
    await page.close();
  });
});
