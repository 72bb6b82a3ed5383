import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { openClient } from '../adapters/postgres.js';
import { expectedPhrase } from '../../machines/machine.js';
import { findStep } from '../../machines/runbook.js';
import { createAdapters } from '../adapters/providers.js';
import { examplePlan, renderPlanFile } from '../config/example.js';
import { parsePlan } from '../config/load.js';
import type { Plan, PlanInput } from '../config/schema.js';
import { settingsFromPlan } from '../config/settings.js';
import { CompressedClock, type Clock } from '../engine/clock.js';
import { rehearsalIdentity } from '../engine/identity.js';
import { loadState } from '../engine/state-store.js';
import { ExitError, EXIT } from '../engine/errors.js';
import type { Blocked, Runner } from '../engine/runner.js';
import { peekRun } from '../engine/peek.js';
import { locate } from '../engine/view.js';
import { summarizeStop, summaryLines } from '../services/summary.js';
import type { Io } from '../services/io.js';
import { formatJournalLine, formatProgress } from '../services/journal-lines.js';
import { openRunner, type Session } from '../services/session.js';
import { output, outputsOf } from '../steps/outputs.js';
import { registryFor } from '../steps/registry.js';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';
import { prepareFreshTrackPair } from './freshtrack.js';
import { writeRehearsalReport } from './report.js';
import type { WorldEvents } from './world.js';
import { startAuthAdmin, startNewApp, startOldApp, type StandIn } from './stand-ins.js';
import { startTraffic, type Traffic } from './traffic.js';
import type { LiveWrites } from './live-writes.js';
import { startReplicateWorld, type LagSample, type ReplicateWorld } from './replicate-world.js';
import { serveZoneFile } from './dns-server.js';
import { startNotifySink } from './notify-sink.js';
import { settleNotifications } from '../services/notifier.js';
import { writeHtmlReport } from '../engine/report-html-file.js';
import { plural } from '../engine/words.js';
import { peopleTime } from '../engine/time-format.js';

export interface RehearseOptions {
  /** Temperature readings to generate in the source. */
  rows: number;
  /** How much faster than real time the waits run. */
  speed: number;
  withRollback?: boolean;
  injectDrift?: number;
  /** Sign off by hand in the terminal UI instead of automatically. */
  interactive?: boolean;
  /** Keep both servers' data and the workspace here. */
  keep?: string;
  /** Where rehearsal-report.md goes (default: the current folder). */
  reportPath?: string;
  /** The plan's data strategy (default copy). */
  strategy?: 'copy' | 'replicate';
}

/** Who signs everything in an automatic rehearsal. */
export const REHEARSAL_APPROVER = 'rehearsal';

/** Steps whose failure makes the rest of a rehearsal meaningless: the data path. */
const FATAL = /^(freeze|export|migrate)\.|^prep\.replicate$/;

/**
 * The plan a rehearsal runs: the FreshTrack example on the embedded servers and local stand-ins,
 * with T0 two days from now (the compressed clock starts just before T-48h).
 */
export function rehearsalT0(now: number): DateTime {
  return DateTime.fromMillis(now, { zone: examplePlan.t0.zone }).plus({ hours: 49 }).startOf('hour');
}

export function rehearsalPlan(t0: DateTime, urls: { oldApp: string; newApp: string }, webhookDevEui: string, resolver: string, strategy: 'copy' | 'replicate' = 'copy'): PlanInput {
  const zone = examplePlan.t0.zone;
  const example = examplePlan as PlanInput & { dns: { records: PlanInput['dns']['records'] } };
  return {
    ...examplePlan,
    name: 'Rehearsal: FreshTrack Pro on embedded PostgreSQL',
    environment: 'staging',
    t0: { at: t0.toFormat("yyyy-MM-dd'T'HH:mm"), zone, offset: t0.toFormat('ZZ') },
    dns: { provider: 'local', zone: 'freshtrackpro.com', file: 'zone.json', records: example.dns.records, resolvers: [resolver], propagationTimeout: '15m' },
    mail: { provider: 'outbox', dir: 'outbox', from: 'FreshTrack Pro <notices@freshtrackpro.com>', audience: { source: 'supabase-auth' }, ratePerSecond: 50 },
    probes: {
      oldHealth: { url: `${urls.oldApp}/health`, bodyMatch: 'ok' },
      newHealth: { url: `${urls.newApp}/health`, bodyMatch: 'ok' },
      smoke: [{ url: `${urls.newApp}/health/db`, bodyMatch: 'ok' }, { url: `${urls.newApp}/api/auth/health` }],
      external: [{ url: `${urls.newApp}/health`, bodyMatch: 'ok' }],
      monitoring: [{ url: `${urls.newApp}/grafana/api/health` }, { url: `${urls.newApp}/status` }],
      webhook: {
        url: `${urls.newApp}/api/webhooks/ttn`,
        payload: { end_device_ids: { dev_eui: webhookDevEui }, uplink_message: { decoded_payload: { temperature: 3.5 } } },
        checkSql: `select 1 from public.temperature_readings r join public.sensors s on s.id = r.sensor_id where s.dev_eui = '${webhookDevEui}' and r.recorded_at > now() - interval '1 hour'`,
      },
      baselineRequests: 20,
    },
    approvers: {
      // The stand-in approver is whoever runs the rehearsal: `--interactive` signs as that OS account,
      // the automatic sign-offs as the rehearsal itself (rehearsalIdentity).
      default: [{ name: REHEARSAL_APPROVER, os: userInfo().username }],
      steps: Object.fromEntries(['window.go', 'review.decision', 'rollback.decide', 'close.signoff'].map((id) => [id, { approvers: [REHEARSAL_APPROVER], quorum: 1 }])),
    },
    // The quiet window is real time (write counters move in real time); a rehearsal needs only a few seconds.
    freeze: { quietWindow: '5s' },
    exportsDir: 'exports',
    strategy,
  };
}

/** The zone as it is before the cutover: the old values at their normal TTL. */
function writeInitialZone(workspace: string, plan: Plan): void {
  const records = plan.dns.records.map((record) => ({ name: record.name, type: record.type, content: record.oldValue, ttl: record.normalTtl }));
  writeFileSync(join(workspace, 'zone.json'), `${JSON.stringify({ zone: plan.dns.zone, records, changes: [] }, null, 2)}\n`);
}

interface Resources {
  servers: EmbeddedServer[];
  standIns: StandIn[];
}

async function release(resources: Resources): Promise<void> {
  for (const standIn of resources.standIns) await standIn.close().catch(() => {});
  for (const server of resources.servers) await server.stop().catch(() => {});
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await openClient(url, { label: 'rehearsal database', statementTimeoutMs: 0 });
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The rehearsal's clock: the compressed clock, plus what the world does while the run waits. After
 * each wait, the new system ingests the readings that came due (from the switch on), and drift is
 * injected once after the switch when asked.
 */
class RehearsalClock implements Clock {
  readonly kind = 'compressed';
  constructor(
    readonly inner: CompressedClock,
    private readonly afterWait: (now: number) => Promise<void>,
  ) {}
  get speed(): number {
    return this.inner.speed;
  }
  now(): number {
    return this.inner.now();
  }
  async sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
    await this.inner.sleepUntil(deadline, signal);
    await this.afterWait(this.inner.now());
  }
}

export interface RehearsalOutcome {
  code: number;
  reportPath: string;
}

/** `cutover rehearse`: the whole cutover, for real, on two embedded PostgreSQL servers. */
export async function rehearse(options: RehearseOptions, io: Io): Promise<RehearsalOutcome> {
  const started = Date.now();
  const workspace = options.keep ? resolve(options.keep) : mkdtempSync(join(tmpdir(), 'cutover-rehearsal-'));
  if (options.keep) {
    if (existsSync(workspace) && readdirSync(workspace).length > 0) {
      throw new ExitError(`--keep ${options.keep}: the folder is not empty. Give an empty or new folder.`, EXIT.usage);
    }
    mkdirSync(workspace, { recursive: true });
  }
  const resources: Resources = { servers: [], standIns: [] };
  const say = (line: string) => io.out(line);
  try {
    say(`Rehearsal workspace: ${workspace}`);
    say('Starting two embedded PostgreSQL servers (source made to look like Supabase, target self-hosted)…');
    const strategy = options.strategy ?? 'copy';
    // Logical replication needs wal_level = logical on the source (Supabase has it), and on the target
    // for the reverse replication a rollback drains where the source can subscribe (PostgreSQL 17+).
    const settings = strategy === 'replicate' ? { settings: { wal_level: 'logical' } } : {};
    const servers = await Promise.allSettled([
      startEmbeddedPostgres({ ...(options.keep ? { dataDir: join(workspace, 'source-data') } : {}), ...settings }),
      startEmbeddedPostgres({ ...(options.keep ? { dataDir: join(workspace, 'target-data') } : {}), ...settings }),
    ]);
    for (const each of servers) if (each.status === 'fulfilled') resources.servers.push(each.value);
    const failed = servers.find((each) => each.status === 'rejected');
    if (failed) throw failed.reason;
    const [source, target] = resources.servers as [EmbeddedServer, EmbeddedServer];
    const sourceUrl = await source.createDatabase('freshtrack');
    const targetUrl = await target.createDatabase('freshtrack');

    say(`Creating the FreshTrack schema and generating ${options.rows.toLocaleString('en-US')} readings…`);
    const generation = Date.now();
    // Readings up to the databases' own now: the cutover point is taken from the database clock,
    // which the compressed clock does not move, so everything before the freeze must be before it.
    const t0 = rehearsalT0(Date.now());
    const counts = (await prepareFreshTrackPair(sourceUrl, targetUrl, { readings: options.rows, seed: 1 }))!;
    const webhookDevEui = await withClient(sourceUrl, async (client) => (await client.query<{ dev_eui: string }>('select dev_eui from public.sensors order by dev_eui limit 1')).rows[0]!.dev_eui);
    say(`  ${plural(counts.organizations, 'organization')}, ${plural(counts.sensors, 'sensor')}, ${counts.readings.toLocaleString('en-US')} readings, ${plural(counts.alerts, 'alert')}, ${plural(counts.users, 'user')} in ${((Date.now() - generation) / 1000).toFixed(1)} s`);

    const serviceRoleKey = `rehearsal-service-role-${Math.random().toString(36).slice(2)}`;
    // The new system stamps readings with the rehearsal's clock, which exists once the plan does.
    let virtualNow: () => number = Date.now;
    const [oldApp, newApp, authAdmin] = await Promise.all([startOldApp(sourceUrl), startNewApp(targetUrl, () => virtualNow()), startAuthAdmin(sourceUrl, serviceRoleKey)]);
    resources.standIns.push(oldApp, newApp, authAdmin);
    say(`Stand-ins: old app ${oldApp.url}, new app ${newApp.url}, Supabase auth ${authAdmin.url}`);
    const traffic: Traffic = startTraffic(targetUrl);
    let replicateWorld: ReplicateWorld | undefined;
    resources.standIns.push({ url: '', close: () => traffic.close() });
    // With strategy replicate the sensors' own writes after the switch count too (replicateWorld, below).
    const world: WorldEvents = { ingested: () => traffic.ingested() + newApp.ingested() + (replicateWorld?.writes.acknowledged.new.length ?? 0), drift: [] };
    const notifySink = await startNotifySink();
    resources.standIns.push(notifySink);

    const env = {
      ...process.env,
      SOURCE_DATABASE_URL: sourceUrl,
      TARGET_DATABASE_URL: targetUrl,
      SUPABASE_URL: authAdmin.url,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      ...notifySink.env,
    };
    // A loopback DNS server answers from the zone file, so propagation is asked over the wire.
    const zoneFile = join(workspace, 'zone.json');
    writeFileSync(zoneFile, '{"zone":"freshtrackpro.com","records":[],"changes":[]}\n');
    const dns = await serveZoneFile(zoneFile);
    resources.standIns.push({ url: dns.address, close: () => dns.close() });
    const planInput = { ...rehearsalPlan(t0, { oldApp: oldApp.url, newApp: newApp.url }, webhookDevEui, dns.address, strategy), notifications: { targets: notifySink.targets } };
    const planFile = join(workspace, 'cutover.config.ts');
    writeFileSync(planFile, renderPlanFile(planInput));
    const plan = parsePlan(planInput, planFile);
    writeInitialZone(workspace, plan);

    if (strategy === 'replicate') {
      // The sensors keep reporting from now on, through the copy, until the freeze refuses them and
      // the switch sends them to the new system.
      const record = plan.dns.records[0]!;
      replicateWorld = startReplicateWorld({ sourceUrl, targetUrl, zoneFile, record: { name: record.name, newValue: record.newValue } });
      resources.standIns.push({ url: '', close: async () => void (await replicateWorld?.writes.stop()) });
      say(`Strategy replicate: sensors write to the source as service_role every 20 ms until the freeze, then to the new system once DNS points at it.`);
    }
    const timeline = settingsFromPlan(plan);
    const compressed = new CompressedClock(options.speed, timeline.t0 - 48 * 3_600_000 - 60_000 - Date.now());
    const stateDir = join(workspace, '.cutover');
    let driftInjected = false;
    const clock = new RehearsalClock(compressed, async (now) => {
      const machine = loadState(stateDir)?.machine as { value?: unknown; context?: { switchedAt?: number; steps?: Record<string, { output?: unknown }> } } | undefined;
      const switchedAt = machine?.context?.switchedAt;
      // The new system takes traffic from the switch until a rollback freezes it.
      if (switchedAt === undefined || JSON.stringify(machine?.value).includes('rollback')) return;
      const written = await traffic.ingestUntil(switchedAt, now);
      if (written) io.out(`           (new system ingested ${written.toLocaleString('en-US')} readings up to ${peopleTime(now, examplePlan.t0.zone)})`);
      if (options.injectDrift && !driftInjected) {
        driftInjected = true;
        const cutoverPoint = Date.parse(output(outputsOf(machine?.context?.steps ?? {}), 'freeze.snapshot')?.at ?? '');
        world.drift = await traffic.injectDrift(options.injectDrift, Number.isNaN(cutoverPoint) ? switchedAt : cutoverPoint);
        io.out(`           (drift injected: deleted ${world.drift.length} migrated readings from the target, ids ${world.drift.map((row) => row.id).join(', ')})`);
      }
    });
    virtualNow = () => clock.now();
    const session: Session = {
      plan,
      planFile,
      planDir: workspace,
      stateDir,
      clock,
      clockOffset: { get: () => compressed.offsetMs, set: (value) => (compressed.offsetMs = value) },
      registry: registryFor(plan),
      adapters: createAdapters(plan, workspace, env),
      env,
    };
    say(`Running the timeline T-48h → T+7d with the clock ${options.speed.toLocaleString('en-US')}× faster during waits (actions take their real time)…`);
    const outcome = options.interactive ? await driveInteractive(session, io) : await driveAutomatically(session, io, { withRollback: Boolean(options.withRollback) });
    await settleNotifications();
    if (replicateWorld) {
      const checked = await replicateWorld.finish();
      world.replicate = { writes: replicateWorld.writes, lag: replicateWorld.lag, ...checked };
    }
    world.sourceReadingsAtEnd = await withClient(sourceUrl, async (client) => Number((await client.query('select count(*) from public.temperature_readings')).rows[0].count));

    const reportPath = resolve(options.reportPath ?? 'rehearsal-report.md');
    await writeRehearsalReport(reportPath, {
      session,
      counts,
      workspace,
      realSeconds: (Date.now() - started) / 1000,
      notAvailable: outcome.notAvailable,
      failures: outcome.failures,
      ended: outcome.blocked,
      world,
      notifySink,
    });
    const htmlPath = `${reportPath.replace(/\.md$/, '')}.html`;
    writeHtmlReport(htmlPath, plan, stateDir, clock.now());
    say('');
    // The closing summary: what the rehearsal did, where it ended, and (when it stopped early) what next.
    const { snapshot, journal } = peekRun(stateDir, plan);
    const summary = summarizeStop({ entries: journal.entries, after: snapshot }, clock.now(), plan.t0.zone, { rehearsal: true, errorShown: !options.interactive });
    for (const line of summaryLines(summary, plan.t0.zone, 'The rehearsal')) say(line);
    say(`Report: ${reportPath} (and ${htmlPath})`);
    if (options.keep) {
      say(`Kept in ${workspace}: the plan, state (.cutover), exports, outbox, zone.json and both servers' data folders.`);
      say(`Inspect it with: cutover status --config ${planFile}`);
    }
    const clean = outcome.blocked.kind === 'ended' && outcome.failures.length === 0;
    return { code: outcome.quitCode ?? (clean ? EXIT.ok : EXIT.attention), reportPath };
  } finally {
    await release(resources);
    if (!options.keep) rmSync(workspace, { recursive: true, force: true });
  }
}

interface DriveOutcome {
  blocked: Blocked;
  /** Steps skipped because this version has no action for them yet. */
  notAvailable: string[];
  /** Steps that failed for real, with the error. */
  failures: { stepId: string; error: string }[];
  /** The interactive rehearsal quit before the end: the exit code the UI gave (3 at a gate). */
  quitCode?: number;
}

/**
 * Play every person: sign off as "rehearsal", type the confirmation phrases. A step this version
 * cannot do yet is skipped and reported as not available; a failing data-path step ends the rehearsal.
 */
async function driveAutomatically(session: Session, io: Io, choices: { withRollback: boolean }): Promise<DriveOutcome> {
  const zone = session.plan.t0.zone;
  let lastProgress = 0;
  const runner: Runner = openRunner(session, 'drive', 'cutover rehearse', {
    retries: 1,
    retryDelayMs: 500,
    onJournal: (entry) => {
      const line = formatJournalLine(entry, zone);
      if (line) io.out(line);
    },
    onProgress: (stepId, progress) => {
      if (Date.now() - lastProgress < 1_000 && progress.done !== progress.total) return;
      lastProgress = Date.now();
      io.out(formatProgress(stepId, progress));
    },
  });
  const notAvailable = new Set<string>();
  const failures: DriveOutcome['failures'] = [];
  const rehearsal = rehearsalIdentity(REHEARSAL_APPROVER);
  try {
    for (;;) {
      const blocked = await runner.drive({ waitGates: true });
      const stepId = blocked.location.stepId;
      const at = session.clock.now();
      // --with-rollback: at the decision that follows the verdict (the first-day review).
      if (choices.withRollback && stepId && findStep(stepId)?.step.routesOnVerdict && blocked.kind !== 'ended') {
        io.out('           (--with-rollback: the rehearsal takes the rollback branch at the first-day review)');
        runner.send({ type: 'ROLLBACK', by: REHEARSAL_APPROVER, reason: 'rehearsal --with-rollback: roll back at the first-day review', at }, { identity: rehearsal, phrase: runner.context().phrases.rollback });
      } else if (blocked.kind === 'signoff') {
        runner.send({ type: 'SIGNOFF', stepId: stepId!, by: REHEARSAL_APPROVER, at, note: 'automatic sign-off (rehearsal)' }, { identity: rehearsal });
      } else if (blocked.kind === 'confirm') {
        runner.send({ type: 'CONFIRM', stepId: stepId!, by: REHEARSAL_APPROVER, at, phrase: expectedPhrase(runner.context(), findStep(stepId!)!.step) }, { identity: rehearsal });
      } else if (blocked.kind === 'failed' || blocked.kind === 'unknown') {
        const error = runner.context().steps[stepId!]?.error ?? 'unknown error';
        if (/is not implemented yet/.test(error)) notAvailable.add(stepId!);
        else failures.push({ stepId: stepId!, error });
        if (FATAL.test(stepId!) && !notAvailable.has(stepId!)) {
          return { blocked, notAvailable: [...notAvailable], failures };
        }
        runner.send({ type: 'SKIP', stepId: stepId!, by: REHEARSAL_APPROVER, reason: notAvailable.has(stepId!) ? 'not yet available in this version' : `failed in rehearsal: ${error}`, at }, { identity: rehearsal });
      } else {
        return { blocked, notAvailable: [...notAvailable], failures };
      }
    }
  } finally {
    runner.close();
  }
}

async function driveInteractive(session: Session, io: Io): Promise<DriveOutcome> {
  const { runInteractive } = await import('../ui/run-interactive.js');
  // A rehearsal cannot be resumed (its workspace goes): it says its own summary at its end, not the UI.
  const quitCode = await runInteractive(session, {}, io, { rehearsal: true });
  const { snapshot } = peekRun(session.stateDir, session.plan);
  const location = locate(snapshot);
  return {
    blocked: location.ended ? { kind: 'ended', location } : { kind: 'until', location },
    notAvailable: [],
    failures: [],
    ...(location.ended ? {} : { quitCode }),
  };
}
