import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/rehearsal/embedded.js';

const root = join(import.meta.dirname, '../..');
const cli = join(root, 'dist/src/cli/main.js');
const scratch = mkdtempSync(join(tmpdir(), 'cutover-embedded-'));
// Reachable by the servers' OS user when run as root, so the servers use the TMPDIR we give them.
chmodSync(scratch, 0o755);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
const asRoot = process.getuid?.() === 0;

/** The real CLI in a child process, so an unhandled 'error' event or a stack trace would show. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function leftovers(folder: string): string[] {
  return readdirSync(folder).filter((name) => name.startsWith('cutover-pg-'));
}

describe('embedded PostgreSQL', () => {
  it('starts from a private temporary folder and leaves nothing behind when stopped', async () => {
    const tmp = mkdtempSync(join(scratch, 'tmp-'));
    chmodSync(tmp, 0o755);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const server = await startEmbeddedPostgres();
      // While it runs, its folder is owner-only: data, any copied binaries, no password file.
      const [work] = leftovers(tmp);
      expect(work).toBeDefined();
      expect(statSync(join(tmp, work!)).mode & 0o077).toBe(0);
      expect(readdirSync(join(tmp, work!)).filter((name) => name.startsWith('pwfile'))).toEqual([]);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      expect((await client.query<{ one: number }>('select 1 as one')).rows[0]!.one).toBe(1);
      await client.end();
      await server.stop();
      expect(leftovers(tmp)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
  });

  it('cannot start: one line naming the folder and what to do, exit 2, no stack trace, nothing left behind', async () => {
    const bin = join(scratch, 'broken-bin');
    mkdirSync(bin);
    // Present but not executable: spawning them fails with EACCES, as binaries under a folder the
    // server's user cannot enter do.
    for (const name of ['initdb', 'postgres']) writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const tmp = mkdtempSync(join(scratch, 'tmp-'));
    chmodSync(tmp, 0o755);
    const result = await runCli(['rehearse', '--rows', '1000'], { ...process.env, CUTOVER_POSTGRES_BIN: bin, TMPDIR: tmp });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Cannot start the embedded PostgreSQL server: permission denied running .*broken-bin\/initdb \(EACCES\)\. Make .*broken-bin and the folders above it executable/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('Unhandled');
    expect(leftovers(tmp)).toEqual([]);
  });

  it.skipIf(!asRoot)('as root, a --keep folder the servers\' OS user cannot enter is named, exit 2', async () => {
    const locked = join(scratch, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    chmodSync(locked, 0o700);
    const tmp = mkdtempSync(join(scratch, 'tmp-'));
    chmodSync(tmp, 0o755);
    const result = await runCli(['rehearse', '--rows', '1000', '--keep', join(locked, 'keep')], { ...process.env, TMPDIR: tmp });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`is inside ${locked}, which the OS user 'postgres' cannot enter (mode 700)`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(leftovers(tmp)).toEqual([]);
  });
});
