import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderNotice, type NoticeExtra, type NoticeId, noticeTemplates } from '../../../templates/index.js';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { markStagingSubject } from '../../adapters/staging.js';
import type { OutgoingMessage } from '../../adapters/types.js';
import type { StepAction, StepContext } from '../types.js';
import { loadAudience, type Audience } from './audience.js';
import { plural } from '../../engine/words.js';

/**
 * The notice steps. Sending is at-least-once made exactly-once per recipient:
 * - the audience is frozen at the first attempt (sorted, de-duplicated) and saved with the run's
 *   state, so a resumed run cuts the same batches even if users signed up in between;
 * - each batch has the idempotency key `${runId}:${template}:${batchIndex}`;
 * - each batch the provider accepted is recorded (progress file + journal note) and skipped on resume;
 * - a batch in flight when the process died is sent again under the same key, and the provider
 *   (Resend for 24 hours, the outbox by folder) answers it without delivering twice.
 */

export const BATCH_SIZE = 100;

interface SentBatch {
  index: number;
  key: string;
  accepted: number;
  dropped: number;
  at: string;
}

/** Saved under the state folder, owner-only: it holds the frozen recipient list. */
interface MailProgress {
  runId: string;
  template: NoticeId;
  source: string;
  recipients: string[];
  invalid: string[];
  duplicates: number;
  sent: SentBatch[];
}

export interface EmailStepOutput {
  template: NoticeId;
  subject: string;
  provider: string;
  audience: string;
  recipients: number;
  batches: number;
  /** Batches sent by this attempt, and those found already sent by an earlier one. */
  sentNow: number;
  alreadySent: number;
  /** Staging: recipients not on the allow-list, not sent to. */
  dropped: number;
  duplicates: number;
  invalid: number;
  /** The first invalid entries, masked. */
  invalidSample: string[];
}

export function batchKey(runId: string, template: string, batchIndex: number): string {
  return `${runId}:${template}:${batchIndex}`;
}

function progressPath(ctx: StepContext, template: NoticeId): string {
  return join(ctx.stateDir, 'external', 'mail', `${template}.json`);
}

async function readProgress(ctx: StepContext, template: NoticeId): Promise<MailProgress | undefined> {
  try {
    const progress = JSON.parse(await readFile(progressPath(ctx, template), 'utf8')) as MailProgress;
    return progress.runId === ctx.runId ? progress : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function saveProgress(ctx: StepContext, progress: MailProgress): Promise<void> {
  await writeFileAtomic(progressPath(ctx, progress.template), `${JSON.stringify(progress)}\n`, { mode: 0o600, dirMode: 0o700 });
}

function chunk<T>(items: T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let index = 0; index < items.length; index += size) batches.push(items.slice(index, index + size));
  return batches;
}

function describeAudience(audience: Pick<Audience, 'invalid' | 'duplicates'>): string {
  const parts: string[] = [];
  if (audience.duplicates) parts.push(`${audience.duplicates} duplicate${audience.duplicates === 1 ? '' : 's'} merged`);
  if (audience.invalid.length) {
    const sample = audience.invalid.slice(0, 5).join(', ');
    parts.push(`${audience.invalid.length} invalid address${audience.invalid.length === 1 ? '' : 'es'} skipped (${sample}${audience.invalid.length > 5 ? ', …' : ''})`);
  }
  return parts.length ? `; ${parts.join('; ')}` : '';
}

async function freezeAudience(ctx: StepContext, template: NoticeId): Promise<MailProgress> {
  const existing = await readProgress(ctx, template);
  if (existing) return existing;
  const audience = await loadAudience(ctx);
  const progress: MailProgress = {
    runId: ctx.runId,
    template,
    source: audience.source,
    recipients: audience.recipients,
    invalid: audience.invalid,
    duplicates: audience.duplicates,
    sent: [],
  };
  await saveProgress(ctx, progress);
  if (audience.invalid.length || audience.duplicates) {
    // Masked addresses only: the journal is not a place for personal data.
    ctx.note(`${template}: audience from ${audience.source}${describeAudience(audience)}`, {
      invalid: audience.invalid.slice(0, 20),
      duplicates: audience.duplicates,
    });
  }
  return progress;
}

export function emailStep(template: NoticeId, extraFor: (ctx: StepContext) => NoticeExtra = () => ({})): StepAction {
  return {
    async run(ctx) {
      const progress = await freezeAudience(ctx, template);
      const notice = await renderNotice(template, ctx.plan, extraFor(ctx));
      const mail = ctx.adapters.mail();
      const batches = chunk(progress.recipients, BATCH_SIZE);
      const alreadySent = new Set(progress.sent.map((batch) => batch.index));
      let sentNow = 0;
      for (const [index, recipients] of batches.entries()) {
        if (alreadySent.has(index)) continue;
        ctx.signal.throwIfAborted();
        const key = batchKey(ctx.runId, template, index);
        const messages: OutgoingMessage[] = recipients.map((to) => ({ to, subject: notice.subject, html: notice.html, text: notice.text }));
        const result = await mail.sendBatch(messages, { idempotencyKey: key });
        const sent: SentBatch = { index, key, accepted: result.ids.length, dropped: result.dropped ?? 0, at: new Date(ctx.clock.now()).toISOString() };
        progress.sent.push(sent);
        await saveProgress(ctx, progress);
        sentNow += 1;
        ctx.note(`${template}: batch ${index + 1} of ${batches.length} sent`, { ...sent });
        ctx.progress({ label: template, done: progress.sent.length, total: batches.length, unit: 'batches' });
      }
      const dropped = progress.sent.reduce((sum, batch) => sum + batch.dropped, 0);
      const output: EmailStepOutput = {
        template,
        subject: notice.subject,
        provider: mail.kind,
        audience: progress.source,
        recipients: progress.recipients.length,
        batches: batches.length,
        sentNow,
        alreadySent: alreadySent.size,
        dropped,
        duplicates: progress.duplicates,
        invalid: progress.invalid.length,
        invalidSample: progress.invalid.slice(0, 20),
      };
      const resumed = alreadySent.size ? ` (${plural(alreadySent.size, 'batch', 'batches')} already sent before a restart)` : '';
      const staged = dropped ? `; staging: ${plural(dropped, 'recipient')} not on the allow-list ${dropped === 1 ? 'was' : 'were'} not sent to` : '';
      return {
        summary: `${template} sent to ${plural(progress.recipients.length - dropped, 'recipient')} in ${plural(batches.length, 'batch', 'batches')} via ${mail.kind}${resumed}${staged}${describeAudience(progress)}`,
        output,
      };
    },
    async dryRun(ctx) {
      const notice = await renderNotice(template, ctx.plan, extraFor(ctx));
      const subject = ctx.plan.environment === 'staging' ? markStagingSubject(notice.subject) : notice.subject;
      const staging =
        ctx.plan.environment === 'staging' && ctx.plan.mail.provider === 'resend'
          ? `\nStaging: only ${ctx.plan.mail.allowList.length} allow-listed addresses really receive it.`
          : '';
      const head = `Send "${subject}" (${template}, ${noticeTemplates[template].when}) via ${ctx.plan.mail.provider}`;
      try {
        const frozen = await readProgress(ctx, template);
        const audience = frozen ?? (await loadAudience(ctx));
        const batches = Math.ceil(audience.recipients.length / BATCH_SIZE);
        const done = frozen ? `, ${frozen.sent.length} already sent` : '';
        return `${head} to ${plural(audience.recipients.length, 'recipient')} from ${audience.source} in ${plural(batches, 'batch', 'batches')} of up to ${BATCH_SIZE}${done}${describeAudience(audience)}.${staging}`;
      } catch (error) {
        return `${head}; recipients not counted: ${(error as Error).message}.${staging}`;
      }
    },
  };
}
