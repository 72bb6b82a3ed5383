import type { Blocked, Runner } from '../engine/runner.js';

/**
 * Keeps the run going while the UI is open: drive (sleeping through time gates) until the machine
 * needs a person, then wait until the UI has sent something, then drive again. The UI never moves
 * the run itself; it only sends events and pokes this loop.
 */
export class DriveLoop {
  /** Where the last drive stopped; cleared when an event was sent, until the next drive says. */
  blocked?: Blocked;
  error?: unknown;
  private wake?: () => void;
  private stopped = false;

  constructor(
    private readonly runner: Runner,
    private readonly options: { until?: string },
    private readonly onChange: () => void,
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      // Created before driving, so an event sent while the run is busy is not missed.
      const poked = new Promise<void>((resolve) => (this.wake = resolve));
      try {
        const blocked = await this.runner.drive({ waitGates: true, ...(this.options.until ? { until: this.options.until } : {}) });
        if (this.stopped) return;
        this.blocked = blocked;
      } catch (error) {
        if (this.stopped) return;
        this.error = error;
        this.onChange();
        return;
      }
      this.onChange();
      await poked;
    }
  }

  /** An event was sent: the run may move on. */
  poke(): void {
    this.blocked = undefined;
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
