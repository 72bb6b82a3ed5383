import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { examplePlan, renderPlanFile } from '../../config/example.js';
import { loadPlan, parsePlan } from '../../config/load.js';
import { renderChecklist } from '../../engine/checklist.js';
import { EXIT, ExitError } from '../../engine/errors.js';
import { planFromSource } from '../../steps/data/plan-from-source.js';
import type { GlobalOptions, Io } from '../io.js';

export async function init(globals: GlobalOptions, options: { force?: boolean; fromSource?: boolean; sourceEnv?: string }, io: Io): Promise<number> {
  const path = resolve(globals.config);
  if (existsSync(path) && !options.force) {
    io.err(`${path} already exists. Keep it, or overwrite it with: cutover init --force`);
    return EXIT.usage;
  }
  if (options.fromSource) {
    const sourceEnv = options.sourceEnv ?? 'SOURCE_DATABASE_URL';
    let written: Awaited<ReturnType<typeof planFromSource>>;
    try {
      written = await planFromSource(examplePlan, io.env, sourceEnv);
      parsePlan(written.plan, 'the plan read from the source');
    } catch (error) {
      throw new ExitError(error instanceof Error ? error.message : String(error), EXIT.usage);
    }
    writeFileSync(path, renderPlanFile(written.plan));
    const { tables, excludedTables } = written.found;
    io.out(`Wrote ${path} with ${tables.length} tables from the source (${sourceEnv}), parents first.`);
    for (const table of tables) {
      io.out(`  ${table.name} key (${table.key.join(', ')})${table.timestampColumn ? `, timestamp ${table.timestampColumn}` : ''}${table.appendOnly ? ', append-only (guessed)' : ''}`);
    }
    for (const table of excludedTables) io.out(`  excluded: ${table.name}: ${table.reason}`);
    io.out(`Supabase's own schemas are never migrated: ${written.found.skippedSchemas.join(', ')}, _*, pg_*.`);
    io.out('Check the guessed timestamp columns and append-only flags, fill in DNS, mail, probes and approvers, then: cutover check.');
    return EXIT.ok;
  }
  writeFileSync(path, renderPlanFile(examplePlan));
  io.out(`Wrote the FreshTrack example plan to ${path}.`);
  io.out('Edit it for your cutover, then: cutover check, cutover plan, cutover run.');
  return EXIT.ok;
}

/**
 * Render the checklist from the runbook and the plan: the plan at --config when there is one, else
 * the built-in FreshTrack example (how the committed CUTOVER_CHECKLIST.md is made).
 */
export async function checklist(globals: GlobalOptions, options: { out?: string; check?: boolean }, io: Io): Promise<number> {
  const configPath = resolve(globals.config);
  const usePlan = existsSync(configPath);
  const plan = usePlan ? (await loadPlan(configPath)).plan : parsePlan(examplePlan, 'the example plan');
  const out = resolve(options.out ?? resolve(usePlan ? dirname(configPath) : '.', 'CUTOVER_CHECKLIST.md'));
  const text = renderChecklist(plan);
  if (options.check) {
    const current = existsSync(out) ? readFileSync(out, 'utf8') : undefined;
    if (current === text) {
      io.out(`${out} matches the runbook.`);
      return EXIT.ok;
    }
    const have = new Set((current ?? '').split('\n'));
    const want = text.split('\n');
    const missing = want.filter((line) => !have.has(line)).slice(0, 5);
    io.err(`${out} ${current === undefined ? 'does not exist' : 'has drifted from the runbook'}. Regenerate it with: cutover checklist${options.out ? ` --out ${options.out}` : ''}`);
    for (const line of missing) io.err(`  expected: ${line}`);
    return EXIT.attention;
  }
  writeFileSync(out, text);
  io.out(`Wrote ${out}${usePlan ? '' : ' (from the built-in example plan)'}.`);
  return EXIT.ok;
}
