import { setTimeout as delay } from 'node:timers/promises';

/**
 * The engine's only source of time. Waits take an absolute deadline, so a resumed run computes what
 * is left from the clock instead of trusting a timer that died with the process.
 */
export interface Clock {
  readonly kind: 'real' | 'compressed' | 'manual';
  now(): number;
  /** Resolve once `now() >= deadline` (ms since epoch). Rejects with the signal's reason on abort. */
  sleepUntil(deadline: number, signal?: AbortSignal): Promise<void>;
}

/** Longest single real sleep; long waits are chunked so a changed wall clock is noticed. */
const MAX_REAL_SLEEP_MS = 60_000;

export class RealClock implements Clock {
  readonly kind = 'real';
  now(): number {
    return Date.now();
  }
  async sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const left = deadline - this.now();
      if (left <= 0) return;
      await delay(Math.min(left, MAX_REAL_SLEEP_MS), undefined, { signal });
    }
  }
}

/**
 * Rehearsal time: waits are divided by `speed` and then jump to their deadline; everything else
 * (actions) takes its real time. `offsetMs` is how far virtual time runs ahead of the wall clock; it
 * is saved with the state so a resumed rehearsal continues on the same timeline.
 */
export class CompressedClock implements Clock {
  readonly kind = 'compressed';
  constructor(
    readonly speed: number,
    public offsetMs = 0,
    private readonly onJump?: (offsetMs: number) => void,
  ) {
    if (!(speed >= 1)) throw new RangeError(`speed must be at least 1, got ${speed}`);
  }
  now(): number {
    return Date.now() + this.offsetMs;
  }
  async sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
    const left = deadline - this.now();
    if (left <= 0) return;
    await delay(Math.min(left / this.speed, MAX_REAL_SLEEP_MS), undefined, { signal });
    const stillLeft = deadline - this.now();
    if (stillLeft > 0) {
      this.offsetMs += stillLeft;
      this.onJump?.(this.offsetMs);
    }
  }
}

/**
 * Test time: it moves only when told. Sleepers wake when `set`/`advance` passes their deadline.
 * `nextDeadline()` lets a test (or a driver) jump straight to the next thing that is waiting.
 */
export class ManualClock implements Clock {
  readonly kind = 'manual';
  private sleepers = new Set<{ deadline: number; wake: () => void }>();
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  set(time: number): void {
    this.current = time;
    for (const sleeper of [...this.sleepers]) {
      if (sleeper.deadline <= time) {
        this.sleepers.delete(sleeper);
        sleeper.wake();
      }
    }
  }
  advance(ms: number): void {
    this.set(this.current + ms);
  }
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const { deadline } of this.sleepers) if (next === undefined || deadline < next) next = deadline;
    return next;
  }
  sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
    if (deadline <= this.current) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const sleeper = {
        deadline,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers.delete(sleeper);
        reject(signal?.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.add(sleeper);
    });
  }
}
