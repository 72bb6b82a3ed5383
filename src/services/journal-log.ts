import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinRunbook, type Runbook } from '../../machines/runbook.js';
import { EXIT, ExitError } from '../engine/errors.js';
import { storeAt } from '../engine/run-store.js';
import { Journal, journalPath, verifyJournal, type JournalEntry } from '../engine/journal.js';
import { isoTime, peopleTime } from '../engine/time-format.js';

/**
 * `cutover log`: the journal for people (one line per entry, the plan's zone with its offset) or for
 * machines (one JSON object per line, times ISO-8601 with the offset). Reads only: no lock, so it can
 * follow a run that another process drives.
 */

export interface LogOptions {
  stateDir: string;
  zone: string;
  stepId?: string;
  /** The plan's runbook, which `stepId` must name a step of (the built-in one if not given). */
  runbook?: Runbook;
  json?: boolean;
  follow?: boolean;
  /** Ends `follow` (Ctrl-C in the command, the test's own signal in tests). */
  signal?: AbortSignal;
  /** How often `follow` looks for new lines. */
  pollMs?: number;
  /** Where a notice about the journal goes (an incomplete last line), apart from the lines themselves. */
  warn?: (text: string) => void;
}

type Event = { type?: string; stepId?: string; by?: string; note?: string; reject?: boolean; reason?: string; input?: string };

function took(ms: unknown): string {
  if (typeof ms !== 'number') return '';
  if (ms < 1000) return ` in ${ms} ms`;
  if (ms < 120_000) return ` in ${(ms / 1000).toFixed(1)} s`;
  return ` in ${Math.round(ms / 60_000)} min`;
}

/** What an entry says, without its time. Entries of a kind this version does not know are shown by type. */
export function describeEntry(entry: JournalEntry): string {
  const step = entry.stepId ? `${String(entry.stepId)}${entry.occurrence ? ` #${String(entry.occurrence)}` : ''}` : '';
  switch (entry.type) {
    case 'run.created':
      return `run ${String(entry.runId)} created (${String(entry.plan)}, ${String(entry.environment)})`;
    case 'step.started':
      return `▶ ${step} started${Number(entry.attempt) > 1 ? ` (attempt ${Number(entry.attempt)})` : ''}`;
    case 'step.resumed':
      return `▶ ${step} resumed: it was running when the last runner stopped`;
    case 'step.replayed':
      return `  ${step}: finished before the last runner stopped; its recorded result is used`;
    case 'step.finished':
      return `✓ ${step} finished${took(entry.durationMs)}: ${String(entry.summary)}${entry.attention ? ` — ATTENTION: ${String(entry.attention)}` : ''}`;
    case 'step.failed':
      return `✗ ${step} failed${took(entry.durationMs)}: ${String(entry.error)}`;
    case 'step.retrying':
      return `↻ ${step} try ${String(entry.try)} failed (${String(entry.error)}); trying again`;
    case 'step.note':
      return `  ${step}: ${String(entry.message)}`;
    case 'step.outcome-unknown':
      return `? ${step}: outcome unknown (it was running when the runner stopped and cannot safely run twice)`;
    case 'event': {
      const event = (entry.event ?? {}) as Event;
      const by = event.by ? ` by ${event.by}` : '';
      const why = event.note ? `: ${event.note}` : event.reason ? `: ${event.reason}` : '';
      switch (event.type) {
        case 'SIGNOFF':
          return `✎ ${event.stepId} ${event.reject ? 'rejected' : 'signed off'}${by}${why}`;
        case 'CONFIRM':
          return `✎ ${event.stepId} confirmed${by}`;
        case 'SKIP':
          return `↷ ${event.stepId} skipped${by}${why}`;
        case 'RETRY':
          return `↻ ${event.stepId} retry requested`;
        case 'ROLLBACK':
          return `⟲ rollback requested${by}${why}`;
        case 'ABORT':
          return `■ abort requested${by}${why}`;
        default:
          return `✎ ${String(event.type ?? 'event').toLowerCase()}${event.stepId ? ` ${event.stepId}` : ''}${by}${why}`;
      }
    }
    case 'plan.changed':
      return `plan changed${entry.t0 ? ': T0 moved, every gate re-planned' : ''}`;
    case 'plan.steps-passed':
      return `the plan adds ${(entry.steps as string[]).join(', ')} behind where the run stands: they will not run (do them by hand, or not)`;
    case 'lock.taken-over':
      return `lock taken over from ${String(entry.from)}`;
    case 'reconcile.summary':
      return `reconciliation (${String(entry.source ?? 'run')}): ${String(entry.summary)}${entry.attention ? ` — ATTENTION: ${String(entry.attention)}` : ''}`;
    case 'engine.error':
      return `engine error: ${String(entry.error)}`;
    default:
      return `${entry.type}${step ? ` ${step}` : ''}`;
  }
}

function parseLines(text: string): JournalEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((raw) => {
      const { prev: _prev, hash: _hash, ...entry } = JSON.parse(raw) as JournalEntry & { prev: string; hash: string };
      return entry;
    });
}

function concerns(entry: JournalEntry, stepId: string): boolean {
  return entry.stepId === stepId || (entry.event as Event | undefined)?.stepId === stepId;
}

export function formatEntry(entry: JournalEntry, options: Pick<LogOptions, 'zone' | 'json'>): string {
  if (options.json) return JSON.stringify({ ...entry, at: isoTime(entry.at, options.zone) });
  return `${String(entry.seq).padStart(5)}  ${peopleTime(entry.at, options.zone)}  ${describeEntry(entry)}`;
}

/** Print the journal (filtered), then with `follow` every line appended until the signal ends it. */
export async function showLog(options: LogOptions, out: (line: string) => void): Promise<void> {
  if (options.stepId && !(options.runbook ?? builtinRunbook).findStep(options.stepId)) {
    throw new ExitError(`--step ${options.stepId}: there is no such step. See the step ids with: cutover plan`, EXIT.usage);
  }
  if (storeAt(options.stateDir)) return showStoredLog(options, out);
  const path = journalPath(options.stateDir);
  if (!existsSync(path) && !options.follow) {
    throw new ExitError(`There is no journal in ${options.stateDir} yet: nothing has run. Start with: cutover run`, EXIT.usage);
  }
  const print = (entry: JournalEntry) => {
    if (!options.stepId || concerns(entry, options.stepId)) out(formatEntry(entry, options));
  };
  let seen = 0;
  if (existsSync(path)) {
    // The hash chain is verified: a damaged journal is refused here as everywhere. A last line being
    // written by the runner at this very moment is given a moment to complete.
    for (let look = 0; look < 10 && verifyJournal(options.stateDir).tornBytes; look++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const torn = Journal.open(options.stateDir).torn;
    // Still incomplete: a write that was never acknowledged (the runner died in it). It is not part of
    // the record; the next runner cuts it and journals the cut.
    if (torn && !options.follow) {
      options.warn?.(`The last line of the journal is incomplete (${torn} bytes, never acknowledged): not shown. The next \`cutover run\` cuts it and journals the cut.`);
    }
    const text = readFileSync(path, 'utf8');
    seen = text.lastIndexOf('\n') + 1;
    for (const entry of parseLines(text.slice(0, seen))) print(entry);
  }
  if (!options.follow) return;
  const signal = options.signal;
  while (!signal?.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 250);
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (!existsSync(path) || statSync(path).size <= seen) continue;
    const text = readFileSync(path, 'utf8');
    // Only complete lines: the writer may be half-way through one.
    const end = text.lastIndexOf('\n') + 1;
    for (const entry of parseLines(text.slice(seen, end))) print(entry);
    seen = end;
  }
}

/** The same for a journal in a state database (team mode): rows are whole, so no torn line to wait for. */
async function showStoredLog(options: LogOptions, out: (line: string) => void): Promise<void> {
  let seen = 0;
  const printNew = () => {
    for (const entry of Journal.open(options.stateDir).entries.slice(seen)) {
      if (!options.stepId || concerns(entry, options.stepId)) out(formatEntry(entry, options));
      seen = entry.seq;
    }
  };
  printNew();
  if (seen === 0 && !options.follow) throw new ExitError(`There is no journal in ${storeAt(options.stateDir)!.where} yet: nothing has run. Start with: cutover run`, EXIT.usage);
  const signal = options.signal;
  while (options.follow && !signal?.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 250);
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (!signal?.aborted) printNew();
  }
}
