import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { noticeIds, renderNotice } from '../../templates/index.js';
import { previewNotice } from '../../src/steps/external/preview.js';
import { planWith, tempDir } from './helpers/context.js';

const plan = planWith({});

describe('every notice renders for the example plan', () => {
  test.each(noticeIds)('%s: subject, HTML and plain text', async (id) => {
    const notice = await renderNotice(id, plan);

    expect(notice.subject).toContain('FreshTrack Pro');
    expect(notice.html).toMatch(/^<!DOCTYPE html/);
    expect(notice.text).not.toMatch(/<[a-z]/i);
    expect(notice.text).toContain('https://status.freshtrackpro.com');
    expect(notice.subject).toMatchSnapshot('subject');
    expect(notice.text).toMatchSnapshot('text');
    expect(notice.html).toMatchSnapshot('html');
  });

  test('the completion notice carries the reset steps in both parts', async () => {
    const notice = await renderNotice('maintenance-complete', plan);

    for (const part of [notice.html, notice.text]) {
      expect(part).toContain('https://app.freshtrackpro.com/reset-password');
      expect(part).toContain('Choose a new password');
      expect(part).toContain('spam');
    }
  });

  test('the rollback notice tells people not to reset their password; its abort variant says the window is called off', async () => {
    const rollback = await renderNotice('rollback-notice', plan);
    const cancelled = await renderNotice('rollback-notice', plan, { cancelled: true });

    expect(rollback.text).toContain('You do not need to reset your password.');
    expect(cancelled.subject).toBe('FreshTrack Pro maintenance on Saturday, December 5 is called off');
    expect(cancelled.text).toContain('The maintenance planned for Saturday, December 5, 2026 at 10:00 PM EST (UTC-05:00) will not go ahead.');
  });
});

describe('times across a DST change', () => {
  const windowLines = (text: string) => text.split('\n').filter((line) => /Starts:|Expected to end:|Expected duration:/.test(line));

  test('a window over the November fall-back starts in EDT and ends in EST', async () => {
    const notice = await renderNotice('advance-notice', planWith({ t0: { at: '2026-11-01T00:30', zone: 'America/New_York' } }));

    expect(windowLines(notice.text)).toMatchInlineSnapshot(`
      [
        " * Starts: Sunday, November 1, 2026 at 12:30 AM EDT (UTC-04:00)",
        " * Expected to end: Sunday, November 1, 2026 at 2:00 AM EST (UTC-05:00)",
        " * Expected duration: 2 hours 30 minutes (times shown in America/New_York)",
      ]
    `);
  });

  test('a window over the March spring-forward starts in EST and ends in EDT', async () => {
    const notice = await renderNotice('reminder-24h', planWith({ t0: { at: '2026-03-08T01:30', zone: 'America/New_York' } }));

    expect(windowLines(notice.text)).toMatchInlineSnapshot(`
      [
        " * Starts: Sunday, March 8, 2026 at 1:30 AM EST (UTC-05:00)",
        " * Expected to end: Sunday, March 8, 2026 at 5:00 AM EDT (UTC-04:00)",
        " * Expected duration: 2 hours 30 minutes (times shown in America/New_York)",
      ]
    `);
  });

  test('a repeated wall-clock time needs the offset chosen; the chosen one is what the notice says', async () => {
    await expect(renderNotice('maintenance-starting', planWith({ t0: { at: '2026-11-01T01:30', zone: 'America/New_York' } }))).rejects.toThrow(
      't0.offset: 2026-11-01T01:30 happens twice in America/New_York (the clocks fall back); add offset: "-04:00" (EDT) or "-05:00" (EST) to say which',
    );
    const second = await renderNotice('maintenance-starting', planWith({ t0: { at: '2026-11-01T01:30', zone: 'America/New_York', offset: '-05:00' } }));
    expect(second.text).toContain('back by Sunday, November 1, 2026 at 4:00 AM EST (UTC-05:00)');
  });

  test('a wall-clock time the clocks skip is refused, not shifted', async () => {
    await expect(renderNotice('advance-notice', planWith({ t0: { at: '2026-03-08T02:30', zone: 'America/New_York' } }))).rejects.toThrow(
      'does not exist in America/New_York',
    );
  });
});

describe('notify preview', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('preview');
  });
  afterAll(async () => {
    await dir.remove();
  });

  test('prints the header and the plain-text part, and writes the HTML part to the file asked for', async () => {
    const htmlFile = join(dir.path, 'notice.html');
    const text = await previewNotice(planWith({ environment: 'staging' }), 'maintenance-starting', { htmlFile });

    expect(text.split('\n').slice(0, 4).join('\n').replace(/\(\d+ bytes\)/, '(N bytes)')).toBe(
      [
        'Template: maintenance-starting (sent when the window starts)',
        'From:     FreshTrack Pro <notices@freshtrackpro.com>',
        'Subject:  [STAGING] FreshTrack Pro maintenance has started',
        'Staging:  really sent only to the 0 allow-listed addresses',
      ].join('\n'),
    );
    expect(text).toContain('we will email you as soon as FreshTrack Pro is back');
    expect(await readFile(htmlFile, 'utf8')).toMatch(/^<!DOCTYPE html/);
  });

  test('an unknown template names the ones there are', async () => {
    await expect(previewNotice(plan, 'welcome')).rejects.toThrow(
      'no notice template "welcome"; choose one of: advance-notice, reminder-24h, maintenance-starting, maintenance-complete, rollback-notice, survey',
    );
  });
});
