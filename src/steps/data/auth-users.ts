import { createHash } from 'node:crypto';
import { chmod, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@supabase/supabase-js';
import { syncDir } from '../../adapters/atomic-write.js';

/**
 * Supabase auth users, through the official admin API (`auth.admin.listUsers`), into a JSON file.
 *
 * Pagination ends at the first page shorter than `perPage`. The `nextPage` that supabase-js returns
 * is not used: it parses the page number out of the `Link` header with `substring(0, 1)`, i.e. only
 * its first digit, so from page 10 on it points back to page 1.
 */

export interface AuthUsersExportOptions {
  /** Project URL, e.g. https://xyz.supabase.co. */
  url: string;
  serviceRoleKey: string;
  /** Where the users go (written through `<file>.part`, owner-only). */
  file: string;
  perPage?: number;
  /** Attempts per page on 429, 5xx, network errors and timeouts. */
  maxAttempts?: number;
  /** First retry delay; doubles each time, at most 30 s. */
  retryDelayMs?: number;
  /** A request that takes longer is abandoned and retried. */
  requestTimeoutMs?: number;
  signal?: AbortSignal;
  onPage?: (page: number, usersSoFar: number) => void;
}

export interface AuthUsersExport {
  users: number;
  pages: number;
  bytes: number;
  sha256: string;
  /** Requests retried after a 429, 5xx, timeout or network error. */
  retries: number;
}

interface ApiError {
  message: string;
  status?: number;
}

export async function exportAuthUsers(options: AuthUsersExportOptions): Promise<AuthUsersExport> {
  const perPage = options.perPage ?? 1000;
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const supabase = createClient(options.url, options.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])]),
        }),
    },
  });
  const part = `${options.file}.part`;
  const handle = await open(part, 'w', 0o600);
  const hash = createHash('sha256');
  let bytes = 0;
  const write = async (text: string) => {
    const buffer = Buffer.from(text, 'utf8');
    hash.update(buffer);
    bytes += buffer.length;
    await handle.write(buffer);
  };
  const seen = new Set<string>();
  let page = 0;
  let retries = 0;
  try {
    await write('[');
    for (;;) {
      page++;
      let users: { id: string }[] | undefined;
      for (let attempt = 1; ; attempt++) {
        options.signal?.throwIfAborted();
        let error: ApiError | null;
        try {
          const result = await supabase.auth.admin.listUsers({ page, perPage });
          error = result.error;
          users = result.data.users;
        } catch (thrown) {
          error = { message: thrown instanceof Error ? thrown.message : String(thrown) };
        }
        if (!error) break;
        const retryable = error.status === undefined || error.status === 0 || error.status === 429 || error.status >= 500;
        if (!retryable || attempt >= maxAttempts) {
          const status = error.status ? `HTTP ${error.status}: ` : '';
          throw new Error(
            `Listing auth users through the Supabase admin API failed on page ${page} after ${attempt} ` +
              `attempt${attempt > 1 ? 's' : ''}: ${status}${redactKey(error.message, options.serviceRoleKey)}`,
          );
        }
        retries++;
        await delay(Math.min(retryDelayMs * 2 ** (attempt - 1), 30_000), undefined, { signal: options.signal });
      }
      const fresh = users!.filter((u) => !seen.has(u.id));
      if (users!.length > 0 && fresh.length === 0) {
        throw new Error(`The Supabase admin API returned page ${page} again with the same users; stopping to avoid a loop.`);
      }
      for (const user of fresh) {
        await write(`${seen.size === 0 ? '\n' : ',\n'}${JSON.stringify(user)}`);
        seen.add(user.id);
      }
      options.onPage?.(page, seen.size);
      if (users!.length < perPage) break;
    }
    await write('\n]\n');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(part, { force: true });
    throw error;
  }
  await handle.close();
  await chmod(part, 0o600);
  await rename(part, options.file);
  await syncDir(dirname(options.file));
  return { users: seen.size, pages: page, bytes, sha256: hash.digest('hex'), retries };
}

function redactKey(message: string, key: string): string {
  return key ? message.split(key).join('***') : message;
}
