import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { ExitError } from '../../src/engine/errors.js';
import {
  reconcile,
  reconcileSteps,
  toPrometheusTextfile,
  writePrometheusTextfile,
  type ReconcileResult,
} from '../../src/steps/reconcile/index.js';
import type { StepContext } from '../../src/steps/types.js';
import { usePostgres } from '../support/postgres.js';
import { createPair, FREEZE, fixturePlan, ingestAfterSwitch, NOW, SWITCH, type Pair } from './fixture.js';

const server = usePostgres();
let pair: Pair | undefined;
let dir: string | undefined;

afterEach(async () => {
  await pair?.close();
  pair = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function contextFor(p: Pair, outputs: Record<string, unknown>): StepContext {
  const plan = fixturePlan();
  return {
    plan,
    planDir: '/nonexistent',
    runId: 'run-1',
    stepId: 'watch.reconcile',
    attempt: 1,
    clock: new ManualClock(NOW.getTime()),
    stateDir: '/nonexistent',
    outputs,
    switchedAt: SWITCH,
    adapters: {
      dns: () => {
        throw new Error('reconciliation must not touch DNS');
      },
      mail: () => {
        throw new Error('reconciliation must not send mail');
      },
    },
    progress: () => {},
    note: () => {},
    signal: new AbortController().signal,
    env: { [plan.source.urlEnv]: p.sourceUrl, [plan.target.urlEnv]: p.targetUrl },
  };
}

// The shape the data path's freeze.snapshot step records.
const snapshot = { 'freeze.snapshot': { at: FREEZE, lsn: '0/3000060', counts: { 'public.readings': 1692 } } };

describe('watch.reconcile step', () => {
  it('passes without attention on a clean target that kept ingesting after the switch', async () => {
    pair = await createPair(server());
    await ingestAfterSwitch(pair.target, [1, 2, 3, 4, 5]);
    const result = await reconcileSteps['watch.reconcile']!.run(contextFor(pair, snapshot));
    expect(result.attention).toBeUndefined();
    // 153 buckets before the freeze + 5 sensors × 7 half-hour gap bins after the switch.
    expect(result.summary).toBe('Reconciled 3 tables, 188 buckets: clean (180 new rows after the cutover point)');
    expect((result.output as ReconcileResult).switchedAt).toBe(SWITCH);
  });

  it('raises attention naming the lost row when a migrated reading is deleted in the target', async () => {
    pair = await createPair(server());
    await ingestAfterSwitch(pair.target, [1, 2, 3, 4, 5]);
    await pair.target.query('delete from public.readings where id = 100042');
    const result = await reconcileSteps['watch.reconcile']!.run(contextFor(pair, snapshot));
    expect(result.attention?.reason).toBe('Reconciliation: data loss: 1 source row missing from the target');
    const evidence = result.attention?.evidence as { tables: { table: string; keys: { kind: string; key: unknown }[] }[] };
    expect(evidence.tables).toHaveLength(1);
    expect(evidence.tables[0]!.keys).toEqual([expect.objectContaining({ kind: 'missing', key: { id: '100042' } })]);
  });

  it('refuses to run before the freeze recorded a cutover point', async () => {
    pair = await createPair(server());
    await expect(reconcileSteps['watch.reconcile']!.run(contextFor(pair, {}))).rejects.toThrow(ExitError);
  });

  it('says in its dry run what it would compare, without connecting', () => {
    const text = reconcileSteps['watch.reconcile']!.dryRun({ plan: fixturePlan() } as StepContext) as string;
    expect(text).toContain('public.readings: count + content hash by sensor_id × hour, split at the freeze on recorded_at; ingestion gaps over 30m');
    expect(text).toContain('public.user_roles: count + content hash by role');
  });
});

/** Parse the text exposition format strictly enough to catch what node_exporter would reject. */
function parseExposition(text: string) {
  expect(text.endsWith('\n')).toBe(true);
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      const seen = kind === 'HELP' ? help : type;
      expect(seen.has(name!), `${kind} ${name} given twice`).toBe(false);
      seen.set(name!, rest!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line);
    expect(sample, `not a valid sample line: ${line}`).not.toBeNull();
    const [, name, labelText, valueText] = sample!;
    expect(help.has(name!) && type.has(name!), `${name} has a sample before its HELP and TYPE`).toBe(true);
    expect(type.get(name!)).toBe('gauge');
    const value = Number(valueText);
    expect(Number.isNaN(value)).toBe(false);
    const labels: Record<string, string> = {};
    for (const match of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

describe('Prometheus textfile', () => {
  it('is well-formed and carries drift, missing rows and the last success time per table', async () => {
    pair = await createPair(server());
    await pair.target.query('delete from public.readings where id = 300010');
    await pair.target.query("update public.alerts set note = 'edited' where id = 5");
    const result = await reconcile(fixturePlan(), {
      source: pair.source,
      target: pair.target,
      cutoverPoint: { time: FREEZE },
      now: NOW,
    });
    const text = toPrometheusTextfile(result, { lastSuccess: NOW });
    const samples = parseExposition(text);
    const value = (name: string, table?: string) =>
      samples.find((s) => s.name === name && (table === undefined || s.labels.table === table))?.value;
    expect(value('cutover_reconcile_drift_rows', 'public.readings')).toBe(1);
    expect(value('cutover_reconcile_missing_rows', 'public.readings')).toBe(1);
    expect(value('cutover_reconcile_drift_rows', 'public.alerts')).toBe(1);
    expect(value('cutover_reconcile_missing_rows', 'public.alerts')).toBe(0);
    expect(value('cutover_reconcile_drift_rows', 'public.user_roles')).toBe(0);
    expect(value('cutover_reconcile_clean')).toBe(0);
    expect(value('cutover_reconcile_last_success_timestamp_seconds')).toBe(NOW.getTime() / 1000);
  });

  it('escapes label values and leaves out drift figures of a table it could not compare', () => {
    const base = { keys: [], gaps: [], warnings: [], driftRows: 0, missingRows: 0, driftBuckets: 0, gapCount: 0 };
    const result = {
      clean: false,
      durationMs: 1500,
      tables: [
        { ...base, table: 'odd"name\\with\nbreaks', driftRows: 3 },
        { ...base, table: 'public.gone', problem: 'public.gone does not exist in the target database' },
      ],
    } as unknown as ReconcileResult;
    const samples = parseExposition(toPrometheusTextfile(result, { lastSuccess: NOW }));
    expect(samples.find((s) => s.name === 'cutover_reconcile_drift_rows')?.labels.table).toBe('odd"name\\with\nbreaks');
    expect(samples.filter((s) => s.labels.table === 'public.gone').map((s) => [s.name, s.value])).toEqual([
      ['cutover_reconcile_table_compared', 0],
    ]);
  });

  it('is written atomically: the new content replaces the old, no temp file is left behind', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-prom-'));
    const file = join(dir, 'cutover.prom');
    await writeFile(file, 'old\n');
    await writePrometheusTextfile(file, '# HELP x y\n# TYPE x gauge\nx 1\n');
    expect(await readFile(file, 'utf8')).toBe('# HELP x y\n# TYPE x gauge\nx 1\n');
    expect(await readdir(dir)).toEqual(['cutover.prom']);
  });
});
