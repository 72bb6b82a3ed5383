import type { JournalEntry } from '../engine/journal.js';
import type { Progress } from '../steps/types.js';

/** The latest progress of a step, with the rate and ETA measured since the current stretch began. */
export interface ProgressReading {
  stepId: string;
  progress: Progress;
  at: number;
  /** Units per second; absent until two reports apart in time have been seen. */
  rate?: number;
  /** Time left at the current rate; absent without a total or a rate. */
  etaMs?: number;
}

type Listener = () => void;

/**
 * What the runner reports as it goes (progress ticks and journal lines), kept for the UI. The runner
 * takes these callbacks when it is opened, before any component exists, so they land here and the
 * components subscribe. Progress and the journal notify separately: a progress tick must not make
 * the log tail (or anything else) render.
 */
export class LiveFeed {
  private readonly latest = new Map<string, ProgressReading>();
  /** Where the rate is measured from: reset when the label changes (a new table) or the count goes back. */
  private readonly stretch = new Map<string, { label: string; done: number; at: number }>();
  private readonly entries: JournalEntry[] = [];
  private readonly progressListeners = new Set<Listener>();
  private readonly journalListeners = new Set<Listener>();

  /** `now` is the engine's clock: actions take real time even when a rehearsal compresses waits. */
  constructor(
    private readonly now: () => number,
    private readonly keep = 200,
  ) {}

  readonly onProgress = (stepId: string, progress: Progress): void => {
    const at = this.now();
    const start = this.stretch.get(stepId);
    let rate: number | undefined;
    if (!start || start.label !== progress.label || progress.done < start.done) {
      this.stretch.set(stepId, { label: progress.label, done: progress.done, at });
    } else if (at > start.at && progress.done > start.done) {
      rate = ((progress.done - start.done) * 1000) / (at - start.at);
    }
    const etaMs = rate && progress.total !== undefined ? (Math.max(0, progress.total - progress.done) / rate) * 1000 : undefined;
    this.latest.set(stepId, { stepId, progress, at, ...(rate !== undefined ? { rate } : {}), ...(etaMs !== undefined ? { etaMs } : {}) });
    for (const listener of this.progressListeners) listener();
  };

  readonly onJournal = (entry: JournalEntry): void => {
    if (this.entries.some((known) => known.seq === entry.seq)) return;
    // A new attempt starts from nothing: the last attempt's count and rate say nothing about it.
    if ((entry.type === 'step.started' || entry.type === 'step.resumed') && typeof entry.stepId === 'string') {
      this.latest.delete(entry.stepId);
      this.stretch.delete(entry.stepId);
    }
    this.entries.push(entry);
    if (this.entries.length > this.keep) this.entries.splice(0, this.entries.length - this.keep);
    for (const listener of this.journalListeners) listener();
  };

  /** Lines already on disk when the UI opened (a resumed run shows its recent past). */
  seed(entries: readonly JournalEntry[]): void {
    const known = new Set(this.entries.map((entry) => entry.seq));
    const merged = [...entries.slice(-this.keep).filter((entry) => !known.has(entry.seq)), ...this.entries].sort((a, b) => a.seq - b.seq);
    this.entries.splice(0, this.entries.length, ...merged.slice(-this.keep));
    for (const listener of this.journalListeners) listener();
  }

  progress(stepId: string): ProgressReading | undefined {
    return this.latest.get(stepId);
  }

  journal(): readonly JournalEntry[] {
    return this.entries;
  }

  /** Arrow properties: stable identities, so a component's subscription effect runs once. */
  readonly subscribeProgress = (listener: Listener): (() => void) => {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  };

  readonly subscribeJournal = (listener: Listener): (() => void) => {
    this.journalListeners.add(listener);
    return () => this.journalListeners.delete(listener);
  };
}
