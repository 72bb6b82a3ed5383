import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { sameContent, sameName } from '../../adapters/local-dns.js';
import { ExternalError } from '../../adapters/retry.js';
import type { DnsRecord, DnsRecordRef } from '../../adapters/types.js';
import type { DnsRecordPlan, Plan } from '../../config/schema.js';
import { output } from '../outputs.js';
import type { StepAction, StepContext, StepResult } from '../types.js';

declare module '../outputs.js' {
  interface StepOutputs {
    /** Every record the switch touched, with its value before (so the revert is exact) and after. */
    'dns.switch': DnsStepOutput;
  }
}

/**
 * The DNS steps: lower TTL, switch, revert, restore TTL. Each one reads the live records, computes the
 * desired ones, shows the difference (dry run) or writes only what differs (run), and returns the
 * previous values in its output so the change can be undone exactly.
 *
 * The previous values are also captured to a file before the first write: if the process dies half
 * way through a switch and the step runs again, "before" must still be what was live before the
 * switch, not the half-switched state the second attempt would read.
 */

export interface DnsValue {
  content: string;
  ttl: number;
}

export interface DnsChange {
  name: string;
  type: DnsRecord['type'];
  before: DnsValue;
  after: DnsValue;
  changed: boolean;
}

export interface DnsStepOutput {
  zone: string;
  provider: string;
  changes: DnsChange[];
}

interface CapturedBefore {
  runId: string;
  stepId: string;
  capturedAt: string;
  records: DnsRecord[];
}

function recordRefs(plan: Plan): DnsRecordRef[] {
  return plan.dns.records.map(({ name, type }) => ({ name, type }));
}

function findRecord(records: DnsRecord[], ref: DnsRecordRef): DnsRecord | undefined {
  return records.find((record) => record.type === ref.type && sameName(record.name, ref.name));
}

function capturePath(ctx: StepContext, stepId: string): string {
  return join(ctx.stateDir, 'external', 'dns', `${stepId}.before.json`);
}

export async function readCapturedBefore(ctx: StepContext, stepId: string): Promise<CapturedBefore | undefined> {
  try {
    const captured = JSON.parse(await readFile(capturePath(ctx, stepId), 'utf8')) as CapturedBefore;
    return captured.runId === ctx.runId ? captured : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The live records before this step's first attempt: read and saved once, reused by every retry. */
async function captureBefore(ctx: StepContext): Promise<DnsRecord[]> {
  const existing = await readCapturedBefore(ctx, ctx.stepId);
  if (existing) {
    ctx.note(`using the DNS values captured before its first attempt (${existing.capturedAt})`);
    return existing.records;
  }
  const records = await ctx.adapters.dns().read(recordRefs(ctx.plan));
  const captured: CapturedBefore = {
    runId: ctx.runId,
    stepId: ctx.stepId,
    capturedAt: new Date(ctx.clock.now()).toISOString(),
    records,
  };
  await writeFileAtomic(capturePath(ctx, ctx.stepId), `${JSON.stringify(captured, null, 2)}\n`, { dirMode: 0o700 });
  return records;
}

type Desire = (record: DnsRecordPlan, current: DnsRecord) => DnsValue;

/**
 * Before and after for every planned record. A record missing from the zone, or pointing somewhere the
 * plan does not know, stops the step: the plan is wrong about what is live, and acting on it would
 * make the revert wrong too.
 */
function planChanges(plan: Plan, before: DnsRecord[], desire: Desire, allowUnknownContent = false): DnsChange[] {
  return plan.dns.records.map((record) => {
    const current = findRecord(before, record);
    if (!current) {
      throw new ExternalError(
        'DNS',
        `${record.type} ${record.name} does not exist in zone ${plan.dns.zone}; create it (pointing at ${record.oldValue}) or fix dns.records in the plan`,
      );
    }
    if (
      !allowUnknownContent &&
      !sameContent(record.type, current.content, record.oldValue) &&
      !sameContent(record.type, current.content, record.newValue)
    ) {
      throw new ExternalError(
        'DNS',
        `${record.type} ${record.name} points at ${current.content}, which is neither the plan's old value (${record.oldValue}) ` +
          `nor its new value (${record.newValue}); someone changed it or the plan is wrong. Fix one of them, then retry.`,
      );
    }
    const after = desire(record, current);
    const beforeValue = { content: current.content, ttl: current.ttl };
    // Proxied Cloudflare records keep their automatic TTL whatever is asked.
    const effectiveAfter = current.proxied ? { content: after.content, ttl: current.ttl } : after;
    const changed = !sameContent(record.type, beforeValue.content, effectiveAfter.content) || beforeValue.ttl !== effectiveAfter.ttl;
    return { name: record.name, type: record.type, before: beforeValue, after: effectiveAfter, changed };
  });
}

function describeValue(value: DnsValue): string {
  return `${value.content} (TTL ${value.ttl})`;
}

/** The diff an operator reads before a DNS change: one line per record, old → new with TTLs. */
export function renderDnsDiff(plan: Plan, providerKind: string, changes: DnsChange[]): string {
  const width = Math.max(...changes.map((change) => `${change.type} ${change.name}`.length));
  const lines = changes.map((change) => {
    const label = `${change.type} ${change.name}`.padEnd(width);
    return change.changed
      ? `  ${label}  ${describeValue(change.before)} → ${describeValue(change.after)}`
      : `  ${label}  unchanged: ${describeValue(change.before)}`;
  });
  const count = changes.filter((change) => change.changed).length;
  return [`DNS zone ${plan.dns.zone} (${providerKind}): ${count} of ${changes.length} records change`, ...lines].join('\n');
}

async function applyChanges(ctx: StepContext, changes: DnsChange[]): Promise<void> {
  const desired = changes
    .filter((change) => change.changed)
    .map((change) => ({ name: change.name, type: change.type, content: change.after.content, ttl: change.after.ttl }));
  if (desired.length > 0) await ctx.adapters.dns().write(desired);
}

function result(ctx: StepContext, verb: string, changes: DnsChange[]): StepResult {
  const changed = changes.filter((change) => change.changed);
  const output: DnsStepOutput = { zone: ctx.plan.dns.zone, provider: ctx.adapters.dns().kind, changes };
  ctx.note(verb, { zone: output.zone, changes: changed.map(({ name, type, before, after }) => ({ name, type, before, after })) });
  return {
    summary:
      changed.length === 0
        ? `${verb}: nothing to change, all ${changes.length} records already as desired`
        : `${verb}: ${changed.length} of ${changes.length} records changed in ${output.zone}`,
    output,
  };
}

/** The dry run reads the zone (no writes); if it cannot, it says what it would do from the plan alone. */
async function dryRunDiff(ctx: StepContext, desire: Desire, fromPlan: (record: DnsRecordPlan) => string): Promise<string> {
  try {
    const current = await ctx.adapters.dns().read(recordRefs(ctx.plan));
    return renderDnsDiff(ctx.plan, ctx.adapters.dns().kind, planChanges(ctx.plan, current, desire));
  } catch (error) {
    const lines = ctx.plan.dns.records.map((record) => `  ${record.type} ${record.name}  ${fromPlan(record)}`);
    return [`DNS zone ${ctx.plan.dns.zone} (live values not read: ${(error as Error).message})`, ...lines].join('\n');
  }
}

/** A step that makes each planned record what `desire` says, from the live values. */
function dnsChangeStep(verb: string, desire: Desire, fromPlan: (record: DnsRecordPlan) => string): StepAction {
  return {
    async run(ctx) {
      const before = await captureBefore(ctx);
      const changes = planChanges(ctx.plan, before, desire);
      await applyChanges(ctx, changes);
      return result(ctx, verb, changes);
    },
    dryRun: (ctx) => dryRunDiff(ctx, desire, fromPlan),
  };
}

export const lowerTtl = dnsChangeStep(
  'lower TTL',
  (record, current) => ({ content: current.content, ttl: record.cutoverTtl }),
  (record) => `TTL ${record.normalTtl} → ${record.cutoverTtl}`,
);

export const switchDns = dnsChangeStep(
  'switch DNS',
  (record) => ({ content: record.newValue, ttl: record.cutoverTtl }),
  (record) => `${record.oldValue} → ${record.newValue} (TTL ${record.cutoverTtl})`,
);

export const restoreTtl = dnsChangeStep(
  'restore TTL',
  (record, current) => ({ content: current.content, ttl: record.normalTtl }),
  (record) => `TTL ${record.cutoverTtl} → ${record.normalTtl}`,
);

/**
 * What dns.switch replaced: its output when it finished; the values it captured before writing when
 * it started but never finished (a crash mid-switch); nothing when it never ran.
 */
async function valuesBeforeSwitch(ctx: StepContext): Promise<{ records: DnsRecord[]; source: string } | undefined> {
  const switched = output(ctx.outputs, 'dns.switch');
  if (switched?.changes?.length) {
    return {
      records: switched.changes.map((change) => ({ name: change.name, type: change.type, ...change.before })),
      source: 'dns.switch output',
    };
  }
  const captured = await readCapturedBefore(ctx, 'dns.switch');
  if (captured) return { records: captured.records, source: `values captured when dns.switch started (${captured.capturedAt}); it never finished` };
  return undefined;
}

function revertDesire(records: DnsRecord[]): Desire {
  return (record) => {
    const original = findRecord(records, record);
    if (!original) {
      throw new ExternalError('DNS', `no value recorded for ${record.type} ${record.name} before the switch; restore it by hand to ${record.oldValue}`);
    }
    return { content: original.content, ttl: original.ttl };
  };
}

export const revertDns: StepAction = {
  async run(ctx) {
    const original = await valuesBeforeSwitch(ctx);
    if (!original) {
      ctx.note('DNS was never switched; nothing to revert');
      return { summary: 'DNS was never switched in this run: nothing to revert', output: { zone: ctx.plan.dns.zone, provider: ctx.adapters.dns().kind, changes: [] } };
    }
    const before = await captureBefore(ctx);
    const changes = planChanges(ctx.plan, before, revertDesire(original.records), true);
    await applyChanges(ctx, changes);
    const outcome = result(ctx, `revert DNS to the values before the switch (from ${original.source})`, changes);
    return outcome;
  },
  async dryRun(ctx) {
    const original = await valuesBeforeSwitch(ctx);
    if (!original) return 'DNS was never switched in this run: nothing to revert (before the switch, this restores exactly the values dns.switch records).';
    try {
      const current = await ctx.adapters.dns().read(recordRefs(ctx.plan));
      return `Restore the values from ${original.source}:\n${renderDnsDiff(ctx.plan, ctx.adapters.dns().kind, planChanges(ctx.plan, current, revertDesire(original.records), true))}`;
    } catch (error) {
      const lines = original.records.map((record) => `  ${record.type} ${record.name}  → ${describeValue(record)}`);
      return [`Restore the values from ${original.source} (live values not read: ${(error as Error).message})`, ...lines].join('\n');
    }
  },
};
