import { planSchema } from '../../../src/config/schema.js';
import { externalSteps } from '../../../src/steps/external/index.js';
import { makeContext } from './context.js';

/**
 * One notice step run as the engine would run it, in its own process, so a test can kill it at a
 * chosen moment. Input comes as JSON in CUTOVER_CHILD_INPUT; every journal note is printed as a JSON
 * line so the parent sees how far it got.
 */
interface ChildInput {
  plan: unknown;
  planDir: string;
  stateDir: string;
  runId: string;
  stepId: string;
  env: Record<string, string>;
}

const input = JSON.parse(process.env.CUTOVER_CHILD_INPUT ?? '{}') as ChildInput;
const ctx = makeContext({
  plan: planSchema.parse(input.plan),
  planDir: input.planDir,
  stateDir: input.stateDir,
  runId: input.runId,
  stepId: input.stepId,
  env: input.env,
});
ctx.note = (message, data) => {
  process.stdout.write(`${JSON.stringify({ note: message, data })}\n`);
};
const result = await externalSteps[input.stepId]!.run(ctx);
process.stdout.write(`${JSON.stringify({ done: result.summary })}\n`);
