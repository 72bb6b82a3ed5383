import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { ConnectionFailedError, type ConnectionOptions } from './postgres.js';

/**
 * One PostgreSQL session used synchronously. The engine's state store is synchronous by design (a
 * journal line is durable before the event it records is applied, and XState's subscribers cannot
 * await), so the PostgreSQL store runs its session in a worker thread (pg-sync-worker.ts, opened by
 * `openClient` with its pinned settings) and this thread waits for each answer on a shared flag.
 * Statements are short (a row in, a row out); the wait is bounded.
 */

interface Reply {
  id: number;
  rows?: Record<string, unknown>[];
  error?: { message: string; code?: string; name: string };
}

/** A statement the server refused or a session that broke: pg's message, its SQLSTATE. */
export class SyncPgError extends Error {
  override name = 'SyncPgError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const ANSWER_WAIT_MS = 30_000;
/** Only ever waited on, to sleep a millisecond while an answer crosses the port. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** The compiled worker beside this file; from the TypeScript sources (tests), the same file through jiti. */
function workerEntry(): { file: string; execArgv: string[] } {
  const compiled = fileURLToPath(new URL('./pg-sync-worker.js', import.meta.url));
  if (existsSync(compiled)) return { file: compiled, execArgv: [] };
  // jiti's `register` export is import-only; require.resolve finds the package's folder.
  const register = join(dirname(createRequire(import.meta.url).resolve('jiti')), 'jiti-register.mjs');
  return { file: fileURLToPath(new URL('./pg-sync-worker.ts', import.meta.url)), execArgv: ['--import', pathToFileURL(register).href] };
}

export class SyncPg {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly replies: MessageChannel['port1'];
  private readonly worker: Worker;
  private closed = false;
  private requests = 0;
  private listeners = new Set<(notice: { channel: string; payload: string } | { ended: true }) => void>();

  /** Open the session (throws ConnectionFailedError, as `openClient` does, when it cannot). */
  constructor(url: string, readonly options: ConnectionOptions) {
    const replies = new MessageChannel();
    const notices = new MessageChannel();
    const entry = workerEntry();
    this.worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      workerData: { url, options, flag: this.flag.buffer, replies: replies.port2, notices: notices.port2 },
      transferList: [replies.port2, notices.port2],
    });
    // Neither the thread nor its notifications keep a finished command alive.
    this.worker.unref();
    this.replies = replies.port1;
    notices.port1.on('message', (notice) => {
      for (const listener of this.listeners) listener(notice);
    });
    notices.port1.unref();
    const connected = this.call({ op: 'connect' });
    if (connected.error) {
      this.close();
      throw new ConnectionFailedError(options.label, connected.error.message.replace(/^Could not connect to the .*?: /, ''), connected.error.code);
    }
  }

  private call(request: Record<string, unknown>, waitMs = ANSWER_WAIT_MS): Reply {
    const id = ++this.requests;
    const deadline = Date.now() + waitMs;
    Atomics.store(this.flag, 0, 0);
    this.replies.postMessage({ ...request, id });
    // The worker thread needs its own event loop turns only; this one blocks (that is the point). The
    // flag says the worker answered; the answer itself crosses the port a moment later, so look until it
    // is there. An answer to an earlier request that timed out is not this one's: it is dropped.
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new SyncPgError(`the ${this.options.label} did not answer within ${waitMs / 1000} s`);
      if (Atomics.load(this.flag, 0) === 0) Atomics.wait(this.flag, 0, 0, left);
      else Atomics.wait(PAUSE, 0, 0, 1);
      for (let message = receiveMessageOnPort(this.replies); message; message = receiveMessageOnPort(this.replies)) {
        const reply = message.message as Reply;
        if (reply.id === id) return reply;
      }
      // Node sets threadId to -1 once the thread is no longer running.
      if (this.worker.threadId === -1) throw new SyncPgError(`the ${this.options.label} session stopped`);
    }
  }

  /** Run one statement and return its rows. */
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): T[] {
    if (this.closed) throw new SyncPgError(`the ${this.options.label} session is closed`);
    const reply = this.call({ op: 'query', sql, params });
    if (reply.error) throw new SyncPgError(reply.error.message, reply.error.code);
    return (reply.rows ?? []) as T[];
  }

  /** Notifications (after LISTEN) and the end of the session, delivered on this thread's event loop. */
  onNotice(listener: (notice: { channel: string; payload: string } | { ended: true }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** End the session (releasing its advisory locks) and the thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.call({ op: 'end' }, 5_000);
    } catch {
      // The thread is ended below either way; the server ends the session when the socket closes.
    }
    this.replies.close();
    void this.worker.terminate();
  }
}
