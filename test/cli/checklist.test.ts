import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

const root = join(import.meta.dirname, '../..');
const committed = join(root, 'CUTOVER_CHECKLIST.md');
const noPlan = join(root, 'test', 'no-such-plan.config.ts');
const copies: string[] = [];
afterAll(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('CUTOVER_CHECKLIST.md', () => {
  it('is what `cutover checklist` renders from the runbook (exit 0 on main)', async () => {
    const result = await cli(['--config', noPlan, 'checklist', '--check', '--out', committed]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('reads as a checklist on paper: phases, times in the plan zone, approvers, checkboxes', () => {
    const text = readFileSync(committed, 'utf8');
    expect(text).toContain('## Cutover window (`window`) — T0, Sat 5 Dec 2026 22:00 EST');
    expect(text).toContain('- [ ] **`window.go`** Go / no-go [signoff] _(T0, Sat 5 Dec 2026 22:00 EST)_ — sign-off: 2 of Ana Ruiz, Ben Okafor, Chen Wei');
    expect(text).toContain('Type the zone name to confirm: `freshtrackpro.com`.');
    expect(text).toContain('Every 15m (8 runs).');
  });

  it('exits 1 when a step is renamed in a copy of the project', () => {
    const copy = mkdtempSync(join(tmpdir(), 'cutover-copy-'));
    copies.push(copy);
    for (const part of ['machines', 'src', 'templates', 'bench', 'package.json', 'tsconfig.json', 'CUTOVER_CHECKLIST.md']) {
      if (existsSync(join(root, part))) cpSync(join(root, part), join(copy, part), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const runbook = join(copy, 'machines', 'runbook.ts');
    writeFileSync(runbook, readFileSync(runbook, 'utf8').replace("id: 'prep.staging-rehearsal'", "id: 'prep.staging-dress-rehearsal'"));
    // Build the copy as a user would get it, then ask its CLI.
    // (tsc emits even when another part of the tree does not type-check; the build's own test is CI's `npm run build`.)
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(copy, 'tsconfig.json')]);
    const args = [join(copy, 'dist/src/cli/main.js'), '--config', join(copy, 'none.config.ts'), 'checklist', '--check', '--out', join(copy, 'CUTOVER_CHECKLIST.md')];
    const drifted = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(drifted.status).toBe(1);
    expect(drifted.stderr).toContain('has drifted from the runbook. Regenerate it with: cutover checklist');
    expect(drifted.stderr).toContain('prep.staging-dress-rehearsal');
    // Regenerated, it matches again.
    execFileSync(process.execPath, args.filter((arg) => arg !== '--check'));
    expect(spawnSync(process.execPath, args, { encoding: 'utf8' }).status).toBe(0);
  });
});
