import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, newDir, runChild } from './child.js';

/** Issue 13: the state folder is owner-only, refused when others could change it, and links in it are not followed. */

afterEach(cleanup);
const asRoot = process.getuid?.() === 0;

describe('the state folder', () => {
  it('is created owner-only', async () => {
    const dir = newDir();
    const result = await runChild(dir, ['drive']);
    expect(result.code, result.stderr).toBe(3);
    expect(statSync(join(dir, '.cutover')).mode & 0o777).toBe(0o700);
    for (const file of ['state.json', 'journal.ndjson']) expect(statSync(join(dir, '.cutover', file)).mode & 0o777, file).toBe(0o600);
  }, 60_000);

  it('is refused when writable by others or by its group, naming the fix', async () => {
    const dir = newDir();
    mkdirSync(join(dir, '.cutover'));
    chmodSync(join(dir, '.cutover'), 0o777);
    const world = await runChild(dir, ['drive']);
    expect(world.code).toBe(2);
    expect(world.stderr).toContain(`The state folder ${join(dir, '.cutover')} is writable by every user (mode 777)`);
    chmodSync(join(dir, '.cutover'), 0o770);
    const group = await runChild(dir, ['drive']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('is writable by its group (mode 770)');
    expect(existsSync(join(dir, '.cutover', 'journal.ndjson'))).toBe(false);
  }, 60_000);

  it.skipIf(!asRoot)('is refused when owned by another user, unless a group for shared hosts is configured and matches', async () => {
    const dir = newDir();
    mkdirSync(join(dir, '.cutover'));
    chmodSync(join(dir, '.cutover'), 0o2770);
    chownSync(join(dir, '.cutover'), 65534, 65534);
    const other = await runChild(dir, ['drive']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/belongs to another user \(uid 65534, you are 0\)/);
    const shared = await runChild(dir, ['drive'], { CUTOVER_STATE_GROUP: '65534' });
    expect(shared.code, shared.stderr).toBe(3);
  }, 60_000);

  it('never follows a symlink planted in it: a journal.ndjson link is refused and its target left alone', async () => {
    const dir = newDir();
    const first = await runChild(dir, ['drive']);
    expect(first.code).toBe(3);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const journal = join(dir, '.cutover', 'journal.ndjson');
    const kept = readFileSync(journal);
    writeFileSync(join(dir, 'journal.real'), kept);
    // Replace the journal by a link to a file elsewhere.
    rmSync(journal);
    symlinkSync(victim, journal);
    const result = await runChild(dir, ['drive']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${journal} is a symbolic link. Links inside the state folder are never followed`);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  }, 60_000);

  it.skipIf(!asRoot)('a file it may not read is named a permission problem, not "corrupt" or "not started"', async () => {
    const dir = newDir();
    chownSync(dir, 65534, 65534);
    mkdirSync(join(dir, '.cutover'), { mode: 0o700 });
    chownSync(join(dir, '.cutover'), 65534, 65534);
    writeFileSync(join(dir, '.cutover', 'state.json'), '{}', { mode: 0o600 }); // root's, unreadable to nobody
    const result = await runChild(dir, ['drive'], { HOME: '/tmp' }, { uid: 65534, gid: 65534 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Permission problem (EACCES) reading the state file ${join(dir, '.cutover', 'state.json')}`);
    expect(result.stderr).not.toContain('corrupt');
  }, 60_000);
});
