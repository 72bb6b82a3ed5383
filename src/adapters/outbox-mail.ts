import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir, writeFileSynced } from './atomic-write.js';
import { markStagingSubject } from './staging.js';
import type { MailProvider, OutgoingMessage, SendBatchResult } from './types.js';

/**
 * The `outbox` mail provider: every message becomes a file instead of an email, for rehearsals and
 * tests. Layout: `<dir>/<idempotency key>/<index>.json`.
 *
 * JSON rather than .eml: the rehearsal report and tests read the messages back (recipient, subject,
 * both parts) without a MIME parser, and the HTML part can be opened by `cutover notify preview --html`.
 * Nothing here is ever handed to a mail client, which is what .eml would be for.
 *
 * A batch is written into a temp folder and renamed into place, so the key's folder exists only when
 * the whole batch is there; a batch whose folder exists is never written again (the idempotency key).
 * Folders are 0700 and files 0600: they hold people's addresses.
 */

export interface OutboxMessage extends OutgoingMessage {
  from: string;
  idempotencyKey: string;
  index: number;
}

export interface OutboxOptions {
  /** Absolute path of the outbox folder. */
  dir: string;
  /** The plan's sender, recorded in each message as Resend would send it. */
  from: string;
  /** Staging plans mark subjects as real providers do (nothing is delivered, so nobody is dropped). */
  staging?: boolean;
}

const MAX_BATCH = 100;

/** Idempotency keys hold `:`; the folder name must be one safe path segment that decodes back. */
function folderName(key: string): string {
  return encodeURIComponent(key).replace(/\./g, '%2E');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function idsFor(key: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `outbox:${key}/${index}`);
}

export class OutboxMailProvider implements MailProvider {
  readonly kind = 'outbox';

  constructor(private readonly options: OutboxOptions) {}

  async sendBatch(messages: OutgoingMessage[], { idempotencyKey }: { idempotencyKey: string }): Promise<SendBatchResult> {
    if (messages.length > MAX_BATCH) throw new RangeError(`a batch holds at most ${MAX_BATCH} messages, got ${messages.length}`);
    if (!idempotencyKey) throw new RangeError('an idempotency key is required');
    const { dir } = this.options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    await removeDeadTemps(dir);

    const folder = join(dir, folderName(idempotencyKey));
    if (await exists(folder)) {
      const written = (await readdir(folder)).filter((name) => name.endsWith('.json')).length;
      return { ids: idsFor(idempotencyKey, written) };
    }

    const temp = join(dir, `.tmp-${folderName(idempotencyKey)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(temp, { mode: 0o700 });
    try {
      for (const [index, message] of messages.entries()) {
        const file: OutboxMessage = {
          idempotencyKey,
          index,
          from: this.options.from,
          to: message.to,
          subject: this.options.staging ? markStagingSubject(message.subject) : message.subject,
          html: message.html,
          text: message.text,
        };
        await writeFileSynced(join(temp, `${index}.json`), `${JSON.stringify(file, null, 2)}\n`, 0o600);
      }
      await syncDir(temp);
      await rename(temp, folder);
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      // Another writer finished the same key first (rename onto a non-empty folder fails): that is the batch.
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(folder))) {
        return { ids: idsFor(idempotencyKey, messages.length) };
      }
      throw error;
    }
    await syncDir(dir);
    return { ids: idsFor(idempotencyKey, messages.length) };
  }
}

/**
 * Temp folders of a writer that was killed mid-batch: they hold recipient addresses, so they go as
 * soon as the next batch is written. A live writer's (another pid still running) is left alone.
 */
async function removeDeadTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const match = /^\.tmp-.*-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every message in an outbox, by key then index (rehearsal report, tests). Temp folders of a crashed write are skipped. */
export async function readOutbox(dir: string): Promise<OutboxMessage[]> {
  if (!(await exists(dir))) return [];
  const messages: OutboxMessage[] = [];
  const folders = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'));
  for (const folder of folders.map((entry) => entry.name).sort()) {
    const files = (await readdir(join(dir, folder))).filter((name) => /^\d+\.json$/.test(name));
    files.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    for (const file of files) {
      messages.push(JSON.parse(await readFile(join(dir, folder, file), 'utf8')) as OutboxMessage);
    }
  }
  return messages;
}
