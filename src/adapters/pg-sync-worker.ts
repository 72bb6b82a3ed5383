import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type pg from 'pg';
import { openClient, type ConnectionOptions } from './postgres.js';

/**
 * The thread behind `SyncPg` (pg-sync.ts): it owns one PostgreSQL session, runs each statement the
 * main thread sends, posts the result and wakes the main thread, which waits on a shared flag. It also
 * forwards LISTEN notifications, which arrive whenever the main thread is free to take them.
 */

interface Setup {
  url: string;
  options: ConnectionOptions;
  flag: SharedArrayBuffer;
  replies: MessagePort;
  notices: MessagePort;
}

type Request = { id: number } & ({ op: 'connect' } | { op: 'query'; sql: string; params: unknown[] } | { op: 'end' });

const { url, options, flag, replies, notices } = workerData as Setup;
const signal = new Int32Array(flag);
let client: pg.Client | undefined;

let current = 0;

function answer(message: object): void {
  // The request's id goes back with its answer: the main thread takes only the answer it waits for.
  replies.postMessage({ ...message, id: current });
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function failure(error: unknown): { error: { message: string; code?: string; name: string } } {
  const { message, code, name } = error as { message?: string; code?: string; name?: string };
  return { error: { message: String(message ?? error), name: name ?? 'Error', ...(code ? { code } : {}) } };
}

// One statement at a time, in the order sent: the main thread waits for each answer before the next.
let queue = Promise.resolve();
replies.on('message', (request: Request) => {
  queue = queue.then(async () => {
    current = request.id;
    try {
      if (request.op === 'connect') {
        client = await openClient(url, options);
        client.on('notification', (note) => notices.postMessage({ channel: note.channel, payload: note.payload ?? '' }));
        // A lost session loses the advisory lock: the main thread must learn it at once, not at its next statement.
        client.on('end', () => notices.postMessage({ ended: true }));
        answer({ rows: [] });
      } else if (request.op === 'query') {
        if (!client) throw new Error('not connected');
        const result = await client.query(request.sql, request.params);
        answer({ rows: result.rows });
      } else {
        await client?.end().catch(() => {});
        client = undefined;
        answer({ rows: [] });
      }
    } catch (error) {
      answer(failure(error));
    }
  });
});
parentPort?.on('close', () => void client?.end().catch(() => {}));
