import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../machines/schedule.js';
import { examplePlan } from '../../src/config/example.js';
import { loadPlan, parsePlan } from '../../src/config/load.js';
import { planFields, renderPlanDocs } from '../../src/config/plan-docs.js';
import { cli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the documented plan', () => {
  it('docs/plan.md is what the schema says (regenerate: npx tsc -p tsconfig.json && node dist/src/config/plan-docs.js docs/plan.md)', () => {
    const committed = readFileSync(join(import.meta.dirname, '../../docs/plan.md'), 'utf8');
    expect(committed, 'docs/plan.md drifted from src/config/schema.ts: regenerate it with node dist/src/config/plan-docs.js docs/plan.md').toBe(renderPlanDocs());
  });

  it('documents every field: a description, its type, and a default or an example', () => {
    const fields = planFields();
    expect(fields.length).toBeGreaterThan(100);
    // Variant headers ("dns when provider = local") describe nothing themselves; every other row does.
    const undocumented = fields.filter((row) => !/\(.*: .*\)$/.test(row.path) && !row.description).map((row) => row.path);
    expect(undocumented).toEqual([]);
    const leaves = fields.filter((row) => row.type !== 'object' && !row.type.startsWith('object'));
    expect(leaves.filter((row) => row.example === undefined && row.default === undefined).map((row) => row.path)).toEqual([]);
    const docs = renderPlanDocs();
    for (const path of ['t0.zone', 'dns.records[].cutoverTtl', 'approvers.steps.STEP.quorum', 'notifications.targets[].routingKeyEnv', 'thresholds.latencyFloorMs']) {
      expect(docs).toContain(`| \`${path}\``);
    }
    // The files and variables a plan depends on are documented too.
    expect(docs).toContain('**Local zone file**');
    expect(docs).toContain('**Audience file**');
    expect(docs).toContain('`CUTOVER_CLOCK`');
  });

  it('cutover init writes a plan with every field explained once, and it loads as written', async () => {
    const planFile = join(dir, 'cutover.config.ts');
    const result = await cli(['--config', planFile, 'init']);
    expect(result.code).toBe(0);
    const text = readFileSync(planFile, 'utf8');
    expect(text).toMatch(/\/\/ IANA time zone; every time shown to people is in this zone, with its offset\.\n\s+zone: "America\/New_York",/);
    expect(text).toMatch(/\/\/ TTL in seconds during the cutover \(lowered at T-48h so the switch propagates fast\)\.\n\s+cutoverTtl: 300,/);
    // Once: the second table's fields are not commented again.
    expect(text.match(/\/\/ Primary key columns/g)).toHaveLength(1);
    const { plan } = await loadPlan(planFile);
    expect(plan).toEqual(parsePlan(examplePlan, planFile));
  });

  it('accepts compound durations such as 2h30m and refuses ones it could misread', async () => {
    expect(parseDuration('2h30m')).toBe(9_000_000);
    expect(parseDuration('1d12h')).toBe(129_600_000);
    expect(parseDuration('-48h')).toBe(-172_800_000);
    const plan = parsePlan({ ...examplePlan, windowDuration: '2h30m', cadences: { hypercare: '7m30s', stabilize: '1h30m', reconcile: '6h', daily: '1d' } });
    expect(plan.windowDuration).toBe('2h30m');
    for (const text of ['30m2h', '2h 30m', '2.5h', 'h']) {
      expect(() => parsePlan({ ...examplePlan, windowDuration: text }), text).toThrow(/windowDuration: expected a duration such as 15m, 2h30m or 1d \(units d, h, m, s, largest first\)/);
    }
  });
});
