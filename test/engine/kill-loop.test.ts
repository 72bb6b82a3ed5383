/**
 * The SIGKILL loop (issue 13): the rehearsal's world (two embedded PostgreSQL servers with FreshTrack
 * data, the old and new app stand-ins, Supabase auth, a loopback DNS server on a zone file, an outbox)
 * driven by the real CLI, `cutover run --non-interactive --wait` under CUTOVER_CLOCK=compressed, which
 * is SIGKILLed at random moments and started again; where it stops for people, sign-offs and
 * confirmations are given with the CLI as an operator would. At the end: every e-mail recipient got
 * each notice once, the webhook test reading was posted at most once, the target holds the source's
 * rows, and the journal verifies.
 *
 *   npx tsc -p tsconfig.json && KILL_LOOP=KILLS[,ROWS[,SPEED[,MINUTES[,SHARE[,WITHIN_MS]]]]] npx vitest run test/engine/kill-loop.test.ts
 *
 * Skipped unless KILL_LOOP is set (it takes minutes); its figures are quoted in the closing note.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findStep } from '../../machines/runbook.js';
import { readOutbox } from '../../src/adapters/outbox-mail.js';
import { renderPlanFile } from '../../src/config/example.js';
import { parsePlan } from '../../src/config/load.js';
import { settingsFromPlan } from '../../src/config/settings.js';
import { Journal, verifyJournal } from '../../src/engine/journal.js';
import { peekRun } from '../../src/engine/peek.js';
import { readLock } from '../../src/engine/lock.js';
import { loadState } from '../../src/engine/state-store.js';
import { locate } from '../../src/engine/view.js';
import { serveZoneFile } from '../../src/rehearsal/dns-server.js';
import { startEmbeddedPostgres } from '../../src/rehearsal/embedded.js';
import { prepareFreshTrackPair } from '../../src/rehearsal/freshtrack.js';
import { REHEARSAL_APPROVER, rehearsalPlan, rehearsalT0 } from '../../src/rehearsal/rehearse.js';
import { startAuthAdmin, startNewApp, startOldApp } from '../../src/rehearsal/stand-ins.js';

const [targetKills = 30, rows = 50_000, speed = 20_000, minutes = 60, killShare = 0.6, killWithinMs = 2_500] = (process.env.KILL_LOOP ?? '').split(',').filter(Boolean).map(Number);
const main = join(import.meta.dirname, '../../dist/src/cli/main.js');

async function sql<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Run the CLI; with `killAfterMs`, SIGKILL it that long after it took the driver's lock (a kill
 * while node is still loading modules proves nothing), if it is still running then.
 */
function cli(args: string[], env: NodeJS.ProcessEnv, killAfterMs?: number, stateDir?: string): Promise<{ code: number | null; killed: boolean; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let killed = false;
    let exited = false;
    proc.stdout.on('data', (chunk) => (out += chunk));
    proc.stderr.on('data', (chunk) => (out += chunk));
    if (killAfterMs !== undefined && stateDir) {
      const holdsLock = () => readLock(stateDir)?.pid === proc.pid;
      const watch = setInterval(() => {
        if (exited) return clearInterval(watch);
        if (!holdsLock()) return;
        clearInterval(watch);
        setTimeout(() => {
          if (exited) return;
          killed = true;
          proc.kill('SIGKILL');
        }, killAfterMs);
      }, 10);
    }
    proc.on('exit', (code) => {
      exited = true;
      resolve({ code, killed, out });
    });
  });
}

describe.skipIf(!process.env.KILL_LOOP)('SIGKILL loop over a compressed `cutover run --wait` of the rehearsal world', () => {
it(`${targetKills} kills: every run resumes, nothing is done twice`, async () => {
const workspace = mkdtempSync(join(tmpdir(), 'cutover-kill-loop-'));
const [source, target] = await Promise.all([startEmbeddedPostgres(), startEmbeddedPostgres()]);
const closers: Array<() => Promise<unknown>> = [() => source.stop(), () => target.stop()];
try {
  const sourceUrl = await source.createDatabase('freshtrack');
  const targetUrl = await target.createDatabase('freshtrack');
  const t0 = rehearsalT0(Date.now());
  await prepareFreshTrackPair(sourceUrl, targetUrl, { readings: rows, seed: 1 });
  const devEui = (await sql<{ dev_eui: string }>(sourceUrl, 'select dev_eui from public.sensors order by dev_eui limit 1'))[0]!.dev_eui;
  const stateDir = join(workspace, '.cutover');
  // The new system stamps readings with the run's virtual time (the offset saved with the state).
  const virtualNow = () => Date.now() + (loadState(stateDir)?.clockOffsetMs ?? 0);
  const key = `kill-loop-${Math.random().toString(36).slice(2)}`;
  const [oldApp, newApp, auth] = await Promise.all([startOldApp(sourceUrl), startNewApp(targetUrl, virtualNow), startAuthAdmin(sourceUrl, key)]);
  closers.push(() => oldApp.close(), () => newApp.close(), () => auth.close());
  const zoneFile = join(workspace, 'zone.json');
  writeFileSync(zoneFile, '{"zone":"freshtrackpro.com","records":[],"changes":[]}\n');
  const dns = await serveZoneFile(zoneFile);
  closers.push(() => dns.close());
  const input = rehearsalPlan(t0, { oldApp: oldApp.url, newApp: newApp.url }, devEui, dns.address);
  const planFile = join(workspace, 'cutover.config.ts');
  writeFileSync(planFile, renderPlanFile(input));
  const plan = parsePlan(input, planFile);
  writeFileSync(zoneFile, `${JSON.stringify({ zone: plan.dns.zone, records: plan.dns.records.map((r) => ({ name: r.name, type: r.type, content: r.oldValue, ttl: r.normalTtl })), changes: [] })}\n`);
  const settings = settingsFromPlan(plan);
  const start = new Date(settings.t0 - 48 * 3_600_000 - 60_000).toISOString();
  const env = { ...process.env, SOURCE_DATABASE_URL: sourceUrl, TARGET_DATABASE_URL: targetUrl, SUPABASE_URL: auth.url, SUPABASE_SERVICE_ROLE_KEY: key, CUTOVER_CLOCK: `compressed:${speed}@${start}` };
  const base = ['--config', planFile];

  let kills = 0;
  let runs = 0;
  const killedAt: string[] = [];
  const skipped: string[] = [];
  const began = Date.now();
  for (let turn = 0; turn < 2_000; turn++) {
    runs++;
    // Most runners live a few seconds before a sign-off stops them: a kill at a random moment soon
    // after it takes the lock, for a share of the runners, spreads the kills over the whole timeline
    // (one that reaches a sign-off first exits 3 and is not killed).
    const killAfter = kills < targetKills && Math.random() < killShare ? Math.floor(Math.random() * killWithinMs) : undefined;
    if (Date.now() - began > minutes * 60_000) break;
    const result = await cli([...base, 'run', '--non-interactive', '--wait'], env, killAfter, stateDir);
    if (result.killed) {
      kills++;
      const { snapshot } = peekRun(stateDir, plan);
      killedAt.push(locate(snapshot).stepId ?? locate(snapshot).phaseId ?? '?');
      continue;
    }
    if (result.code === 0) break;
    const { snapshot } = peekRun(stateDir, plan);
    const stepId = locate(snapshot).stepId;
    if (snapshot.status === 'done') break;
    if (snapshot.hasTag('waiting:signoff')) {
      const r = await cli([...base, 'signoff', stepId!, '--by', REHEARSAL_APPROVER, '--note', 'kill loop'], env);
      if (r.code !== 0) throw new Error(`signoff ${stepId} failed: ${r.out}`);
    } else if (snapshot.hasTag('waiting:confirm')) {
      const phrase = findStep(stepId!)!.step.phrase === 'zone' ? settings.phrases.zone : settings.phrases.rollback;
      const r = await cli([...base, 'confirm', stepId!, '--by', REHEARSAL_APPROVER, '--phrase', phrase], env);
      if (r.code !== 0) throw new Error(`confirm ${stepId} failed: ${r.out}`);
    } else if (snapshot.hasTag('unknown') && stepId === 'validate.webhook') {
      // What an operator does: look in the target whether the test reading arrived.
      const arrived = newApp.ingested() > 0;
      const r = arrived
        ? await cli([...base, 'skip', stepId, '--by', REHEARSAL_APPROVER, '--reason', 'the test reading arrived (checked in the target)'], env)
        : await cli([...base, 'retry', stepId], env);
      skipped.push(`${stepId} (outcome unknown → ${arrived ? 'skip: arrived' : 'retry: not arrived'})`);
      if (r.code !== 0) throw new Error(`${stepId} resolution failed: ${r.out}`);
    } else if (snapshot.hasTag('failed') || snapshot.hasTag('unknown')) {
      const error = (snapshot.context as { steps: Record<string, { error?: string }> }).steps[stepId!]?.error ?? '';
      if (/^(freeze|export|migrate)\./.test(stepId!) && !/not implemented/.test(error)) throw new Error(`${stepId} failed: ${error}\n${result.out}`);
      skipped.push(`${stepId} (${error.slice(0, 80)})`);
      const r = await cli([...base, 'skip', stepId!, '--by', REHEARSAL_APPROVER, '--reason', `kill loop: ${error.slice(0, 60)}`], env);
      if (r.code !== 0) throw new Error(`skip ${stepId} failed: ${r.out}`);
    } else if (result.code !== 3) {
      throw new Error(`unexpected exit ${result.code}: ${result.out}`);
    }
  }

  const { snapshot } = peekRun(stateDir, plan);
  const journal = Journal.open(stateDir);
  const finished = new Map<string, number>();
  for (const entry of journal.entries) {
    if (entry.type !== 'step.finished') continue;
    const k = `${String(entry.stepId)}#${String(entry.attempt)}#${String(entry.occurrence ?? '')}`;
    finished.set(k, (finished.get(k) ?? 0) + 1);
  }
  const messages = await readOutbox(join(workspace, 'outbox'));
  const perRecipient = new Map<string, number>();
  for (const message of messages) {
    const template = message.subject;
    for (const to of [message.to].flat()) perRecipient.set(`${template}|${to}`, (perRecipient.get(`${template}|${to}`) ?? 0) + 1);
  }
  const counts = async (url: string) =>
    Object.fromEntries(
      await Promise.all(
        plan.tables.map(async (t) => [t.name, Number((await sql<{ n: string }>(url, `select count(*) n from ${t.name}`))[0]!.n)] as const),
      ),
    );
  const [sourceCounts, targetCounts] = await Promise.all([counts(sourceUrl), counts(targetUrl)]);
  const summary = {
    ended: snapshot.status === 'done' ? locate(snapshot).ended : `not ended: ${JSON.stringify(snapshot.value)}`,
    runs,
    kills,
    realSeconds: Math.round((Date.now() - began) / 1000),
    killedAt: Object.fromEntries([...new Set(killedAt)].map((s) => [s, killedAt.filter((k) => k === s).length])),
    stepResumed: journal.entries.filter((e) => e.type === 'step.resumed').length,
    stepReplayed: journal.entries.filter((e) => e.type === 'step.replayed').length,
    attemptsFinishedTwice: [...finished].filter(([, n]) => n > 1).map(([k]) => k),
    emails: messages.length,
    emailDuplicates: [...perRecipient].filter(([, n]) => n > 1).length,
    webhookPostsIngested: newApp.ingested(),
    skipped,
    journal: verifyJournal(stateDir),
    tablesDiffering: Object.keys(sourceCounts).filter((t) => t !== 'public.temperature_readings' && sourceCounts[t] !== targetCounts[t]),
    readings: { source: sourceCounts['public.temperature_readings'], target: targetCounts['public.temperature_readings'] },
    leftoverProcesses: spawnSync('pgrep', ['-f', planFile]).stdout.toString().trim(),
  };
  writeFileSync(process.env.KILL_LOOP_OUT ?? join(tmpdir(), 'cutover-kill-loop.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  expect(summary.ended).toBe('completed');
  expect(summary.kills).toBe(targetKills);
  expect(summary.attemptsFinishedTwice).toEqual([]);
  expect(summary.emailDuplicates).toBe(0);
  expect(summary.webhookPostsIngested).toBeLessThanOrEqual(1);
  expect(summary.journal.ok).toBe(true);
  expect(summary.tablesDiffering).toEqual([]);
  expect(summary.leftoverProcesses).toBe('');
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  rmSync(workspace, { recursive: true, force: true });
}
}, 3_600_000);
});
