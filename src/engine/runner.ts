import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import { createActor, fromPromise, type Actor, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import { buildMachine, OUTCOME_UNKNOWN, type RunContext, type RunEvent, type RunSettings, type RunStepInput, type StepOutcome, type TimerInput } from '../../machines/machine.js';
import type { Plan } from '../config/schema.js';
import { runbookOfPlan } from '../config/custom-steps.js';
import { settingsFromPlan } from '../config/settings.js';
import { outputsOf } from '../steps/outputs.js';
import type { Adapters, Progress, StepContext, StepRegistry } from '../steps/types.js';
import type { Clock } from './clock.js';
import { ExitError, EXIT } from './errors.js';
import type { Journal, JournalEntry } from './journal.js';
import { replayEnded } from './replay.js';
import { openLockedJournal } from './locked-journal.js';
import { assertionLine } from './assertion.js';
import { authorityOf, authorize, type Authority } from './authority.js';
import { accountOfUid, identityRecord, recognise, type Identity } from './identity.js';
import { answerRequest, ensureInbox, pendingRequests, pruneAnswers } from './inbox.js';
import { collectSecrets, redact } from './redact.js';
import { storeAt } from './run-store.js';
import { checkBinding, checkRestorable, type Binding } from './binding.js';
import { loadState, planFingerprint, saveState, type StoredState } from './state-store.js';
import { describeLocation, explainRefusal, locate, planStepsPassed, type Location } from './view.js';

export interface RunnerOptions {
  stateDir: string;
  plan: Plan;
  planDir: string;
  registry: StepRegistry;
  adapters: Adapters;
  clock: Clock;
  env?: Record<string, string | undefined>;
  /**
   * `drive` runs actions and waits. `command` only records outside events (sign-off, skip, retry…):
   * actions and timers it would start are held, so they run in the next `cutover run`, not here.
   */
  mode: 'drive' | 'command';
  /** Shown to a second runner that finds the lock. */
  command: string;
  /** Retries of a failing action before the step fails (backoff doubles from `retryDelayMs`). */
  retries?: number;
  retryDelayMs?: number;
  onProgress?(stepId: string, progress: Progress): void;
  onJournal?(entry: JournalEntry): void;
  /** Compressed clocks: where to save their offset, so a resumed rehearsal stays on its timeline. */
  clockOffset?: { get(): number; set(offsetMs: number): void };
}

/** Who sends an event, as the system established it; `inbox` names the outside request it came from. */
export interface Sender {
  identity: Identity;
  /** The typed rollback phrase (rollback and abort). */
  phrase?: string;
  inbox?: string;
}

/** Why `drive` returned. */
export type Blocked =
  | { kind: 'signoff' | 'confirm' | 'failed' | 'unknown' | 'rejected'; location: Location }
  | { kind: 'time'; location: Location; until: number }
  | { kind: 'until'; location: Location }
  | { kind: 'ended'; location: Location };

export class NotImplementedError extends Error {
  override name = 'NotImplementedError';
}

class OutcomeUnknownError extends Error {
  override name = OUTCOME_UNKNOWN;
}

type RunSnapshot = SnapshotFrom<AnyStateMachine>;

/** How often a driver looks for requests from other processes: well within the promised second. */
const INBOX_POLL_MS = 250;

function newRunId(now: number): string {
  const stamp = new Date(now).toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

const sameAttempt = (entry: JournalEntry, input: RunStepInput) =>
  entry.stepId === input.stepId && entry.attempt === input.attempt && (entry.occurrence ?? null) === (input.occurrence ?? null);

/**
 * Drives one cutover: restore the actor from the stored snapshot, send events, persist after every
 * transition, stop. Nothing else holds state (STYLE 4).
 */
export class Runner {
  readonly journal: Journal;
  readonly runId: string;
  private readonly actor: Actor<AnyStateMachine>;
  private readonly release: () => void;
  private readonly secrets: string[];
  private appliedSeq: number;
  private stopBefore?: string;
  private listeners = new Set<(snapshot: RunSnapshot) => void>();
  private progressByStep = new Map<string, Progress>();
  private stopped = false;
  private closed = false;
  private started = false;
  /** The plan's settings when they differ from the stored run's (T0 moved…): sent as REPLAN on start. */
  private pendingReplan?: RunSettings;
  private authority?: Authority;
  private inboxTimer?: NodeJS.Timeout;
  private stopWaking?: () => void;
  private eventListeners = new Set<() => void>();
  /** A write to the state folder failed (full disk…): nothing more is done or saved. */
  private fault?: Error;
  private faultListeners = new Set<(error: Error) => void>();

  private constructor(private readonly options: RunnerOptions) {
    const { stateDir, clock } = options;
    let stored: StoredState | undefined;
    let binding: Binding = {};
    // State and journal must belong together (and to this plan) before a line is added to the journal.
    const locked = openLockedJournal(stateDir, options.command, () => clock.now(), {
      env: options.env ?? process.env,
      check: (journal) => {
        stored = loadState(stateDir);
        binding = checkBinding(stateDir, stored, journal, options.plan);
      },
    });
    this.release = locked.release;
    try {
      this.journal = locked.journal;
      for (const entry of locked.opened) options.onJournal?.(entry);
      if (options.mode === 'drive') {
        ensureInbox(stateDir);
        pruneAnswers(stateDir);
      }
      this.secrets = collectSecrets(options.plan, options.env ?? process.env);
      if (stored?.clockOffsetMs !== undefined) options.clockOffset?.set(stored.clockOffsetMs);
      this.runId = stored?.runId ?? binding.journalRunId ?? newRunId(clock.now());
      this.appliedSeq = stored?.appliedSeq ?? this.journal.lastSeq;
      const settings = settingsFromPlan(options.plan);
      const machine = buildMachine(runbookOfPlan(options.plan)).provide({
        actors: {
          runStep: fromPromise<StepOutcome, RunStepInput>(({ input, signal }) => this.runStep(input, signal)),
          timer: fromPromise<{ now: number }, TimerInput>(({ input, signal }) => this.wait(input, signal)),
        },
      });
      checkRestorable(machine, stored);
      this.actor = createActor(machine, {
        ...(stored ? { snapshot: stored.machine as never } : {}),
        input: { runId: this.runId, ...settings },
      });
      if (!stored && !binding.journalRunId) {
        this.note('run.created', { runId: this.runId, plan: options.plan.name, environment: options.plan.environment, planFingerprint: planFingerprint(options.plan) });
      }
      this.actor.subscribe({
        next: (snapshot) => this.persist(snapshot),
        error: (error) => this.note('engine.error', { error: String(error) }),
      });
      this.pendingReplan = JSON.stringify(pickSettings(this.context())) !== JSON.stringify(settings) ? settings : undefined;
    } catch (error) {
      this.release();
      throw error;
    }
  }

  static open(options: RunnerOptions): Runner {
    return new Runner(options);
  }

  /** The snapshot before anything runs: what a command sees when it decides whether it may act. */
  snapshot(): RunSnapshot {
    return this.actor.getSnapshot();
  }

  context(): RunContext {
    return this.snapshot().context as RunContext;
  }

  location(): Location {
    return locate(this.snapshot());
  }

  progress(stepId: string): Progress | undefined {
    return this.progressByStep.get(stepId);
  }

  /** Start the actor: re-runs what was in flight, replays journaled events the state missed. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.actor.start();
    for (const entry of this.journal.entries) {
      if (entry.type === 'event' && entry.seq > this.appliedSeq) {
        this.appliedSeq = entry.seq;
        this.actor.send(entry.event as RunEvent);
      }
    }
    if (this.pendingReplan) {
      const before = this.context().t0;
      this.actor.send({ type: 'REPLAN', ...this.pendingReplan });
      this.note('plan.changed', {
        ...(before !== this.pendingReplan.t0 ? { t0: { from: new Date(before).toISOString(), to: new Date(this.pendingReplan.t0).toISOString() } } : {}),
      });
      this.pendingReplan = undefined;
    }
    // A step the plan added behind where the run stands will not run: say so once, not at every start.
    const passed = planStepsPassed(this.snapshot());
    const said = this.journal.entries.findLast((entry) => entry.type === 'plan.steps-passed')?.steps;
    if (passed.length && JSON.stringify(said) !== JSON.stringify(passed)) this.note('plan.steps-passed', { steps: passed });
    // Requests another process handed in while nobody drove, then, while driving, every quarter second.
    this.applyInbox();
    if (this.options.mode === 'drive') {
      const look = () => {
        try {
          this.applyInbox();
        } catch {
          // The inbox could not be read or answered (a full disk…): the requests stay, the next look retries.
        }
      };
      // Team mode: a NOTIFY wakes the driver as a request lands; the timer is the fallback.
      const store = storeAt(this.options.stateDir);
      if (store) {
        const stopLooking = store.onRequest(look);
        // A driver whose session ended holds nothing any more: another process may take over at once,
        // so this one stops now (in-flight actions are aborted) rather than at its next write.
        const stopLosing = store.onLost(() =>
          this.stopOnFault(
            new ExitError(
              `The connection to ${store.where} was lost: this process no longer holds the run, and another may take it over. Nothing recorded is lost; run \`cutover run\` again to resume.`,
              EXIT.attention,
            ),
          ),
        );
        this.stopWaking = () => (stopLooking(), stopLosing());
      }
      this.inboxTimer = setInterval(look, store?.pollMs ?? INBOX_POLL_MS);
      this.inboxTimer.unref();
    }
  }

  /**
   * Called after an outside event was applied, whoever sent it (this process or another one through
   * the inbox), so a driver waiting for a person looks again.
   */
  onEvent(listener: () => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Apply the requests other processes left in the inbox, oldest first: each is judged like an event
   * sent here (authority, then the machine), for the person who owns the request file, and answered.
   */
  applyInbox(): number {
    if (this.stopped || this.fault) return 0;
    let applied = 0;
    for (const pending of pendingRequests(this.options.stateDir)) {
      // Journaled but not answered: the driver stopped in between. Answer, never apply twice.
      if (this.journal.entries.some((entry) => entry.inbox === pending.id)) {
        answerRequest(this.options.stateDir, pending.id, { ok: true, message: 'Recorded.' });
        continue;
      }
      if (!pending.request) {
        answerRequest(this.options.stateDir, pending.id, { ok: false, message: `The request was not applied: ${pending.problem}.` });
        continue;
      }
      // Who asked is what the system recorded: the owner of the request file, or the login of the session that inserted the row.
      const identity = pending.login !== undefined ? recognise(this.options.plan, pending.login, 'postgres-login') : recognise(this.options.plan, accountOfUid(pending.uid));
      try {
        const { assertion, phrase } = pending.request;
        let { event } = pending.request;
        if (assertion) {
          const line = assertionLine(this.options.plan, identity, assertion, this.journal.entries);
          this.note(line.type, { ...line.fields, inbox: pending.id });
        } else if (event) {
          // The sender cannot see the state: before the freeze the same request aborts, as `cutover rollback` says.
          if (event.type === 'ROLLBACK' && !this.context().frozen) event = { ...event, type: 'ABORT' };
          // Stamped by the run's clock (a rehearsal's runs ahead of the sender's), when it takes effect.
          if ('at' in event) event = { ...event, at: this.options.clock.now() };
          this.send(event, { identity, ...(phrase !== undefined ? { phrase } : {}), inbox: pending.id });
        } else {
          throw new ExitError('The request names neither an event nor an assertion.', EXIT.usage);
        }
        applied++;
        answerRequest(this.options.stateDir, pending.id, {
          ok: true,
          message: `Recorded as ${identity.name} (journal line ${this.journal.lastSeq}). ${describeLocation(this.snapshot(), this.options.clock.now(), this.options.plan.t0.zone)}`,
        });
      } catch (error) {
        answerRequest(this.options.stateDir, pending.id, { ok: false, message: error instanceof Error ? error.message : String(error) });
      }
    }
    return applied;
  }

  /**
   * Record an outside event (sign-off, confirmation, skip, retry, rollback) and apply it. The journal
   * line is fsync'd first: if the process dies right after, the next start applies it from there.
   */
  send(event: RunEvent, actor: Sender): void {
    if (this.fault) throw this.fault;
    // The name on the record is the one the system recognised, whatever the caller put in `by`.
    if ('by' in event) event = { ...event, by: actor.identity.name };
    const verdict = authorize((this.authority ??= authorityOf(this.options.plan)), actor.identity, event, actor.phrase !== undefined ? { phrase: actor.phrase } : {});
    if (!verdict.ok) throw new ExitError(verdict.message, EXIT.usage);
    const snapshot = this.snapshot();
    if (!snapshot.can(event)) throw new ExitError(explainRefusal(snapshot, event, this.options.clock.now(), this.options.plan.t0.zone), EXIT.usage);
    const entry = this.journal.append(this.options.clock.now(), 'event', {
      event: redact(event, this.secrets),
      identity: identityRecord(actor.identity),
      ...(actor.inbox ? { inbox: actor.inbox } : {}),
    });
    this.options.onJournal?.(entry);
    this.appliedSeq = entry.seq;
    this.actor.send(event);
    for (const listener of this.eventListeners) listener();
  }

  subscribe(listener: (snapshot: RunSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Run until the machine needs something it cannot give itself. `waitGates: false` (non-interactive)
   * returns at a time gate instead of sleeping through it; `until` stops before that step runs.
   */
  drive(options: { waitGates: boolean; until?: string }): Promise<Blocked> {
    this.stopBefore = options.until;
    return new Promise((resolve, reject) => {
      const check = (snapshot: RunSnapshot) => {
        if (snapshot.status === 'error') {
          unsubscribe();
          reject(snapshot.error);
          return;
        }
        const blocked = this.blockedAt(snapshot, options);
        if (blocked) {
          unsubscribe();
          resolve(blocked);
        }
      };
      // Start (and replay journaled events) before judging where the run stands.
      if (!this.started) this.start();
      const onFault = (error: Error) => {
        unsubscribe();
        reject(error);
      };
      const unsubscribe = () => {
        stopListening();
        this.faultListeners.delete(onFault);
      };
      const stopListening = this.subscribe(check);
      this.faultListeners.add(onFault);
      if (this.fault) onFault(this.fault);
      queueMicrotask(() => check(this.snapshot()));
    });
  }

  private blockedAt(snapshot: RunSnapshot, options: { waitGates: boolean; until?: string }): Blocked | undefined {
    const location = locate(snapshot);
    if (snapshot.status === 'done') return { kind: 'ended', location };
    if (options.until && location.stepId === options.until && !snapshot.hasTag('failed')) return { kind: 'until', location };
    if (snapshot.hasTag('waiting:signoff')) return { kind: 'signoff', location };
    if (snapshot.hasTag('waiting:confirm')) return { kind: 'confirm', location };
    if (snapshot.hasTag('failed')) return { kind: 'failed', location };
    if (snapshot.hasTag('unknown')) return { kind: 'unknown', location };
    if (snapshot.hasTag('rejected')) return { kind: 'rejected', location };
    if (snapshot.hasTag('waiting:time') && !options.waitGates && location.until !== undefined && location.until > this.options.clock.now()) {
      return { kind: 'time', location, until: location.until };
    }
    return undefined;
  }

  /** Stop the actor and release the lock. The state on disk already holds everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopBefore = '*';
    clearInterval(this.inboxTimer);
    this.stopWaking?.();
    // A request handed in since the last look is answered now rather than left for the next runner:
    // the timer's short `cutover run` may hold the lock just when someone signs.
    try {
      if (this.started && !this.stopped && !this.fault) this.applyInbox();
    } catch {
      // Left in the inbox: the next runner applies it. Closing must still release the lock.
    }
    if (!this.stopped) {
      this.stopped = true;
      this.actor.stop();
    }
    this.release();
  }

  private note(type: string, fields: Record<string, unknown>): JournalEntry {
    if (this.fault) throw this.fault;
    let entry: JournalEntry;
    try {
      entry = this.journal.append(this.options.clock.now(), type, redact(fields, this.secrets) as Record<string, unknown>);
    } catch (error) {
      this.stopOnFault(error as Error);
      throw error;
    }
    this.options.onJournal?.(entry);
    return entry;
  }

  /**
   * A write to the state folder failed. The journal and the state on disk are whole (a failed write
   * is taken back), so stop here: nothing further runs or is saved, and `drive` rejects with the
   * error (a full disk or permission problem is an ExitError naming the folder).
   */
  private stopOnFault(error: Error): void {
    if (this.fault) return;
    this.fault = error;
    this.stopBefore = '*';
    for (const listener of this.faultListeners) listener(error);
    // Not inside XState's notification: stop once the current transition is done.
    queueMicrotask(() => {
      if (this.stopped) return;
      this.stopped = true;
      this.actor.stop();
    });
  }

  private persist(snapshot: RunSnapshot): void {
    if (this.fault) return;
    try {
      saveState(this.options.stateDir, {
        runId: this.runId,
        machine: this.actor.getPersistedSnapshot(),
        appliedSeq: this.appliedSeq,
        planFingerprint: planFingerprint(this.options.plan),
        journal: { seq: this.journal.lastSeq, hash: this.journal.headHash },
        ...(this.options.clockOffset ? { clockOffsetMs: this.options.clockOffset.get() } : {}),
      });
    } catch (error) {
      this.stopOnFault(error as Error);
      return;
    }
    for (const listener of this.listeners) listener(snapshot);
  }

  private async wait(input: TimerInput, signal: AbortSignal): Promise<{ now: number }> {
    if (this.options.mode === 'command') return new Promise(() => {});
    await this.options.clock.sleepUntil(input.deadline, signal);
    return { now: this.options.clock.now() };
  }

  private async runStep(input: RunStepInput, signal: AbortSignal): Promise<StepOutcome> {
    // XState starts an invoked actor inside the transition that enters its state, before subscribers
    // see the new snapshot. Yield once so the state file records "this step is running" before the
    // step has any effect.
    await new Promise((resolve) => setImmediate(resolve));
    if (signal.aborted) throw signal.reason;
    if (this.fault) return new Promise(() => {});
    const { clock } = this.options;
    const { stepId } = input;
    const held = this.options.mode === 'command' || this.stopBefore === '*' || this.stopBefore === stepId;
    const entries = this.journal.entries;
    const started = entries.some((entry) => entry.type === 'step.started' && sameAttempt(entry, input));
    const ended = entries.findLast((entry) => (entry.type === 'step.finished' || entry.type === 'step.failed') && sameAttempt(entry, input));
    if (held && !started) return new Promise(() => {});
    const key = { stepId, attempt: input.attempt, ...(input.occurrence ? { occurrence: input.occurrence } : {}) };
    // The journal is the record: an attempt it shows finished (the process died before the state file
    // caught up) is not run again, its recorded result is replayed.
    if (ended?.type === 'step.finished') this.note('step.replayed', key);
    if (ended?.type === 'step.finished' || ended?.type === 'step.failed') return replayEnded(ended);
    if (started && !ended) {
      if (runbookOfPlan(this.options.plan).findStep(stepId)?.step.notIdempotent) {
        this.note('step.outcome-unknown', key);
        throw new OutcomeUnknownError(
          `${stepId} was started but the runner stopped before it finished, and it cannot safely run twice. ` +
            `Check whether it took effect, then \`cutover retry ${stepId}\` to run it again or \`cutover skip ${stepId} --reason TEXT\` if it did.`,
        );
      }
      this.note('step.resumed', key);
    } else {
      this.note('step.started', key);
    }
    const startedAt = clock.now();
    const action = this.options.registry[stepId];
    try {
      if (!action) throw new NotImplementedError(`${stepId} is not implemented yet: no action is registered for it. Skip it with a reason, or do it by hand and skip.`);
      const context = this.stepContext(input, signal);
      const result = await pRetry(() => action.run(context), {
        retries: this.options.retries ?? 2,
        minTimeout: this.options.retryDelayMs ?? 2_000,
        signal,
        // Errors that say retrying cannot help (not implemented, a user mistake, an adapter that already
        // made its own bounded retries) fail the step at once.
        shouldRetry: ({ error, attemptNumber, retriesLeft }) => {
          const retry = !(error instanceof NotImplementedError) && !(error instanceof ExitError) && (error as { retryable?: boolean }).retryable !== false;
          if (retry && retriesLeft > 0) this.note('step.retrying', { ...key, try: attemptNumber, error: error.message });
          return retry;
        },
      });
      const finishedAt = clock.now();
      const outcome: StepOutcome = {
        summary: redact(result.summary, this.secrets),
        ...(result.output !== undefined ? { output: redact(result.output, this.secrets) } : {}),
        ...(result.attention ? { attention: redact(result.attention, this.secrets) as StepOutcome['attention'] } : {}),
        startedAt,
        finishedAt,
      };
      const { startedAt: _s, finishedAt: _f, ...recorded } = outcome;
      this.note('step.finished', {
        ...key,
        durationMs: finishedAt - startedAt,
        startedAt,
        summary: outcome.summary,
        ...(outcome.attention ? { attention: outcome.attention.reason } : {}),
        result: recorded,
      });
      return outcome;
    } catch (error) {
      if (signal.aborted) throw error;
      const message = redact(error instanceof Error ? error.message : String(error), this.secrets) as string;
      this.note('step.failed', { ...key, durationMs: clock.now() - startedAt, error: message, errorName: error instanceof Error ? error.name : 'Error' });
      const failure = new Error(message);
      failure.name = error instanceof Error ? error.name : 'Error';
      throw failure;
    }
  }

  private stepContext(input: RunStepInput, signal: AbortSignal): StepContext {
    const context = this.context();
    const outputs = outputsOf(context.steps);
    return {
      plan: this.options.plan,
      planDir: this.options.planDir,
      runId: this.runId,
      stepId: input.stepId,
      attempt: input.attempt,
      clock: this.options.clock,
      stateDir: this.options.stateDir,
      outputs,
      ...(context.switchedAt !== undefined ? { switchedAt: new Date(context.switchedAt).toISOString() } : {}),
      adapters: this.options.adapters,
      progress: (report) => {
        this.progressByStep.set(input.stepId, report);
        this.options.onProgress?.(input.stepId, report);
      },
      note: (message, data) => {
        this.note('step.note', { stepId: input.stepId, attempt: input.attempt, message, ...(data ?? {}) });
      },
      signal,
      env: this.options.env ?? process.env,
    };
  }
}

function pickSettings(context: RunContext): RunSettings {
  return { t0: context.t0, cadences: context.cadences, signoff: context.signoff, phrases: context.phrases };
}
