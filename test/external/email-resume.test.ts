import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { examplePlan } from '../../src/config/example.js';
import { planSchema, type PlanInput } from '../../src/config/schema.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { startResendFake, type ResendFake } from '../fakes/resend.js';
import { makeContext, tempDir } from './helpers/context.js';

/**
 * The crash test of issue 4: a real process sending a notice is SIGKILLed between two batches (the
 * second one already received by Resend, its answer not yet back), then the step runs again with the
 * same run id and state. Every recipient must get the notice exactly once.
 */

const KEY = 're_test_full';
const runner = fileURLToPath(new URL('./helpers/run-ts.mjs', import.meta.url));
const child = fileURLToPath(new URL('./helpers/send-notice-child.ts', import.meta.url));

let fake: ResendFake;
let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  fake = await startResendFake({ keys: { [KEY]: 'full' } });
  dir = await tempDir('resume');
});
afterEach(async () => {
  await fake.close();
  await dir.remove();
});

const recipients = Array.from({ length: 250 }, (_, index) => `person${String(index).padStart(3, '0')}@example.com`);

test('a notice killed between two batches and resumed reaches every recipient exactly once', async () => {
  await writeFile(join(dir.path, 'users.txt'), `${recipients.join('\n')}\n`);
  const plan: PlanInput = {
    ...examplePlan,
    mail: { provider: 'resend', apiKeyEnv: 'RESEND_API_KEY', baseUrl: fake.url, from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: 'users.txt' }, ratePerSecond: 50 },
  };
  const stateDir = join(dir.path, 'state');
  // Batch 0 is answered; batch 1 is received and processed, but its answer never comes.
  fake.inject({ path: /^\/emails\/batch$/, times: 1 });
  fake.inject({ path: /^\/emails\/batch$/, hang: true, times: 1 });

  const sender = spawn(process.execPath, [runner, child], {
    env: {
      ...process.env,
      CUTOVER_CHILD_INPUT: JSON.stringify({ plan, planDir: dir.path, stateDir, runId: 'run-7', stepId: 'prep.advance-notice', env: { RESEND_API_KEY: KEY } }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  sender.stdout.on('data', (chunk) => (stdout += chunk));
  sender.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => sender.on('exit', (_code, signal) => resolve(signal)));

  await vi.waitFor(
    () => {
      if (sender.exitCode !== null) throw new Error(`the child ended early: ${stderr || stdout}`);
      expect(fake.deliveries).toHaveLength(200);
    },
    { timeout: 60_000, interval: 20 },
  );
  sender.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(stdout).toContain('advance-notice: batch 1 of 3 sent');
  expect(stdout).not.toContain('batch 2 of 3 sent');

  const resumed = makeContext({ plan: planSchema.parse(plan), planDir: dir.path, stateDir, runId: 'run-7', stepId: 'prep.advance-notice', env: { RESEND_API_KEY: KEY }, attempt: 2 });
  const result = await externalSteps['prep.advance-notice']!.run(resumed);

  const perRecipient = new Map<string, number>();
  for (const delivery of fake.deliveries) perRecipient.set(delivery.to, (perRecipient.get(delivery.to) ?? 0) + 1);
  expect([...perRecipient.keys()].sort()).toEqual(recipients);
  expect([...perRecipient.values()].every((count) => count === 1)).toBe(true);
  // The batch recorded as sent was skipped; the one in flight was asked again under its key.
  expect(fake.requests.filter((request) => request.path === '/emails/batch').map((request) => request.headers['idempotency-key'])).toEqual([
    'run-7:advance-notice:0',
    'run-7:advance-notice:1',
    'run-7:advance-notice:1',
    'run-7:advance-notice:2',
  ]);
  expect(result.summary).toMatch(/sent to 250 recipients in 3 batches via resend \(1 batch already sent before a restart\)/);
});
