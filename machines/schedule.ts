import { runbook, stepMarked, type Anchor, type Cadence, type PhaseDef, type StepDef } from './runbook.js';

/**
 * Schedule math: absolute times from T0, the actual switch time and the plan's cadences. Offsets are
 * absolute durations (T-48h is 48 real hours before T0, whatever DST does to the wall clock).
 * Pure: no clock, no disk.
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** '15m' → 900000; '2h30m' → 9000000; '-48h' → -172800000; '+0m' → 0. Units largest first. */
export function parseDuration(text: string): number {
  const match = /^([+-]?)(?=\d)((?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?)$/.exec(text);
  if (!match) throw new RangeError(`not a duration: ${JSON.stringify(text)} (expected e.g. 15m, 2h30m, 1d)`);
  const [, sign, parts] = match;
  let ms = 0;
  for (const [, amount, unit] of parts!.matchAll(/(\d+)([dhms])/g)) ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return (sign === '-' ? -1 : 1) * ms;
}

/** What the schedule needs to know about a run. All times in ms since the epoch. */
export interface Timing {
  t0: number;
  /** Actual switch time, once dns.switch has finished. */
  switchedAt?: number;
  /** Switch time to plan with before it happened: T0 + the planned offset of the step that marks the switch. */
  plannedSwitch: number;
  cadences: Record<Cadence, number>;
}

export function plannedSwitchOffset(): number {
  return parseDuration(stepMarked('marksSwitch').planned ?? '+0m');
}

function anchorTime(timing: Timing, anchor: Anchor): number {
  return anchor === 't0' ? timing.t0 : (timing.switchedAt ?? timing.plannedSwitch);
}

function phaseById(id: string): PhaseDef {
  const phase = runbook.find((candidate) => candidate.id === id);
  if (!phase) throw new RangeError(`no phase ${id}`);
  return phase;
}

export function phaseOpensAt(timing: Timing, phaseId: string): number | undefined {
  const { opens } = phaseById(phaseId);
  return opens ? anchorTime(timing, opens.anchor) + parseDuration(opens.offset) : undefined;
}

export function phaseEndsAt(timing: Timing, phaseId: string): number | undefined {
  const { until } = phaseById(phaseId);
  return until ? anchorTime(timing, until.anchor) + parseDuration(until.offset) : undefined;
}

/**
 * Planned run times of a recurring step: every cadence after the phase opens, up to and including
 * the phase's end. Hypercare from the switch to +2h every 15 minutes runs 8 times.
 */
export function occurrences(timing: Timing, phaseId: string, step: StepDef): number[] {
  const open = phaseOpensAt(timing, phaseId);
  const end = phaseEndsAt(timing, phaseId);
  if (open === undefined || end === undefined || !step.every) return [];
  const every = timing.cadences[step.every];
  if (!(every > 0)) throw new RangeError(`cadence ${step.every} must be positive`);
  const times: number[] = [];
  for (let at = open + every; at <= end; at += every) times.push(at);
  return times;
}

/** The planned start of a step (recurring steps: their first run). */
export function plannedAt(timing: Timing, phaseId: string, step: StepDef): number | undefined {
  if (step.every) return occurrences(timing, phaseId, step)[0];
  const open = phaseOpensAt(timing, phaseId);
  if (open === undefined) return undefined;
  return open + (step.planned ? parseDuration(step.planned) : 0);
}

/** The next run of a recurring phase: the earliest pending occurrence over its steps. */
export function nextOccurrence(
  timing: Timing,
  phaseId: string,
  done: Readonly<Record<string, number>>,
): { stepId: string; index: number; at: number } | undefined {
  let next: { stepId: string; index: number; at: number } | undefined;
  for (const step of phaseById(phaseId).steps) {
    const times = occurrences(timing, phaseId, step);
    const index = done[step.id] ?? 0;
    const at = times[index];
    if (at !== undefined && (next === undefined || at < next.at)) next = { stepId: step.id, index, at };
  }
  return next;
}

/** How many runs of a recurring step were due by `now` (used to skip missed runs after an outage). */
export function dueCount(timing: Timing, phaseId: string, step: StepDef, now: number): number {
  return occurrences(timing, phaseId, step).filter((at) => at <= now).length;
}

export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(Math.round(ms / 60_000));
  const days = Math.floor(rest / 1440);
  rest -= days * 1440;
  const hours = Math.floor(rest / 60);
  const minutes = rest - hours * 60;
  const parts = [days ? `${days}d` : '', hours ? `${hours}h` : '', minutes || (!days && !hours) ? `${minutes}m` : ''];
  return sign + parts.filter(Boolean).join(' ');
}
