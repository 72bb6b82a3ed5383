import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runbook } from '../../machines/runbook.js';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import type { PlanInput } from '../../src/config/schema.js';
import { cli } from '../support/cli.js';

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
const cutover = (args: string[]) => cli(['--config', planFile, ...args], late);
let browser: Browser | undefined;

beforeAll(async () => {
  const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
  writeFileSync(join(dir, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records: records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })), changes: [] }));
  writeFileSync(join(dir, 'audience.txt'), 'ana@example.com\nben@example.com\n');
  writeFileSync(
    planFile,
    renderPlanFile({
      ...examplePlan,
      dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records },
      mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: 'audience.txt' } },
    }),
  );
  expect((await cutover(['run', '--non-interactive'])).code).toBe(1); // preflight: no databases here
  expect((await cutover(['skip', 'prep.preflight', '--by', 'Ana Ruiz', '--reason', 'databases checked by hand'])).code).toBe(0);
  expect((await cutover(['run', '--non-interactive'])).code).toBe(3);
  expect((await cutover(['signoff', 'prep.staging-rehearsal', '--by', 'Ben Okafor', '--note', 'staging run 14 <passed>'])).code).toBe(0);
  expect((await cutover(['signoff', 'prep.critical-workflows', '--by', 'Chen Wei'])).code).toBe(0);
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
    const happened = ['prep.preflight', 'prep.lower-ttl', 'prep.advance-notice', 'prep.staging-rehearsal', 'prep.critical-workflows'];
    expect(rows.filter((row) => row.actual === 1).map((row) => row.id)).toEqual(happened);

    // Two hours late: the preparation's actions are marked as slipped, with the delay written out.
    expect(rows.filter((row) => row.slipped).map((row) => row.id)).toEqual(['prep.preflight', 'prep.lower-ttl', 'prep.advance-notice']);
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
});
