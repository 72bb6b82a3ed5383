import type { PlanInput } from './config/schema.js';

export type { Plan, PlanInput, TablePlan, DnsRecordPlan, ProbePlan } from './config/schema.js';
export type { StepAction, StepContext, StepResult, StepRegistry } from './steps/types.js';

/** Typed identity for `cutover.config.ts`: editors check the plan while it is written. */
export function defineConfig(plan: PlanInput): PlanInput {
  return plan;
}
