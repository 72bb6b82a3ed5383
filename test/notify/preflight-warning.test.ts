import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preflight } from '../../src/steps/core/preflight.js';
import { usePostgres } from '../support/postgres.js';
import { localPlan } from '../support/plan.js';
import { startFakeServer } from '../fakes/http-fault.js';
import { makeContext, tempDir } from '../external/helpers/context.js';

/**
 * A notification target whose secret is not in the environment never stops the run, but it must not
 * go unnoticed until the night nobody is paged: prep.preflight says so at T-48h.
 */
const postgres = usePostgres();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('prep.preflight and the notification targets', () => {
  it('passes, and warns by name about a target without its secret', async () => {
    const dir = await tempDir('preflight');
    cleanups.push(dir.remove);
    const oldApp = await startFakeServer(() => ({ status: 200, body: 'ok' }), () => ({}));
    cleanups.push(oldApp.close);
    const url = await postgres().createDatabase('preflight');
    // A source the freeze can hold (prep.preflight checks the barrier since issue 10): the plan's one
    // table, and the application role whose writes the freeze would refuse.
    const client = new pg.Client(url);
    await client.connect();
    await client.query(`CREATE ROLE preflight_app NOLOGIN; CREATE TABLE public.readings (id bigint PRIMARY KEY, recorded_at timestamptz NOT NULL); GRANT USAGE ON SCHEMA public TO preflight_app`);
    await client.end();
    const plan = localPlan(dir.path, {
      tables: [{ name: 'public.readings', key: ['id'], timestampColumn: 'recorded_at', appendOnly: true }],
      appRoles: ['preflight_app'],
      source: { urlEnv: 'SOURCE_DATABASE_URL' },
      probes: { oldHealth: { url: `${oldApp.url}/health` }, newHealth: { url: `${oldApp.url}/health` } },
      notifications: { targets: [{ kind: 'slack', name: 'ops-chat', webhookUrlEnv: 'SLACK_WEBHOOK_URL' }, { kind: 'webhook', name: 'audit', url: `${oldApp.url}/hook`, secretEnv: 'AUDIT_SECRET' }] },
    });
    const records = plan.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl }));
    writeFileSync(join(dir.path, 'zone.json'), JSON.stringify({ zone: 'freshtrackpro.com', records, changes: [] }));
    const ctx = makeContext({ plan, planDir: dir.path, stateDir: join(dir.path, '.cutover'), stepId: 'prep.preflight', env: { SOURCE_DATABASE_URL: url, TARGET_DATABASE_URL: url, AUDIT_SECRET: 'set' } });
    const result = await preflight.run(ctx);
    expect(result.summary).toMatch(/^all \d+ systems reached: .*; WARNING: notification target ops-chat without its secret \(see the notes\)$/);
    expect(ctx.notes.map((note) => note.message)).toContain('WARNING notifications ops-chat: SLACK_WEBHOOK_URL is not set: export the incoming-webhook URL for notification target ops-chat; this target will not be told anything');
    expect(result.attention).toBeUndefined();
  });
});
