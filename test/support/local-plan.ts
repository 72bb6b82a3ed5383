import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { examplePlan, renderPlanFile } from '../../src/config/example.js';
import type { PlanInput } from '../../src/config/schema.js';

/**
 * The example plan with its DNS on a local zone file and its mail to an outbox, written into `dir`
 * with the zone and audience files it names: what the CLI tests drive without any service. Returns
 * the plan file.
 */
export function writeLocalPlan(dir: string, options: { audience?: string[]; extra?: Partial<PlanInput> } = {}): string {
  const records = (examplePlan.dns as { records: PlanInput['dns']['records'] }).records;
  writeFileSync(join(dir, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records: records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })), changes: [] }));
  writeFileSync(join(dir, 'audience.txt'), `${(options.audience ?? ['ana@example.com', 'ben@example.com']).join('\n')}\n`);
  const planFile = join(dir, 'cutover.config.ts');
  writeFileSync(
    planFile,
    renderPlanFile({
      ...examplePlan,
      dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records },
      mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: 'audience.txt' } },
      ...options.extra,
    }),
  );
  return planFile;
}
