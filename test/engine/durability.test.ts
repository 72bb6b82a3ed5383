import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitError } from '../../src/engine/errors.js';
import { Journal, journalPath, verifyJournal } from '../../src/engine/journal.js';
import { loadState, saveState, statePath } from '../../src/engine/state-store.js';
import { cleanup, effects, finish, newDir, runChild, start, startsByStep, until } from './child.js';
import { canMount, fill, mountTmpfs } from './fault-fs.js';

/**
 * Issue 13: the run's state survives full disks and torn writes. A full disk is a real tmpfs filled
 * up (root on the CI container); the torn line is what a short write leaves.
 */

const mountable = canMount();
const unmounts: Array<() => void> = [];
afterEach(() => {
  for (const unmount of unmounts.splice(0)) unmount();
  cleanup();
});

function smallDisk(dir: string, size = '256k'): string {
  const mountPoint = join(dir, '.cutover');
  unmounts.push(mountTmpfs(mountPoint, size));
  return mountPoint;
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('the journal cannot tear', () => {
  it('an incomplete last line is left out by readers and cut (and the cut journaled) by the next writer', () => {
    const dir = newDir();
    const journal = Journal.open(dir);
    journal.append(Date.now(), 'one');
    journal.append(Date.now(), 'two');
    appendFileSync(journalPath(dir), '{"seq":3,"at":"2026-11-30T00:00:00.000Z","type":"thr'); // a short write
    // Before: "the last line is incomplete … restore the journal from a backup".
    expect(verifyJournal(dir)).toMatchObject({ ok: true, entries: 2, tornBytes: 52 });
    const reopened = Journal.open(dir);
    expect(reopened.entries.map((e) => e.type)).toEqual(['one', 'two']);
    const recovered = reopened.recoverTail(Date.now());
    expect(recovered).toMatchObject({ seq: 3, type: 'journal.recovered', cutBytes: 52 });
    reopened.append(Date.now(), 'four');
    expect(verifyJournal(dir)).toEqual({ ok: true, entries: 4 });
    expect(Journal.open(dir).entries.map((e) => e.type)).toEqual(['one', 'two', 'journal.recovered', 'four']);
  });

  it('a runner started on a torn journal cuts the line, journals the cut and runs', async () => {
    const dir = newDir();
    const first = start(dir, ['drive'], { PAUSE_AT: 'prep.preflight' });
    await until(() => effects(dir).includes('start prep.preflight 1'), 'prep.preflight to start');
    first.proc.kill('SIGKILL');
    await first.done;
    appendFileSync(journalPath(join(dir, '.cutover')), '{"seq":99,"type":"step.fin');
    writeFileSync(join(dir, 'go'), '');
    const resumed = await runChild(dir, ['drive']);
    expect(resumed.code, resumed.stderr).toBe(3);
    const entries = Journal.open(join(dir, '.cutover')).entries;
    expect(entries.filter((e) => e.type === 'journal.recovered')).toHaveLength(1);
    expect(verifyJournal(join(dir, '.cutover'))).toMatchObject({ ok: true });
  }, 120_000);

  it.skipIf(!mountable)('a short write on a full disk is detected, taken back, and named with the folder and the space needed', () => {
    const dir = newDir();
    const disk = smallDisk(dir);
    const journal = Journal.open(disk);
    journal.append(Date.now(), 'one');
    const sizeBefore = statSync(journalPath(disk)).size;
    const filler = fill(disk);
    // Larger than the slack left in the journal's last page: part of it fits, the rest cannot.
    let error: unknown;
    try {
      journal.append(Date.now(), 'big', { blob: 'x'.repeat(20_000) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ExitError);
    expect((error as ExitError).exitCode).toBe(1);
    expect((error as ExitError).message).toContain(`The disk holding ${disk} is full`);
    expect((error as ExitError).message).toMatch(/needs 19\.\d KiB/);
    expect(statSync(journalPath(disk)).size).toBe(sizeBefore);
    expect(verifyJournal(disk)).toEqual({ ok: true, entries: 1 });
    rmSync(filler);
    journal.append(Date.now(), 'after');
    expect(verifyJournal(disk)).toEqual({ ok: true, entries: 2 });
  });

  it.skipIf(!mountable)('a state save on a full disk fails whole: the old state stays, no temp file is left', () => {
    const dir = newDir();
    const disk = smallDisk(dir);
    const state = { runId: 'r1', machine: { big: 'y'.repeat(30_000) }, appliedSeq: 0 };
    saveState(disk, state);
    const filler = fill(disk);
    expect(() => saveState(disk, { ...state, appliedSeq: 1 })).toThrow(/The disk holding .* is full \(ENOSPC\): writing the state file needs/);
    expect(loadState(disk)?.appliedSeq).toBe(0);
    expect(readdirSync(disk).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    rmSync(filler);
  });

  for (const [when, leave] of [
    ['a journal append (the disk has no room at all)', 0],
    ['a state save (room for a journal line, not for the state)', 4096],
  ] as const) {
    it.skipIf(!mountable)(`a disk that fills up during ${when} stops the run with exit 1 and a message; after freeing space a plain run resumes to the end`, async () => {
      const dir = newDir();
      const disk = smallDisk(dir, '512k');
      const running = start(dir, ['drive'], { PAUSE_AT: 'prep.lower-ttl' });
      await until(() => effects(dir).includes('start prep.lower-ttl 1'), 'prep.lower-ttl to start');
      const filler = fill(disk, leave);
      writeFileSync(join(dir, 'go'), '');
      const stopped = await running.done;
      expect(stopped.code, stopped.stdout + stopped.stderr).toBe(1);
      expect(stopped.stderr).toContain(`The disk holding ${disk} is full (ENOSPC)`);
      if (leave) expect(stopped.stderr).toContain('writing the state file needs');
      noStack(stopped.stderr);
      expect(verifyJournal(disk)).toMatchObject({ ok: true });
      // Still full: a second try stops the same way, without a hang and without damage.
      const again = await runChild(dir, ['drive']);
      expect(again.code).toBe(1);
      expect(verifyJournal(disk)).toMatchObject({ ok: true });

      rmSync(filler);
      await finish(dir);
      expect(verifyJournal(disk)).toMatchObject({ ok: true });
      for (const [stepId, count] of startsByStep(dir)) {
        if (stepId.endsWith('.check') || stepId.startsWith('watch.')) continue;
        // The step that was running when the disk filled may run once more (at least once); nothing else does.
        expect(count, stepId).toBe(stepId === 'prep.lower-ttl' ? count : 1);
        if (stepId === 'prep.lower-ttl') expect(count).toBeLessThanOrEqual(2);
      }
      expect(readdirSync(disk).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    }, 240_000);
  }

});

describe('the run identity binds state and journal', () => {
  async function runToFirstSignoff(dir: string) {
    const result = await runChild(dir, ['drive']);
    expect(result.code, result.stderr).toBe(3);
    return join(dir, '.cutover');
  }

  it('a new run refuses an old run\'s journal instead of replaying its finished steps', async () => {
    const dir = newDir();
    const stateDir = await runToFirstSignoff(dir);
    rmSync(statePath(stateDir));
    const result = await runChild(dir, ['drive']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/holds the record of run \S+ .* but there is no state file/);
    expect(result.stderr).toContain('move journal.ndjson');
    expect(Journal.open(stateDir).entries.some((e) => e.type === 'step.replayed')).toBe(false);
  }, 120_000);

  it('a truncated journal and a deleted journal are refused with what to do', async () => {
    const dir = newDir();
    const stateDir = await runToFirstSignoff(dir);
    const path = journalPath(stateDir);
    const full = readFileSync(path, 'utf8');
    writeFileSync(path, `${full.split('\n').slice(0, 3).join('\n')}\n`);
    const truncated = await runChild(dir, ['drive']);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/is shorter than the state has seen: it ends at line 3, the state was saved after line \d+/);
    rmSync(path);
    const deleted = await runChild(dir, ['drive']);
    expect(deleted.code).toBe(2);
    expect(deleted.stderr).toContain('is missing or empty, but the state file says run');
    writeFileSync(path, full);
    expect((await runChild(dir, ['drive'])).code).toBe(3);
  }, 120_000);

  it('another run\'s journal in place of this one is refused', async () => {
    const one = newDir();
    const two = newDir();
    const stateOne = await runToFirstSignoff(one);
    const stateTwo = await runToFirstSignoff(two);
    writeFileSync(journalPath(stateOne), readFileSync(journalPath(stateTwo)));
    // A dead runner's lock on top: taking it over must not add a line to the journal that is refused.
    const top = Math.max(0, ...readdirSync(stateOne).map((name) => /^lock\.(\d+)$/.exec(name)?.[1]).filter(Boolean).map(Number));
    const { spawnSync } = await import('node:child_process');
    const { hostname, userInfo } = await import('node:os');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(stateOne, `lock.${top + 1}`), JSON.stringify({ pid: dead, host: hostname(), user: userInfo().username, command: 'cutover run', since: new Date().toISOString() }), { mode: 0o600 });
    const before = readFileSync(journalPath(stateOne), 'utf8');
    const result = await runChild(one, ['drive']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is the record of run \S+, but the state file is run/);
    expect(readFileSync(journalPath(stateOne), 'utf8')).toBe(before);
  }, 120_000);

  it('a state file edited by hand with its checksum recomputed is refused (its seal is keyed outside the folder)', async () => {
    const dir = newDir();
    const stateDir = await runToFirstSignoff(dir);
    const envelope = JSON.parse(readFileSync(statePath(stateDir), 'utf8'));
    envelope.state.appliedSeq += 1;
    const { createHash } = await import('node:crypto');
    envelope.checksum = createHash('sha256').update(JSON.stringify(envelope.state)).digest('hex');
    writeFileSync(statePath(stateDir), JSON.stringify(envelope));
    expect(() => loadState(stateDir)).toThrow(/does not match its seal: it was edited outside cutover/);
    const result = await runChild(dir, ['drive']);
    expect(result.code).toBe(2);
    expect(existsSync(statePath(stateDir))).toBe(true);
  }, 120_000);
});
