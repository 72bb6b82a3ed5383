import { createHash } from 'node:crypto';
import { closeSync, constants, fsyncSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ExitError } from './errors.js';
import { storeAt } from './run-store.js';
import { guardWrite, NOFOLLOW, readNoFollow, writeFully } from './storage.js';

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
  /** Bytes of an incomplete last line (never acknowledged; cut on the next start). */
  tornBytes?: number;
}

/** Where the journal's lines are kept: the file `journal.ndjson`, or the run store registered for the folder. */
interface Medium {
  /** For messages: the file's path, or the store's description. */
  where: string;
  /** The lines, with a torn tail (files only) set apart. */
  read(): { lines: string[]; tornBytes: number; size: number };
  /** Write one line durably; a failure leaves nothing of it (`size` is the length before it). */
  append(line: string, entry: JournalEntry, prev: string, hash: string, size: number): number;
  /** Cut the file back to `keep` bytes (a torn tail). */
  cut(keep: number): void;
}

function mediumOf(stateDir: string): Medium {
  const store = storeAt(stateDir);
  if (!store) return fileMedium(journalPath(stateDir));
  return {
    where: `The journal in ${store.where}`,
    // Rows are whole or absent (a transaction per line): there is never a torn tail.
    read: () => ({ lines: store.readJournalLines(), tornBytes: 0, size: 0 }),
    append: (line, entry, prev, hash) => {
      store.appendJournalLine(entry.seq, line, { at: entry.at, type: entry.type, prev, hash });
      return 0;
    },
    cut: () => {},
  };
}

/**
 * The journal's text with a torn tail set apart: a last line without its newline was never
 * acknowledged (the write failed or the process died inside it), so it is not part of the record.
 */
function fileMedium(path: string): Medium {
  return {
    where: `The journal ${path}`,
    read() {
      const text = readNoFollow(path, 'the journal') ?? '';
      const end = text.lastIndexOf('\n') + 1;
      const lines = text.slice(0, end).split('\n');
      lines.pop();
      return { lines, tornBytes: Buffer.byteLength(text.slice(end)), size: Buffer.byteLength(text) };
    },
    cut(keep) {
      guardWrite(path, 0, 'the journal', () => {
        const fd = openSync(path, constants.O_WRONLY | NOFOLLOW);
        try {
          ftruncateSync(fd, keep);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      });
    },
    append(text, _entry, _prev, _hash, size) {
      const line = Buffer.from(`${text}\n`);
      guardWrite(path, line.length, 'the journal', () => {
        const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW, 0o600);
        try {
          try {
            writeFully(fd, line, path);
            fsyncSync(fd);
          } catch (error) {
            // Take back whatever part of the line reached the file; if even that fails, the next
            // start finds an incomplete last line and cuts it.
            try {
              ftruncateSync(fd, size);
            } catch {
              /* recovered on the next start */
            }
            throw error;
          }
        } finally {
          closeSync(fd);
        }
      });
      return line.length;
    },
  };
}

/** Check the chain without trusting anything in the file. An incomplete last line is reported, not counted. */
export function verifyJournal(stateDir: string): Verification {
  return verifyLines(mediumOf(stateDir).read());
}

/** The chain check itself, the same for every store: each line follows the one before, unchanged. */
function verifyLines({ lines, tornBytes }: { lines: string[]; tornBytes: number }): Verification {
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
  return { ok: true, entries: lines.length, ...(tornBytes ? { tornBytes } : {}) };
}

export class Journal {
  private constructor(
    private readonly medium: Medium,
    private readonly list: JournalEntry[],
    private head: string,
    /** Bytes of an incomplete last line, cut before the next append. */
    private tornBytes: number,
    private size: number,
    private readonly hashes: string[],
  ) {}

  /**
   * Open and verify the journal; a broken chain is refused with the line that breaks it. An
   * incomplete last line is left out (readers) and cut before the next append (see `recoverTail`).
   */
  static open(stateDir: string): Journal {
    const medium = mediumOf(stateDir);
    const read = medium.read();
    const verification = verifyLines(read);
    if (!verification.ok) {
      throw new ExitError(
        `${medium.where} is damaged at line ${verification.brokenAt}: ${verification.problem}. ` +
          'It is not appended to. Keep a copy for the record and restore the journal from a backup before resuming.',
        2,
      );
    }
    const { lines, tornBytes, size } = read;
    const list: JournalEntry[] = [];
    const hashes: string[] = [];
    let head = GENESIS;
    for (const raw of lines) {
      const { prev: _prev, hash, ...entry } = JSON.parse(raw) as Line;
      list.push(entry);
      hashes.push(hash);
      head = hash;
    }
    return new Journal(medium, list, head, tornBytes, size, hashes);
  }

  get entries(): readonly JournalEntry[] {
    return this.list;
  }

  get lastSeq(): number {
    return this.list.at(-1)?.seq ?? 0;
  }

  /** Hash of the last line: what the state file is anchored to. */
  get headHash(): string {
    return this.head;
  }

  /** Hash of line `seq` (1-based), undefined past the end. */
  hashAt(seq: number): string | undefined {
    return this.hashes[seq - 1];
  }

  /** Bytes of an incomplete last line waiting to be cut (0 when the journal ends cleanly). */
  get torn(): number {
    return this.tornBytes;
  }

  /**
   * Cut an incomplete last line and journal the cut. Only a writer holding the lock calls this
   * (append does it first when needed). Returns the recovery entry, if there was anything to cut.
   */
  recoverTail(at: number): JournalEntry | undefined {
    if (!this.tornBytes) return undefined;
    const cut = this.tornBytes;
    const keep = this.size - cut;
    this.medium.cut(keep);
    this.size = keep;
    this.tornBytes = 0;
    return this.append(at, 'journal.recovered', { cutBytes: cut, afterSeq: this.lastSeq, why: 'the last line was incomplete (never acknowledged): cut' });
  }

  /**
   * Append one line and fsync it. A short or failed write is cut back off before the error is
   * raised, so the journal on disk never ends in a torn line the process acknowledged.
   */
  append(at: number, type: string, fields: Record<string, unknown> = {}): JournalEntry {
    if (this.tornBytes) this.recoverTail(at);
    const entry: JournalEntry = { seq: this.lastSeq + 1, at: new Date(at).toISOString(), type, ...fields };
    const hash = hashLine(entry, this.head);
    const written = this.medium.append(JSON.stringify({ ...entry, prev: this.head, hash }), entry, this.head, hash, this.size);
    this.size += written;
    this.head = hash;
    this.hashes.push(hash);
    this.list.push(entry);
    return entry;
  }
}
