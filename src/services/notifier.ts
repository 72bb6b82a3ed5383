import { announceDurableWrite } from '../adapters/atomic-write.js';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnyMachineSnapshot } from 'xstate';
import type { NotifyEvent, NotifyTarget } from '../adapters/notify-types.js';
import type { RetryOptions } from '../adapters/retry.js';
import type { Plan } from '../config/schema.js';
import { runbookOfPlan } from '../config/custom-steps.js';
import type { Clock } from '../engine/clock.js';
import type { JournalEntry } from '../engine/journal.js';
import { collectSecrets, redact } from '../engine/redact.js';
import { eventsFromEntry, eventsFromSnapshot, type RunFacts } from './notify-events.js';

/**
 * Sends the run's events to the plan's notification targets: each event to each target once, never
 * twice after a resume, and never in the run's way.
 *
 * The record is `external/notify/deliveries.ndjson` in the state folder, one fsync'd line per change,
 * like the mail progress files: a delivery is `queued` (with its event, so a restart can send it),
 * then `sending` right before the request, then `sent` or `failed`. The journal position the
 * notifier has read up to is a `cursor` line, written after the deliveries it queued, so a runner
 * killed in between queues the same delivery ids again and they are found already there.
 *
 * On restart a `queued` delivery is sent; a `sending` one (the process died during the request) is
 * sent again only to a target that drops repeats (PagerDuty's dedup key, the webhook's delivery id)
 * and is recorded `unknown` for a chat webhook, where a repeat would show twice.
 *
 * Sending happens in the background, one delivery at a time per target (a resolve never overtakes
 * its trigger), each bounded by the plan's `deadlineSeconds`; `settle()` waits for what is in flight,
 * bounded too, before the process exits.
 */

export type DeliveryState = 'queued' | 'sending' | 'sent' | 'failed' | 'unknown';

export interface Delivery {
  id: string;
  target: string;
  state: DeliveryState;
  event: NotifyEvent;
  error?: string;
  /** ISO time of the last change. */
  at: string;
}

type RecordLine =
  | { t: 'cursor'; runId: string; seq: number }
  | { t: 'queued'; runId: string; id: string; target: string; event: NotifyEvent; at: string }
  | { t: 'sending' | 'sent' | 'unknown'; runId: string; id: string; at: string }
  | { t: 'failed'; runId: string; id: string; at: string; error: string };

export function deliveriesPath(stateDir: string): string {
  return join(stateDir, 'external', 'notify', 'deliveries.ndjson');
}

/** What the record says about each delivery of `runId` (all runs when absent), in order. */
export function readDeliveries(stateDir: string, runId?: string): { deliveries: Delivery[]; cursor?: number } {
  const path = deliveriesPath(stateDir);
  const byId = new Map<string, Delivery>();
  let cursor: number | undefined;
  if (!existsSync(path)) return { deliveries: [] };
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    if (!raw) continue;
    let line: RecordLine;
    try {
      line = JSON.parse(raw) as RecordLine;
    } catch {
      continue; // a line cut by a crash: it was never acted on
    }
    if (runId && line.runId !== runId) continue;
    if (line.t === 'cursor') cursor = line.seq;
    else if (line.t === 'queued') byId.set(line.id, { id: line.id, target: line.target, state: 'queued', event: line.event, at: line.at });
    else {
      const delivery = byId.get(line.id);
      if (!delivery) continue;
      delivery.state = line.t;
      delivery.at = line.at;
      if (line.t === 'failed') delivery.error = line.error;
    }
  }
  return { deliveries: [...byId.values()], ...(cursor !== undefined ? { cursor } : {}) };
}

export interface NotifierOptions {
  stateDir: string;
  plan: Plan;
  targets: NotifyTarget[];
  clock: Clock;
  env?: Record<string, string | undefined>;
  /** Retry policy of each delivery (tests shorten the waits); its deadline comes from the plan. */
  retry?: RetryOptions;
  /** Without a record yet, start after this journal line (default: the last one; history is not sent). */
  startAfter?: number;
  /** Told after each delivery ends (sent, failed, unknown): progress output, tests. */
  onDelivery?(delivery: Delivery): void;
}

/** The runner as the notifier sees it: its id, journal and (when it drives) its snapshots. */
export interface RunSource {
  runId: string;
  /** Absent for a process that may not read the journal in order (it has no lock): events come through `notify` only. */
  journal?: { readonly entries: readonly JournalEntry[]; readonly lastSeq: number };
  snapshot?(): AnyMachineSnapshot;
  subscribe?(listener: (snapshot: AnyMachineSnapshot) => void): () => void;
}

const active = new Set<Notifier>();

/** Wait (bounded by each plan's delivery deadline) for every notifier of this process to finish what it is sending. */
export async function settleNotifications(): Promise<void> {
  await Promise.all([...active].map((notifier) => notifier.settle()));
}

export class Notifier {
  private readonly deliveries = new Map<string, Delivery>();
  /** target → incidents it was told about: only those get a resolve. */
  private readonly opened = new Map<string, Set<string>>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly facts: RunFacts;
  private readonly secrets: string[];
  private readonly aborts = new AbortController();
  private cursor: number;
  /** Set by `settle`: the wall-clock time by which sending must be over. */
  private drainUntil?: number;
  private unsubscribe?: () => void;

  private constructor(
    private readonly options: NotifierOptions,
    private readonly run: RunSource,
  ) {
    const { plan } = options;
    this.facts = { runId: run.runId, plan: plan.name, environment: plan.environment, zone: plan.t0.zone, runbook: runbookOfPlan(plan) };
    this.secrets = collectSecrets(plan, options.env ?? process.env);
    const recorded = readDeliveries(options.stateDir, run.runId);
    for (const delivery of recorded.deliveries) {
      this.deliveries.set(delivery.id, delivery);
      if (delivery.event.incident && delivery.event.kind !== 'resolved') this.incidents(delivery.target).add(delivery.event.incident);
    }
    // Notifications added to a plan mid-run start from now, not with the run's history.
    this.cursor = recorded.cursor ?? options.startAfter ?? run.journal?.lastSeq ?? 0;
    if (recorded.cursor === undefined && run.journal) this.write({ t: 'cursor', runId: run.runId, seq: this.cursor });
  }

  /** Follow a runner: catch up on the journal since the last cursor, then every new line and snapshot. */
  static attach(options: NotifierOptions, run: RunSource): Notifier {
    const notifier = new Notifier(options, run);
    active.add(notifier);
    notifier.resumeUnfinished();
    notifier.catchUp();
    notifier.unsubscribe = run.subscribe?.((snapshot) => notifier.onSnapshot(snapshot));
    if (run.snapshot) notifier.onSnapshot(run.snapshot());
    return notifier;
  }

  /** The runner's `onJournal` hook. */
  onEntry(entry: JournalEntry): void {
    if (!this.run.journal || entry.seq <= this.cursor) return;
    for (const event of eventsFromEntry(entry, this.facts)) this.queue(event);
    this.cursor = entry.seq;
    this.write({ t: 'cursor', runId: this.run.runId, seq: entry.seq });
  }

  /** An event that has no journal line of its own (its key must say what happened, as ever). */
  notify(event: NotifyEvent): void {
    this.queue(event);
  }

  onSnapshot(snapshot: AnyMachineSnapshot): void {
    for (const event of eventsFromSnapshot(snapshot, this.facts, this.options.clock.now())) this.queue(event);
  }

  list(): Delivery[] {
    return [...this.deliveries.values()];
  }

  /**
   * Before the process exits: let what is in flight finish and send what is queued, within two
   * delivery deadlines. A delivery starts only if it can run to its own deadline inside that budget,
   * so none is cut off mid-request; what did not start stays queued for the next start.
   */
  async settle(): Promise<void> {
    const deadlineMs = this.options.plan.notifications.deadlineSeconds * 1000;
    this.drainUntil = Date.now() + 2 * deadlineMs + 1000;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.drainUntil! - Date.now())));
    await Promise.race([Promise.all([...this.chains.values()]), budget]);
    clearTimeout(timer);
    this.close();
  }

  /** Stop following the runner; deliveries in flight go on until `settle` or their deadline. */
  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Give up on deliveries in flight (the process is about to exit anyway). */
  close(): void {
    this.detach();
    this.aborts.abort(new Error('the notifier was closed'));
    active.delete(this);
  }

  private incidents(target: string): Set<string> {
    let set = this.opened.get(target);
    if (!set) this.opened.set(target, (set = new Set()));
    return set;
  }

  private catchUp(): void {
    for (const entry of this.run.journal?.entries ?? []) if (entry.seq > this.cursor) this.onEntry(entry);
  }

  private resumeUnfinished(): void {
    for (const delivery of this.deliveries.values()) {
      const target = this.options.targets.find((candidate) => candidate.name === delivery.target);
      if (!target) continue;
      if (delivery.state === 'queued') this.schedule(target, delivery);
      else if (delivery.state === 'sending') {
        if (target.idempotent) this.schedule(target, delivery);
        else this.finish(delivery, 'unknown');
      }
    }
  }

  private queue(event: NotifyEvent): void {
    for (const target of this.options.targets) {
      const id = `${target.name}:${event.key}`;
      if (this.deliveries.has(id) || !target.wants(event)) continue;
      if (event.incident) {
        const incidents = this.incidents(target.name);
        if (event.kind === 'resolved' || event.kind === 'rollback.finished') {
          // Resolve only what this target was told was wrong.
          if (!incidents.has(event.incident)) {
            if (event.kind === 'resolved') continue;
          } else incidents.delete(event.incident);
        } else incidents.add(event.incident);
      }
      const at = new Date(this.options.clock.now()).toISOString();
      const safe = redact(event, this.secrets) as NotifyEvent;
      const delivery: Delivery = { id, target: target.name, state: 'queued', event: safe, at };
      this.deliveries.set(id, delivery);
      this.write({ t: 'queued', runId: this.run.runId, id, target: target.name, event: safe, at });
      this.schedule(target, delivery);
    }
  }

  private schedule(target: NotifyTarget, delivery: Delivery): void {
    const previous = this.chains.get(target.name) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(target, delivery));
    this.chains.set(target.name, next);
  }

  private async deliver(target: NotifyTarget, delivery: Delivery): Promise<void> {
    if (this.aborts.signal.aborted) return;
    const deadlineMs = this.options.plan.notifications.deadlineSeconds * 1000;
    if (this.drainUntil !== undefined && Date.now() + deadlineMs + 500 > this.drainUntil) return; // left queued
    this.write({ t: 'sending', runId: this.run.runId, id: delivery.id, at: new Date(this.options.clock.now()).toISOString() });
    delivery.state = 'sending';
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = AbortSignal.any([deadline, this.aborts.signal]);
    try {
      await target.send(delivery.event, `${this.run.runId}:${delivery.id}`, { attempts: 5, maxRetryAfterMs: 60_000, ...this.options.retry, signal });
      this.finish(delivery, 'sent');
    } catch (error) {
      if (this.aborts.signal.aborted) return; // stays "sending": the next start judges it
      const message = deadline.aborted
        ? `gave up after ${this.options.plan.notifications.deadlineSeconds} s (notifications.deadlineSeconds)`
        : error instanceof Error ? error.message : String(error);
      this.finish(delivery, 'failed', redact(message, this.secrets) as string);
    }
  }

  private finish(delivery: Delivery, state: 'sent' | 'failed' | 'unknown', error?: string): void {
    const at = new Date(this.options.clock.now()).toISOString();
    delivery.state = state;
    delivery.at = at;
    if (state === 'failed') {
      delivery.error = error ?? 'failed';
      this.write({ t: 'failed', runId: this.run.runId, id: delivery.id, at, error: delivery.error });
    } else this.write({ t: state, runId: this.run.runId, id: delivery.id, at });
    this.options.onDelivery?.(delivery);
  }

  /**
   * One fsync'd line. A full disk or a vanished folder must not stop the run for a chat message: the
   * failure is swallowed, and at worst a delivery is sent again after a restart.
   */
  private write(line: RecordLine): void {
    const path = deliveriesPath(this.options.stateDir);
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(line)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      announceDurableWrite(path, readFileSync(path, 'utf8'));
    } catch {
      // see above
    }
  }
}
