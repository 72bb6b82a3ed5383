import { render } from '@react-email/render';
import { createElement } from 'react';
import type { Plan } from '../src/config/schema.js';
import { advanceNotice } from './advance-notice.js';
import type { NoticeExtra, NoticeId, NoticeTemplate, NoticeVariables } from './layout.js';
import { maintenanceComplete } from './maintenance-complete.js';
import { maintenanceStarting } from './maintenance-starting.js';
import { reminder24h } from './reminder-24h.js';
import { rollbackNotice } from './rollback-notice.js';
import { survey } from './survey.js';
import { describeDuration, formatInstant, maintenanceWindow } from './window.js';

export type { NoticeExtra, NoticeId, NoticeTemplate, NoticeVariables } from './layout.js';
export { maintenanceWindow } from './window.js';

/** The six user notices by id (DESIGN §4); the runbook's email steps name them. */
export const noticeTemplates: Readonly<Record<NoticeId, NoticeTemplate>> = {
  'advance-notice': advanceNotice,
  'reminder-24h': reminder24h,
  'maintenance-starting': maintenanceStarting,
  'maintenance-complete': maintenanceComplete,
  'rollback-notice': rollbackNotice,
  survey,
};

export const noticeIds = Object.keys(noticeTemplates) as NoticeId[];

export function isNoticeId(id: string): id is NoticeId {
  return Object.hasOwn(noticeTemplates, id);
}

export type NoticePlan = Pick<Plan, 'product' | 't0' | 'windowDuration'>;

/** Everything the templates print, computed once from the plan. */
export function noticeVariables(plan: NoticePlan): NoticeVariables {
  const { start, end } = maintenanceWindow(plan);
  return {
    productName: plan.product.name,
    windowStart: formatInstant(start),
    windowEnd: formatInstant(end),
    windowDate: start.setLocale('en-US').toFormat('cccc, LLLL d'),
    windowDuration: describeDuration(end.diff(start).toMillis()),
    timeZone: plan.t0.zone,
    statusPageUrl: plan.product.statusPageUrl,
    supportContact: plan.product.supportContact,
    resetUrl: plan.product.passwordResetUrl,
  };
}

export interface RenderedNotice {
  subject: string;
  html: string;
  text: string;
}

/**
 * Both parts rendered here: the Resend SDK's `react` field would send HTML only, and a notice about a
 * password reset must be readable in a text-only client.
 */
export async function renderNotice(id: NoticeId | string, plan: NoticePlan, extra: NoticeExtra = {}): Promise<RenderedNotice> {
  if (!isNoticeId(id)) throw new RangeError(`no notice template ${JSON.stringify(id)}; the templates are ${noticeIds.join(', ')}`);
  const template = noticeTemplates[id];
  const v = noticeVariables(plan);
  const element = createElement(template.Component, { v, extra });
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { subject: template.subject(v, extra), html, text };
}
