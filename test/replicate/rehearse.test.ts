import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-rehearse-replicate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `cutover rehearse --strategy replicate` end to end (issue 15, "Rehearsal"): sensors write to the
 * source through the initial copy and until the freeze, then to the new system; the report shows the
 * write freeze they measured, the lag over time, and every acknowledged write on the target; with
 * --with-rollback, nothing written to the new system is lost either.
 */
describe('cutover rehearse --strategy replicate', () => {
  it('measures the write freeze under live writes, loses none, and rolls back without loss', async () => {
    const report = join(dir, 'replicate.md');
    const result = await cli(['rehearse', '--rows', '20000', '--speed', '500000', '--strategy', 'replicate', '--with-rollback', '--report', report], { ...process.env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/✓ prep\.replicate .*Copied \d+ rows from the slot's snapshot .*subscription cutover_\w+ streams changes/);
    expect(result.stdout).toMatch(/✓ export\.tables .*Target applied every change up to the freeze/);
    expect(result.stdout).toMatch(/✓ migrate\.load .*replication removed \(dropped subscription, slot, publication, marker table\)/);
    expect(result.stdout).toMatch(/✓ migrate\.verify .*Source and target identical: 10 tables/);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('- Outcome: The rollback is complete: the old system is live again.');
    expect(text).toContain('- Failed steps: none');
    const freeze = /- Measured by the sensors: \*\*([\d.]+) s\*\* from the first refused write on the source/.exec(text);
    expect(freeze, text).not.toBeNull();
    expect(Number(freeze![1])).toBeGreaterThan(0);
    // People's times in the plan's zone with its offset, to the millisecond where a measurement is taken between them.
    expect(text).toMatch(/from the first refused write on the source \(\w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{3} -0[45]:00\) to the first write the new system accepted \(\w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{3} -0[45]:00\)/);
    expect(text.match(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z\b/g) ?? []).toEqual([]);
    expect(text).toMatch(/- Verify: `window\.pre-verify` compared every table by key range in [\d.]+ s before the freeze; `migrate\.verify` took [\d.]+ s inside it \(content of \d+ of \d+ key ranges, [\d,]+ rows; counts and sequences whole\)/);
    const [, before, after, all] = /- ([\d,]+) writes acknowledged by the source before the freeze, (\d+) by the new system after the switch: \*\*all ([\d,]+) are on the target\*\*/.exec(text)!;
    const count = (value: string | undefined) => Number(value!.replaceAll(',', ''));
    expect(count(before)).toBeGreaterThan(0);
    expect(count(after)).toBeGreaterThan(0);
    expect(count(all)).toBe(count(before) + count(after));
    expect(text).toMatch(/### Lag over time \(source slot\)\n\n\d+ samples every 0\.5 s; largest lag/);
    expect(text).toMatch(/Readings in the source after the rollback: [\d,]+ = [\d,]+ at the freeze \+ [\d,]+ written to the target after the switch: \*\*zero readings lost\*\*/);
    // PostgreSQL 15 (the embedded servers) cannot take the reverse subscription: the delta export it is.
    expect(text).toMatch(/Read-only during the rollback: \*\*[\d.]+ s\*\* from `rollback\.freeze-target` until `rollback\.unfreeze-source` \(no system accepted writes\); the target's writes came back through the delta export and re-import\./);
  }, 600_000);

  it('refuses an unknown strategy with exit 2, naming the choices', async () => {
    const result = await cli(['rehearse', '--strategy', 'stream'], { ...process.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--strategy stream: expected copy or replicate/);
  });
});
