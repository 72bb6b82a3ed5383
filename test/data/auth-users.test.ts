import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportAuthUsers } from '../../src/steps/data/auth-users.js';
import { startFakeSupabaseAuth, type FakeSupabaseAuth } from '../fakes/supabase-auth.js';

let dir: string;
let fake: FakeSupabaseAuth | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-auth-'));
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await rm(dir, { recursive: true, force: true });
});

const pagesRequested = (f: FakeSupabaseAuth) =>
  f.requests.filter((r) => r.status === 200).map((r) => Number(new URL(r.url, 'http://x').searchParams.get('page')));

describe('auth users through the Supabase admin API', () => {
  it('pages until a short page: 2,345 users at 1000 per page are 3 pages, every user once, owner-only file', async () => {
    fake = await startFakeSupabaseAuth({ users: 2345 });
    const file = join(dir, 'auth-users.json');
    const result = await exportAuthUsers({ url: fake.url, serviceRoleKey: fake.serviceRoleKey, file, perPage: 1000 });

    expect(result).toMatchObject({ users: 2345, pages: 3, retries: 0 });
    expect(pagesRequested(fake)).toEqual([1, 2, 3]);
    const text = await readFile(file);
    const users = JSON.parse(text.toString('utf8')) as { id: string; email: string }[];
    expect(users.map((u) => u.id)).toEqual(fake.users.map((u) => u.id));
    expect(result.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(result.bytes).toBe(text.length);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('goes past page 9 (where supabase-js nextPage breaks) and stops on an empty page when the total is a multiple', async () => {
    fake = await startFakeSupabaseAuth({ users: 1200 });
    const result = await exportAuthUsers({ url: fake.url, serviceRoleKey: fake.serviceRoleKey, file: join(dir, 'u.json'), perPage: 100 });
    expect(result.users).toBe(1200);
    expect(pagesRequested(fake)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('retries 429, 500 and a reply slower than the timeout, and still gets every user', async () => {
    fake = await startFakeSupabaseAuth({ users: 2345 });
    fake.injectFaults({ status: 429 }, { status: 500 }, { delayMs: 1_000 });
    const result = await exportAuthUsers({
      url: fake.url,
      serviceRoleKey: fake.serviceRoleKey,
      file: join(dir, 'u.json'),
      perPage: 1000,
      retryDelayMs: 10,
      requestTimeoutMs: 300,
    });
    expect(result).toMatchObject({ users: 2345, pages: 3, retries: 3 });
    expect(fake.requests.map((r) => r.status).slice(0, 2)).toEqual([429, 500]);
  });

  it('gives up after the allowed attempts with a message naming the page and status, never the key', async () => {
    fake = await startFakeSupabaseAuth({ users: 10, serviceRoleKey: 'sk-very-secret' });
    fake.injectFaults({ status: 503 }, { status: 503 }, { status: 503 });
    const failure = exportAuthUsers({
      url: fake.url,
      serviceRoleKey: 'sk-very-secret',
      file: join(dir, 'u.json'),
      maxAttempts: 3,
      retryDelayMs: 1,
    });
    await expect(failure).rejects.toThrow(/page 1 after 3 attempts: HTTP 503/);
    await expect(failure).rejects.not.toThrow(/sk-very-secret/);
    await expect(stat(join(dir, 'u.json'))).rejects.toThrow();
  });

  it('does not retry a refused key (401)', async () => {
    fake = await startFakeSupabaseAuth({ users: 10 });
    await expect(
      exportAuthUsers({ url: fake.url, serviceRoleKey: 'wrong-key', file: join(dir, 'u.json'), retryDelayMs: 1 }),
    ).rejects.toThrow(/after 1 attempt: HTTP 401/);
    expect(fake.requests).toHaveLength(1);
  });
});
