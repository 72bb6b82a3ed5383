import { writeFile } from 'node:fs/promises';
import { isNoticeId, noticeIds, noticeTemplates, renderNotice, type NoticeExtra } from '../../../templates/index.js';
import { markStagingSubject } from '../../adapters/staging.js';
import type { Plan } from '../../config/schema.js';

/**
 * `cutover notify preview TEMPLATE [--html FILE]`: the notice exactly as recipients would get it
 * (subject with the staging marker when it applies, the plain-text part in full), and the HTML part
 * written to a file to open in a browser. Returns the text to print.
 */
export async function previewNotice(
  plan: Plan,
  templateId: string,
  options: { htmlFile?: string; extra?: NoticeExtra } = {},
): Promise<string> {
  if (!isNoticeId(templateId)) {
    throw new RangeError(`no notice template ${JSON.stringify(templateId)}; choose one of: ${noticeIds.join(', ')}`);
  }
  const notice = await renderNotice(templateId, plan, options.extra);
  const subject = plan.environment === 'staging' ? markStagingSubject(notice.subject) : notice.subject;
  const lines = [
    `Template: ${templateId} (sent ${noticeTemplates[templateId].when})`,
    `From:     ${plan.mail.from}`,
    `Subject:  ${subject}`,
  ];
  if (plan.environment === 'staging' && plan.mail.provider === 'resend') {
    lines.push(`Staging:  really sent only to the ${plan.mail.allowList.length} allow-listed addresses`);
  }
  if (options.htmlFile) {
    await writeFile(options.htmlFile, notice.html, { mode: 0o644 });
    lines.push(`HTML:     written to ${options.htmlFile} (${Buffer.byteLength(notice.html)} bytes)`);
  }
  lines.push('', notice.text);
  return lines.join('\n');
}
