import { join } from 'node:path';
import { examplePlan } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import type { Plan, PlanInput } from '../../src/config/schema.js';

/** The example plan on local providers (zone file and outbox inside `dir`), with overrides. */
export function localPlan(dir: string, overrides: Partial<PlanInput> = {}): Plan {
  return parsePlan(localPlanInput(dir, overrides));
}

/** The same plan as written (before validation): what a child process is handed. */
export function localPlanInput(dir: string, overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    ...examplePlan,
    dns: {
      provider: 'local',
      zone: 'freshtrackpro.com',
      file: join(dir, 'zone.json'),
      records: (examplePlan.dns as { records: PlanInput['dns']['records'] }).records,
      resolvers: [],
    },
    mail: { provider: 'outbox', dir: join(dir, 'outbox'), from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'supabase-auth' } },
    ...overrides,
  };
}
