import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ExitError } from './errors.js';

/**
 * The append-only journal (`journal.ndjson`): one fsync'd line per event, each chained to the one
 * before by hash so an edited or removed line shows. Outside events (sign-offs, confirmations, skips,
 * rollback requests) are written here *before* they are applied, so the journal doubles as the
 * write-ahead log that makes a sign-off survive a kill at any instant.
 */

export interface JournalEntry {
  seq: number;
  /** ISO time of the engine's clock. */
  at: string;
  type: string;
  [field: string]: unknown;
}

interface Line extends JournalEntry {
  prev: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

function hashLine(entry: JournalEntry, prev: string): string {
  return createHash('sha256').update(prev).update(JSON.stringify(entry)).digest('hex');
}

export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.ndjson');
}

export interface Verification {
  ok: boolean;
  entries: number;
  /** 1-based line number of the first line that breaks the chain. */
  brokenAt?: number;
  problem?: string;
}

/** Check the chain without trusting anything in the file. */
export function verifyJournal(stateDir: string): Verification {
  const path = journalPath(stateDir);
  if (!existsSync(path)) return { ok: true, entries: 0 };
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else if (lines.length > 0) return { ok: false, entries: lines.length - 1, brokenAt: lines.length, problem: 'the last line is incomplete' };
  let prev = GENESIS;
  for (const [index, raw] of lines.entries()) {
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      return { ok: false, entries: index, brokenAt: index + 1, problem: 'the line is not valid JSON' };
    }
    const { prev: linePrev, hash, ...entry } = line;
    if (linePrev !== prev) return { ok: false, entries: index, brokenAt: index + 1, problem: 'the line does not follow the one before it' };
    if (entry.seq !== index + 1) return { ok: false, entries: index, brokenAt: index + 1, problem: `sequence ${String(entry.seq)} where ${index + 1} was expected` };
    if (hashLine(entry, linePrev) !== hash) return { ok: false, entries: index, brokenAt: index + 1, problem: 'the line was changed after it was written' };
    prev = hash;
  }
  return { ok: true, entries: lines.length };
}

export class Journal {
  private constructor(
    private readonly path: string,
    private readonly list: JournalEntry[],
    private head: string,
  ) {}

  /** Open and verify the journal; a broken chain is refused with the line that breaks it. */
  static open(stateDir: string): Journal {
    const path = journalPath(stateDir);
    const verification = verifyJournal(stateDir);
    if (!verification.ok) {
      throw new ExitError(
        `The journal ${path} is damaged at line ${verification.brokenAt}: ${verification.problem}. ` +
          'It is not appended to. Keep a copy for the record and restore the journal from a backup before resuming.',
        2,
      );
    }
    const list: JournalEntry[] = [];
    let head = GENESIS;
    if (existsSync(path)) {
      for (const raw of readFileSync(path, 'utf8').split('\n')) {
        if (!raw) continue;
        const { prev: _prev, hash, ...entry } = JSON.parse(raw) as Line;
        list.push(entry);
        head = hash;
      }
    }
    return new Journal(path, list, head);
  }

  get entries(): readonly JournalEntry[] {
    return this.list;
  }

  get lastSeq(): number {
    return this.list.at(-1)?.seq ?? 0;
  }

  append(at: number, type: string, fields: Record<string, unknown> = {}): JournalEntry {
    const entry: JournalEntry = { seq: this.lastSeq + 1, at: new Date(at).toISOString(), type, ...fields };
    const hash = hashLine(entry, this.head);
    const line = `${JSON.stringify({ ...entry, prev: this.head, hash })}\n`;
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.head = hash;
    this.list.push(entry);
    return entry;
  }
}
