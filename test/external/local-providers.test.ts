import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createZoneFile, LocalDnsProvider, readZoneFile } from '../../src/adapters/local-dns.js';
import { OutboxMailProvider, readOutbox } from '../../src/adapters/outbox-mail.js';
import { externalSteps } from '../../src/steps/external/index.js';
import { makeContext, planWith, tempDir } from './helpers/context.js';

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('local');
});
afterEach(async () => {
  await dir.remove();
});

const zoneFile = () => join(dir.path, 'zone.json');

async function seedZone() {
  await createZoneFile(zoneFile(), 'freshtrackpro.com', [
    { name: 'freshtrackpro.com', type: 'A', content: '203.0.113.10', ttl: 86400 },
    { name: 'api.freshtrackpro.com', type: 'A', content: '203.0.113.11', ttl: 86400 },
    { name: 'status.freshtrackpro.com', type: 'A', content: '203.0.113.12', ttl: 86400 },
  ]);
}

function localPlan(environment: 'staging' | 'production' = 'production') {
  return planWith({
    environment,
    dns: {
      provider: 'local',
      zone: 'freshtrackpro.com',
      file: 'zone.json',
      records: planWith({}).dns.records,
    },
    mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'file', file: 'users.txt' } },
  });
}

test('the local zone journals each real change once; writing the same state again records nothing', async () => {
  await seedZone();
  const dns = new LocalDnsProvider(zoneFile(), 'freshtrackpro.com', () => new Date('2026-12-06T00:00:00Z'));
  const desired = [{ name: 'api.freshtrackpro.com', type: 'A' as const, content: '198.51.100.20', ttl: 300 }];

  await dns.write(desired);
  const afterFirst = await stat(zoneFile());
  await dns.write(desired);

  const zone = await readZoneFile(zoneFile());
  expect(zone.changes).toEqual([
    {
      at: '2026-12-06T00:00:00.000Z',
      before: { name: 'api.freshtrackpro.com', type: 'A', content: '203.0.113.11', ttl: 86400 },
      after: { name: 'api.freshtrackpro.com', type: 'A', content: '198.51.100.20', ttl: 300 },
    },
  ]);
  expect((await stat(zoneFile())).mtimeMs).toBe(afterFirst.mtimeMs);
  // Atomic writes leave no temp files behind.
  expect(await readdir(dir.path)).toEqual(['zone.json']);
});

test('lower TTL, switch, revert, restore TTL on the local zone end where they started', async () => {
  await seedZone();
  const plan = localPlan();
  const original = (await readZoneFile(zoneFile())).records;
  const ctx = (stepId: string, outputs: Record<string, unknown> = {}) => makeContext({ plan, planDir: dir.path, stateDir: join(dir.path, 'state'), stepId, outputs });

  await externalSteps['prep.lower-ttl']!.run(ctx('prep.lower-ttl'));
  expect((await readZoneFile(zoneFile())).records.map((record) => record.ttl)).toEqual([300, 300, 300]);
  const switched = await externalSteps['dns.switch']!.run(ctx('dns.switch'));
  await externalSteps['rollback.dns-revert']!.run(ctx('rollback.dns-revert', { 'dns.switch': switched.output }));
  await externalSteps['abort.restore-ttl']!.run(ctx('abort.restore-ttl'));

  const zone = await readZoneFile(zoneFile());
  expect(zone.records).toEqual(original);
  // 3 lowered, 3 switched, 3 reverted, 3 restored.
  expect(zone.changes).toHaveLength(12);
});

test('the outbox writes one owner-only file per message and never writes a key twice', async () => {
  const outbox = new OutboxMailProvider({ dir: join(dir.path, 'outbox'), from: 'Ops <ops@example.com>', staging: true });
  const messages = [
    { to: 'ana@example.com', subject: 'Hello', html: '<p>Hi</p>', text: 'Hi' },
    { to: 'ben@example.com', subject: 'Hello', html: '<p>Hi</p>', text: 'Hi' },
  ];

  const first = await outbox.sendBatch(messages, { idempotencyKey: 'run-1:advance-notice:0' });
  const again = await outbox.sendBatch([{ ...messages[0]!, subject: 'changed' }], { idempotencyKey: 'run-1:advance-notice:0' });

  expect(again.ids).toEqual(first.ids);
  const written = await readOutbox(join(dir.path, 'outbox'));
  expect(written.map(({ to, subject, idempotencyKey, index }) => ({ to, subject, idempotencyKey, index }))).toEqual([
    { to: 'ana@example.com', subject: '[STAGING] Hello', idempotencyKey: 'run-1:advance-notice:0', index: 0 },
    { to: 'ben@example.com', subject: '[STAGING] Hello', idempotencyKey: 'run-1:advance-notice:0', index: 1 },
  ]);
  const folder = join(dir.path, 'outbox', (await readdir(join(dir.path, 'outbox')))[0]!);
  expect((await stat(join(dir.path, 'outbox'))).mode & 0o777).toBe(0o700);
  expect((await stat(folder)).mode & 0o777).toBe(0o700);
  expect((await stat(join(folder, '0.json'))).mode & 0o777).toBe(0o600);
  expect(JSON.parse(await readFile(join(folder, '1.json'), 'utf8')).text).toBe('Hi');
});
