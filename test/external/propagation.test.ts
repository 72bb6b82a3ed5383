import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import type { ManualClock } from '../../src/engine/clock.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { startDnsServer, type FakeDnsServer } from '../fakes/dns-server.js';
import { makeContext, manualClock, planWith, tempDir } from './helpers/context.js';

/** Propagation against two real resolvers on loopback (UDP), polled on a manual clock. */

let first: FakeDnsServer;
let second: FakeDnsServer;
let dir: { path: string; remove: () => Promise<void> };

const records = [
  { name: 'api.freshtrackpro.com', type: 'A' as const, oldValue: '203.0.113.11', newValue: '198.51.100.20', normalTtl: 86400, cutoverTtl: 300 },
  { name: 'www.freshtrackpro.com', type: 'CNAME' as const, oldValue: 'old-lb.hosting.example', newValue: 'new-lb.hosting.example', normalTtl: 86400, cutoverTtl: 300 },
];

function answerOld(server: FakeDnsServer, ttl: number) {
  server.set('api.freshtrackpro.com', 'A', { values: ['203.0.113.11'], ttl });
  server.set('www.freshtrackpro.com', 'CNAME', { values: ['old-lb.hosting.example'], ttl });
}

function answerNew(server: FakeDnsServer) {
  server.set('api.freshtrackpro.com', 'A', { values: ['198.51.100.20'], ttl: 300 });
  server.set('www.freshtrackpro.com', 'CNAME', { values: ['new-lb.hosting.example'], ttl: 300 });
}

beforeEach(async () => {
  [first, second] = await Promise.all([startDnsServer(), startDnsServer()]);
  dir = await tempDir('propagation');
});
afterEach(async () => {
  await Promise.all([first.close(), second.close(), dir.remove()]);
});

function context(stepId: string, clock: ManualClock) {
  const plan = planWith({
    dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records, resolvers: [first.address, second.address], propagationTimeout: '5m' },
  });
  return makeContext({ plan, planDir: dir.path, stateDir: dir.path, stepId, clock });
}

/** Let the step poll: each time it sleeps on the clock, move the clock to its deadline, after `between` says what changes. */
async function drive<T>(clock: ManualClock, running: Promise<T>, between: (round: number) => void = () => {}): Promise<T> {
  let settled = false;
  running.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let round = 1; ; round += 1) {
    await vi.waitFor(() => {
      if (!settled && clock.nextDeadline() === undefined) throw new Error('the step is not waiting yet');
    });
    if (settled) return running;
    between(round);
    clock.set(clock.nextDeadline()!);
  }
}

test('dns.propagation waits until every resolver answers the new values, A and CNAME', async () => {
  answerOld(first, 300);
  answerOld(second, 300);
  const clock = manualClock();

  const result = await drive(clock, externalSteps['dns.propagation']!.run(context('dns.propagation', clock)), (round) => {
    if (round === 1) answerNew(first);
    if (round === 2) answerNew(second);
  });

  expect(result.summary).toBe('all 2 resolvers answer the new values (3 rounds of queries)');
  expect(first.queries).toContain('CNAME www.freshtrackpro.com');
});

test('on timeout, the report says per resolver what it still answers', async () => {
  answerNew(first);
  answerOld(second, 300);
  const clock = manualClock();
  const started = clock.now();

  const failure = drive(clock, externalSteps['dns.propagation']!.run(context('dns.propagation', clock)));

  await expect(failure).rejects.toThrow(
    [
      'after 5m, some resolvers still do not answer the new values:',
      `  ${first.address}: ok`,
      `  ${second.address}: A api.freshtrackpro.com answers 203.0.113.11, expected 198.51.100.20; CNAME www.freshtrackpro.com answers old-lb.hosting.example, expected new-lb.hosting.example`,
    ].join('\n'),
  );
  expect(clock.now() - started).toBe(5 * 60_000);
});

test('final.ttl-propagated waits until no resolver holds the old long TTL', async () => {
  answerOld(first, 300);
  answerOld(second, 86400);
  const clock = manualClock();
  let seenWhileWaiting = '';

  const result = await drive(clock, externalSteps['final.ttl-propagated']!.run(context('final.ttl-propagated', clock)), (round) => {
    if (round === 1) {
      seenWhileWaiting = second.queries.join(',');
      answerOld(second, 280);
    }
  });

  expect(seenWhileWaiting).toContain('A api.freshtrackpro.com');
  expect(result.summary).toBe('all 2 resolvers answer with the cutover TTL (2 rounds of queries)');
});

test('a resolver that does not answer is reported as such', async () => {
  answerOld(first, 300);
  const clock = manualClock();
  const plan = planWith({
    dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records: records.slice(0, 1), resolvers: [first.address, '127.0.0.1:9'], propagationTimeout: '1m' },
  });

  const failure = drive(clock, externalSteps['final.ttl-propagated']!.run(makeContext({ plan, planDir: dir.path, stateDir: dir.path, stepId: 'final.ttl-propagated', clock })));

  await expect(failure).rejects.toThrow(/127\.0\.0\.1:9: A api\.freshtrackpro\.com (no answer \(timeout\)|connection refused)/);
});
