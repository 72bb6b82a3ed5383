import { z } from 'zod';
import { canonicalTableId, IdentifierError, parseColumnName } from './identifiers.js';
import { notificationsSchema } from './notify-schema.js';

/**
 * The plan file's schema. Every field is documented here, once, with `.describe()` (and an example
 * with `.meta()` where the FreshTrack example plan has none): docs/plan.md and the comments in the
 * plan `cutover init` writes are generated from these descriptions (src/config/plan-docs.ts).
 *
 * Secrets never appear in a plan: fields ending in `Env` hold the *name* of an environment variable,
 * and connection strings are read from those variables at run time only.
 */

const envName = z
  .string({ error: 'expected the name of an environment variable' })
  .regex(/^[A-Z_][A-Z0-9_]*$/, {
    error: 'expected the name of an environment variable (e.g. SOURCE_DATABASE_URL), not its value',
  });

/**
 * How a database connection is encrypted. A host that is not loopback always gets TLS; `caFile`
 * (relative to the plan file) is the CA the server's certificate must chain to (Supabase publishes
 * its CA in the project's database settings), verified with the host name (`sslmode=verify-full`).
 */
const tlsSchema = z.strictObject({
  caFile: z
    .string()
    .min(1)
    .describe('PEM file of the CA, relative to the plan file (Supabase publishes its CA in the project\'s database settings).')
    .meta({ examples: ['supabase-ca.pem'] }),
});


/**
 * A column name in SQL syntax (`user_id`, `"userId"`, `"order"`), turned into the column's exact name.
 * See identifiers.ts for why capitals must be quoted.
 */
const identifier = z.string({ error: 'expected a column name' }).transform((text, ctx) => {
  try {
    return parseColumnName(text);
  } catch (error) {
    if (!(error instanceof IdentifierError)) throw error;
    ctx.addIssue({ code: 'custom', message: `expected a column name: ${error.message}` });
    return z.NEVER;
  }
});

/**
 * A table name in SQL syntax (`public.readings`, `public."User"`, `public."Audit ""Log"" Entries"`),
 * turned into its canonical id (always schema-qualified, see identifiers.ts).
 */
const qualifiedTable = z.string({ error: 'expected a table name such as public.readings' }).transform((text, ctx) => {
  try {
    return canonicalTableId(text);
  } catch (error) {
    if (!(error instanceof IdentifierError)) throw error;
    ctx.addIssue({ code: 'custom', message: `expected a table name such as public.readings or public."User": ${error.message}` });
    return z.NEVER;
  }
});

/** "15m", "2h", "2h30m", "1d": a duration used for cadences and windows (units largest first). */
export const durationText = z
  .string({ error: 'expected a duration such as 15m, 2h30m or 1d' })
  .regex(/^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/, { error: 'expected a duration such as 15m, 2h30m or 1d (units d, h, m, s, largest first)' });

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const personName = z.string().trim().min(1, { error: 'expected a person\'s name' });

/** A login name: an OS account or a PostgreSQL role, as the system spells it. */
const accountName = z
  .string({ error: 'expected an account name' })
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/, { error: 'expected an account name such as dana (letters, digits, _ . -)' });

/**
 * An approver and how they are recognised (DESIGN §2 "who acts is established, not typed"):
 * `{ name: 'Dana Lee', os: 'dana' }` is Dana when the command runs as the OS account `dana`;
 * `pg` is the PostgreSQL login in team mode. A plain string names a person declared with an object
 * elsewhere in `approvers`, or else is both the name and the OS account (`'dana'`).
 */
const approverEntry = z.union([
  personName,
  z.strictObject({
    name: personName.describe('How the person appears on the record (journal, report, UI); elsewhere in the plan they are named by this alone.').meta({ examples: ['Ana Ruiz'] }),
    os: accountName
      .optional()
      .describe('The OS account that runs `cutover` on the operations host: a command run as this account acts as this person. Defaults to `name`.')
      .meta({ examples: ['ana'] }),
    pg: accountName.optional().describe('The PostgreSQL login that recognises this person in team mode.').meta({ examples: ['ana_ruiz'] }),
  }),
]).describe(
  'A person: their name (a person declared with an object elsewhere in `approvers`, or else both the name and the OS account), or `{ name, os, pg }` saying how the system recognises them.',
);

export const tableSchema = z.strictObject({
  name: qualifiedTable.describe('Table name in SQL syntax: `public.readings`, `public."User"` (capitals, spaces and quotes in double quotes, as in SQL); `public.` is assumed when missing.').meta({ examples: ['public.readings', 'public."User"'] }),
  key: z.array(identifier).min(1, { error: 'expected at least one key column' }).describe('Primary key columns in SQL syntax (`"userId"` for a mixed-case name), used to name rows in verification and reconciliation reports.'),
  timestampColumn: identifier.optional().describe('Column that records when a row was written; reconciliation buckets by it.'),
  appendOnly: z.boolean().default(false).describe('Rows are only ever inserted (readings): a rollback re-imports them into the source.'),
  reconcile: z
    .strictObject({
      groupBy: z.array(identifier).default([]).describe('Columns whose values form the groups compared between source and target (counts and content hashes per group).'),
      bucket: z.enum(['hour', 'day']).optional().describe('Also group by `timestampColumn` truncated to this width.'),
    })
    .optional()
    .describe('How reconciliation groups this table: columns, and the bucket width of `timestampColumn`. Without it the table is compared as one group.'),
});

export const dnsRecordSchema = z.strictObject({
  name: z.string().min(1, { error: 'expected a record name such as api.example.com' }).describe('Fully qualified record name, e.g. api.freshtrackpro.com.'),
  type: z.enum(['A', 'AAAA', 'CNAME']).describe('Record type.'),
  oldValue: z.string().min(1).describe('What the record points at today (the old system).'),
  newValue: z.string().min(1).describe('What it must point at after the switch (the new system).'),
  normalTtl: z.number().int().min(1).describe('TTL in seconds outside the cutover (restored at close or abort).'),
  cutoverTtl: z.number().int().min(1).describe('TTL in seconds during the cutover (lowered at T-48h so the switch propagates fast).'),
});

const dnsSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('cloudflare').describe('Cloudflare, through its API (token with Zone → Zone → Read and Zone → DNS → Edit).'),
    zone: z.string().min(1).describe('The zone name; the operator types it to confirm `dns.switch`. Ids are looked up by name.'),
    apiTokenEnv: envName.describe('Environment variable holding the Cloudflare API token.'),
    baseUrl: httpUrl.optional().describe('Override of the API base URL (contract fakes in tests).').meta({ examples: ['http://127.0.0.1:8787/client/v4'] }),
    records: z.array(dnsRecordSchema).min(1).describe('The records that switch from the old system to the new one.'),
    resolvers: z.array(z.string().min(1)).default(['1.1.1.1', '8.8.8.8']).describe('Resolvers asked during propagation, as IP or IP:port.'),
    propagationTimeout: durationText.default('15m').describe('How long `dns.propagation` waits for every resolver to answer the new values.'),
  }),
  z.strictObject({
    provider: z.literal('local').describe('A zone JSON file (rehearsals and tests): `{ "zone", "records": [{ name, type, content, ttl }], "changes": [] }`; every change is appended to `changes`.'),
    zone: z.string().min(1).describe('The zone name; the operator types it to confirm `dns.switch`.').meta({ examples: ['freshtrackpro.com'] }),
    file: z.string().min(1).describe('Zone JSON file, relative to the plan file.').meta({ examples: ['zone.json'] }),
    records: z.array(dnsRecordSchema).min(1).describe('The records that switch from the old system to the new one.'),
    resolvers: z.array(z.string().min(1)).default([]).describe('Resolvers asked during propagation, as IP or IP:port (a local DNS server serving the zone file).').meta({ examples: [['127.0.0.1:5353']] }),
    propagationTimeout: durationText.default('15m').describe('How long `dns.propagation` waits for every resolver to answer the new values.'),
  }),
]);

const audienceSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('supabase-auth').describe('Users listed through the Supabase admin API (the export\'s auth users when available).') }),
  z.strictObject({
    source: z.literal('file').describe('A file of addresses.'),
    file: z.string().min(1).describe('One address per line, or a CSV whose first column is the address; relative to the plan file. Duplicates are merged and invalid lines skipped (both reported).').meta({ examples: ['audience.txt'] }),
  }),
]);

const mailCommon = {
  from: z.string().min(3, { error: 'expected a sender such as "FreshTrack <ops@example.com>"' }).describe('Sender of every notice, with the display name.'),
  audience: audienceSchema.describe('Who receives the user notices.'),
  ratePerSecond: z.number().positive().default(2).describe('Messages per second the provider may be sent.'),
  allowList: z.array(z.email()).default([]).describe('Staging plans send real mail only to these addresses.').meta({ examples: [['qa@freshtrackpro.com']] }),
};

const mailSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('resend').describe('Resend, through its API (batches of up to 100, idempotency keys).'),
    apiKeyEnv: envName.describe('Environment variable holding the Resend API key.'),
    baseUrl: httpUrl.optional().describe('Override of the API base URL (contract fakes in tests).').meta({ examples: ['http://127.0.0.1:8788'] }),
    ...mailCommon,
  }),
  z.strictObject({
    provider: z.literal('outbox').describe('Rendered messages written to a folder (rehearsals, dry runs).'),
    dir: z.string().min(1).describe('Folder messages are written to, relative to the plan file.').meta({ examples: ['outbox'] }),
    ...mailCommon,
  }),
]);

const probeSchema = z.strictObject({
  url: httpUrl.describe('What is requested.'),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET').describe('HTTP method.'),
  expectStatus: z.number().int().min(100).max(599).default(200).describe('The status that counts as healthy.'),
  bodyMatch: z.string().optional().describe('A substring or /regex/ the body must contain.').meta({ examples: ['ok'] }),
  timeoutMs: z.number().int().positive().default(5000).describe('How long one request may take, in ms.'),
});

const signoffSchema = z.strictObject({
  approvers: z.array(approverEntry).min(1).optional().describe('People who may sign off this step; defaults to `approvers.default`.'),
  quorum: z.number().int().min(1).default(1).describe('How many distinct people must approve (each person counts once).'),
});

/**
 * Steps a plan adds to the runbook (DESIGN §1: the runbook is data). Each goes into a phase after a
 * named step. Its id is part of the CLI contract like a built-in one (`cutover signoff custom.ops-ok`),
 * so it has its own prefix and can never take a built-in step's name.
 */
export const CUSTOM_STEP_ID = /^custom\.[a-z0-9]+(?:-[a-z0-9]+)*$/;

const customStepId = z
  .string({ error: 'expected a step id such as custom.status-page' })
  .regex(CUSTOM_STEP_ID, { error: 'expected a step id such as custom.status-page: "custom." then lowercase letters, digits and single dashes' });

const headerValue = z.union([
  z.strictObject({ valueEnv: envName.describe('Environment variable holding the header\'s value (a token): read when the step runs, never written anywhere.') }),
  z.strictObject({ value: z.string().describe('The header\'s value, when it is not a secret (e.g. a content type).') }),
]);

const httpActionSchema = z.strictObject({
  kind: z.literal('http').describe('An HTTP request (a status page, a chat message, a deploy hook).'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST').describe('HTTP method.'),
  url: httpUrl.describe('What is requested.').meta({ examples: ['https://api.statuspage.io/v1/pages/abc/incidents'] }),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'expected a header name such as Authorization' }), headerValue)
    .default({})
    .describe('Request headers by name: `{ valueEnv: NAME }` for a secret read from the environment, `{ value }` for a plain one.')
    .meta({ examples: [{ Authorization: { valueEnv: 'STATUSPAGE_TOKEN' } }] }),
  body: z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .optional()
    .describe('Request body: an object is sent as JSON, a string as it is.')
    .meta({ examples: [{ status: 'under_maintenance' }] }),
  expectStatus: z.number().int().min(100).max(599).default(200).describe('The status that counts as done; any other fails the step.'),
  timeoutMs: z.number().int().positive().default(10_000).describe('How long the request may take, in ms.'),
});

const sqlActionSchema = z.strictObject({
  kind: z.literal('sql').describe('SQL run on the source or target database.'),
  database: z.enum(['source', 'target']).describe('Which database it runs on.').meta({ examples: ['target'] }),
  sql: z.string().trim().min(1, { error: 'expected the SQL to run' }).describe('The SQL. It runs in a read-only transaction unless `writes` is true.').meta({ examples: ['select count(*) from public.readings'] }),
  writes: z.boolean().default(false).describe('The SQL changes data: run it in a read-write transaction. Without this a write is refused by the database.'),
  expect: z.enum(['any', 'rows', 'no-rows']).default('any').describe('What the result must be for the step to pass: any, at least one row, or no row (a check query that lists problems).'),
});

const commandActionSchema = z.strictObject({
  kind: z.literal('command').describe('A program run without a shell (no pipes, globs or variables: write them out).'),
  argv: z.array(z.string().min(1)).min(1, { error: 'expected the program and its arguments' }).describe('The program and its arguments.').meta({ examples: [['./scripts/purge-cache.sh', '--all']] }),
  cwd: z.string().optional().describe('Working folder, relative to the plan file; defaults to the plan\'s folder.').meta({ examples: ['scripts'] }),
  timeout: durationText.default('5m').describe('How long the program may run before it is stopped and the step fails.'),
});

const customPlace = {
  id: customStepId.describe('The step\'s id: `custom.` then lowercase letters, digits and dashes. Used by `cutover signoff`, `skip`, `retry`.').meta({ examples: ['custom.status-page'] }),
  title: z.string().trim().min(1).describe('Short title (timeline, checklist, journal).').meta({ examples: ['Status page: maintenance scheduled'] }),
  description: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe('What the step is for, for the people in the room; defaults to what it does.')
    .meta({ examples: ['Users following the status page see the window coming.'] }),
  phase: z.string().min(1).describe('The phase it goes in (see `cutover plan`; not a phase of recurring checks).').meta({ examples: ['window'] }),
  after: z.string().min(1).describe('The step of that phase it follows: a built-in step or one added earlier in `steps`.').meta({ examples: ['validate.monitoring'] }),
};

const idempotent = z
  .boolean()
  .default(false)
  .describe('Running it twice does no harm. Otherwise, a runner that stopped while it ran asks the operator (outcome unknown) instead of running it again.');

const customUndoSchema = z.discriminatedUnion('kind', [
  httpActionSchema.extend({ idempotent }),
  sqlActionSchema.extend({ idempotent }),
  commandActionSchema.extend({ idempotent }),
]);

const customActionExtras = {
  idempotent,
  undo: customUndoSchema
    .optional()
    .describe('What undoes the step, run in the rollback branch (and, for a step before the freeze, the abort branch) if the step finished: an http, sql or command action as above.'),
};

const customStepSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('signoff').describe('People confirm something done by hand.'),
    ...customPlace,
    approvers: z
      .array(personName)
      .min(1)
      .optional()
      .describe('Who may sign: names of people the plan declares in `approvers`; defaults to `approvers.default`.')
      .meta({ examples: [['Ana Ruiz']] }),
    quorum: z.number().int().min(1).default(1).describe('How many distinct people must approve.'),
  }),
  httpActionSchema.extend({ ...customPlace, ...customActionExtras }),
  sqlActionSchema.extend({ ...customPlace, ...customActionExtras }),
  commandActionSchema.extend({ ...customPlace, ...customActionExtras }),
]);

export const planSchema = z
  .strictObject({
    name: z.string().min(1).describe('Shown in the UI, reports and notices.'),
    environment: z.enum(['staging', 'production']).describe('A `staging` plan prefixes every subject with [STAGING] and sends real mail only to `mail.allowList`.'),
    product: z
      .strictObject({
        name: z.string().min(1).describe('The product\'s name, as users know it.'),
        statusPageUrl: httpUrl.describe('Where users follow the maintenance.'),
        supportContact: z.string().min(1).describe('Where users ask for help.'),
        passwordResetUrl: httpUrl.describe('Where users reset their password after the move (maintenance-complete notice).'),
      })
      .describe('What the user notices say about the product.'),
    t0: z
      .strictObject({
        at: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, {
            error: 'expected a local wall-clock time such as 2026-12-05T22:00',
          })
          .describe('Wall-clock time in `zone`. A time that does not exist (spring-forward) is rejected; an ambiguous one (fall-back) needs `offset`.'),
        zone: z.string().min(1).describe('IANA time zone; every time shown to people is in this zone, with its offset.'),
        offset: z
          .string()
          .regex(/^[+-]\d{2}:\d{2}$/, { error: 'expected an offset such as -05:00' })
          .optional()
          .describe('Chooses between the two instants of an ambiguous wall-clock time (the hour repeated when clocks go back).')
          .meta({ examples: ['-05:00'] }),
      })
      .describe('Planned start of the window (T0). Gates before the switch are offsets from it.'),
    windowDuration: durationText.default('150m').describe('Expected length of the maintenance window, for notices and the downtime forecast.'),
    source: z
      .strictObject({
        urlEnv: envName.describe('Environment variable holding the source connection URL (direct or session pooler, never the transaction pooler).'),
        supabase: z
          .strictObject({
            urlEnv: envName.describe('Environment variable holding the Supabase project URL.'),
            serviceRoleKeyEnv: envName.describe('Environment variable holding the service-role key (auth admin API).'),
          })
          .optional()
          .describe('Supabase project, for auth users through the admin API.'),
        tls: tlsSchema.optional().describe('TLS for the source connection: the CA its certificate must chain to (verify-full). A host that is not loopback always uses TLS.'),
      })
      .describe('The database moved off (Supabase).'),
    target: z
      .strictObject({
        urlEnv: envName.describe('Environment variable holding the target connection URL.'),
        tls: tlsSchema.optional().describe('TLS for the target connection, as for the source.'),
      })
      .describe('The self-hosted PostgreSQL moved to.'),
    tables: z.array(tableSchema).min(1, { error: 'expected at least one table' }).describe('The tables migrated, parents before children.'),
    excludedTables: z
      .array(
        z.strictObject({
          // The example sits on the input: zod's JSON Schema of a plan as written drops metadata put on a transform.
          name: z
            .string({ error: 'expected a table name such as public.readings' })
            .meta({ description: 'Table name in SQL syntax, as in `tables`.', examples: ['public.audit_log'] })
            .pipe(qualifiedTable),
          reason: z
            .string()
            .trim()
            .min(1, { error: 'say why the table stays behind' })
            .describe('Why the table stays behind.')
            .meta({ examples: ['kept on the old system for the auditors; not read by the new app'] }),
        }),
      )
      .default([])
      .describe('Tables of the migrated schemas (the schemas of `tables`) that stay behind on purpose, each with why. `check` and final.target-ready fail on a source table that is in neither list.'),
    appRoles: z.array(z.string().min(1)).default(['anon', 'authenticated', 'service_role']).describe('Roles whose writes are refused during the freeze.'),
    freeze: z
      .strictObject({
        quietWindow: durationText.default('30s').describe('How long write counters must stay unchanged before the snapshot.'),
      })
      .default({ quietWindow: '30s' })
      .describe('The write freeze on the source.'),
    dns: dnsSchema.describe('The DNS provider and the records that switch.'),
    mail: mailSchema.describe('How user notices are sent.'),
    probes: z
      .strictObject({
        oldHealth: probeSchema.describe('Health of the old system (checked before it is taken down; baseline at T-24h).'),
        newHealth: probeSchema.describe('Health of the new system.'),
        smoke: z.array(probeSchema).default([]).describe('Smoke tests of the new system after deploy.'),
        external: z.array(probeSchema).default([]).describe('Checks through the public names after the switch (`dns.external-check`).'),
        monitoring: z.array(probeSchema).default([]).describe('Monitoring endpoints that must answer (`validate.monitoring`).'),
        webhook: z
          .strictObject({
            url: httpUrl.describe('Where the test payload is POSTed.'),
            payload: z.record(z.string(), z.unknown()).describe('The test payload (a reading unique to the run; removed after).'),
            checkSql: z.string().optional().describe('SQL run on the target that returns a row once the test payload arrived.'),
            checkUrl: httpUrl.optional().describe('Or a URL that answers 200 once it arrived.').meta({ examples: ['https://api.freshtrackpro.com/api/readings/latest?dev_eui=CUTOVER-TEST'] }),
          })
          .optional()
          .describe('`validate.webhook`: a TTN-style webhook reaches the new system.'),
        baselineRequests: z.number().int().min(1).default(50).describe('Requests made to capture the old system\'s baseline at T-24h.'),
      })
      .describe('HTTP probes of the old and new systems.'),
    thresholds: z
      .strictObject({
        errorRate: z.number().min(0).max(1).default(0.05).describe('Escalate when more than this share of requests fail (recurring checks).'),
        rollbackErrorRate: z.number().min(0).max(1).default(0.1).describe('Decision tree: user-facing errors above this share → rollback, else fix forward.'),
        rollbackLatencyMultiple: z.number().min(1).default(2).describe('Decision tree: p95 above this multiple of the baseline → rollback, else scale up.'),
        // Not 1: p95 moves by tens of percent between quiet and busy hours without anything being wrong.
        degradedLatencyMultiple: z
          .number()
          .min(1)
          .default(1.5)
          .describe('Decision tree: p95 above this multiple of the baseline counts as "performance degradation" (then scale up and monitor, or roll back past `rollbackLatencyMultiple`).'),
        // On a fast system, 3 ms becoming 9 ms is noise, not a 3× slowdown anyone notices.
        latencyFloorMs: z.number().min(0).default(50).describe('A baseline p95 below this many ms is compared as if it were this.'),
        readingsGap: durationText.default('30m').describe('Escalate when an active sensor sends nothing for this long.'),
      })
      // A milder threshold above a severe one would skip straight past the milder verdict.
      .refine((t) => t.errorRate <= t.rollbackErrorRate, {
        error: 'errorRate must not be above rollbackErrorRate',
        path: ['errorRate'],
      })
      .refine((t) => t.degradedLatencyMultiple <= t.rollbackLatencyMultiple, {
        error: 'degradedLatencyMultiple must not be above rollbackLatencyMultiple',
        path: ['degradedLatencyMultiple'],
      })
      .default({
        errorRate: 0.05,
        rollbackErrorRate: 0.1,
        rollbackLatencyMultiple: 2,
        degradedLatencyMultiple: 1.5,
        latencyFloorMs: 50,
        readingsGap: '30m',
      })
      .describe('Escalation criteria of the checks and boundaries of the rollback decision tree.'),
    approvers: z
      .strictObject({
        default: z
          .array(approverEntry)
          .min(1, { error: 'expected at least one approver' })
          .describe('Everyone who may sign off steps that do not name their own approvers, and how each is recognised (`{ name, os }`).'),
        steps: z.record(z.string(), signoffSchema).default({}).describe('Per sign-off step id: its approvers and quorum.'),
        skip: z
          .array(approverEntry)
          .min(1)
          .optional()
          .describe(
            'Who may skip an ordinary step (action, e-mail, recurring check); defaults to `default`. Skipping a sign-off, confirmation or decision always needs that step\'s own approvers.',
          )
          .meta({ examples: [['Ana Ruiz', 'Ben Okafor']] }),
      })
      .describe('Who signs off what, and who may skip a step. A person is recognised by the OS account (or PostgreSQL login) that runs the command, not by a typed name.'),
    cadences: z
      .strictObject({
        hypercare: durationText.default('15m').describe('`hypercare.check` every this long, for 2 hours after the switch.'),
        stabilize: durationText.default('2h').describe('`stabilize.check` every this long, until 24 hours after the switch.'),
        reconcile: durationText.default('6h').describe('`watch.reconcile` every this long, counted from the switch, through the watch week.'),
        daily: durationText.default('1d').describe('`watch.daily` every this long.'),
      })
      .default({ hypercare: '15m', stabilize: '2h', reconcile: '6h', daily: '1d' })
      .describe('How often the recurring checks run.'),
    exportsDir: z.string().default('exports').describe('Where exports are written, relative to the plan file (owner-only: they hold personal data).'),
    notifications: notificationsSchema,
    state: z
      .strictObject({
        postgres: z
          .strictObject({
            urlEnv: envName.describe('Environment variable holding the state database\'s URL: a direct connection (never a transaction pooler such as port 6543), to a small database that is neither the source nor the target. Each operator\'s URL carries their own login.').meta({ examples: ['CUTOVER_STATE_URL'] }),
            teamRole: z.string().min(1).optional().describe('A role whose members are the team (each person a LOGIN member): when cutover creates its schema (`cutover check`, or the first run), it grants this role the use of it.').meta({ examples: ['cutover_team'] }),
            tls: tlsSchema.optional().describe('TLS for the state database, as for the source.'),
          })
          .describe('Team mode: the run\'s snapshot, journal, driver\'s lock and inbox live in this PostgreSQL database (schema `cutover_state`), so operators on several machines share one run. Who acts is the session\'s login, mapped to a person by `approvers[].pg`.'),
      })
      .optional()
      .describe('Where the run\'s state lives. Left out: files in the state folder (`.cutover/` beside the plan, or `--state DIR`) on one host.'),
    strategy: z
      .enum(['copy', 'replicate'])
      .default('copy')
      .describe('How the data reaches the target. `copy`: freeze, export, load and verify inside the window (the write freeze grows with the data). `replicate`: from `prep.replicate` on, a publication, a logical slot and a parallel initial copy keep the target current through native logical replication; the window only drains it to the freeze\'s WAL position (a write freeze of seconds). Needs `wal_level = logical`, a free replication slot and a direct (not pooler) source connection.'),
    replicate: z
      .strictObject({
        workers: z.number().int().min(1).max(32).default(4).describe('Connections copying at the same time during the initial copy (tables and key ranges).'),
        chunkRows: z.number().int().min(1000).default(250_000).describe('A table with more rows than this (estimated) is copied in key ranges of about this many rows.'),
        drainTimeout: durationText.default('5m').describe('How long the window waits for the target to apply everything up to the freeze.'),
        maxLagBytes: z.number().int().min(0).default(256 * 1024 * 1024).describe('`check` fails, and `status` and the UI flag it, when the target is further behind than this (WAL bytes not yet confirmed).'),
        maxRetainedBytes: z.number().int().min(0).default(8 * 1024 * 1024 * 1024).describe('`check` fails, and `status` and the UI flag it, when the slot holds back more WAL than this on the source (its disk fills).'),
        maxLagSeconds: z.number().min(0).default(60).describe('`check` fails, and `status` and the UI flag it, when the target applies changes later than this many seconds after the source wrote them (pg_stat_replication.flush_lag).'),
      })
      .default({ workers: 4, chunkRows: 250_000, drainTimeout: '5m', maxLagBytes: 256 * 1024 * 1024, maxRetainedBytes: 8 * 1024 * 1024 * 1024, maxLagSeconds: 60 })
      .describe('Settings of the `replicate` strategy (ignored by `copy`).'),
    steps: z
      .array(customStepSchema)
      .default([])
      .describe('Steps the plan adds to the runbook: a sign-off, an HTTP request, SQL or a command, each after a named step of a phase. They appear in `cutover plan`, the checklist, the UI, the journal and the report like built-in ones.'),
  });

/** A plan as written by the user (defaults optional). */
export type PlanInput = z.input<typeof planSchema>;
/** A validated plan with defaults applied. */
export type Plan = z.output<typeof planSchema>;
export type TablePlan = Plan['tables'][number];
export type DnsRecordPlan = z.output<typeof dnsRecordSchema>;
export type ProbePlan = z.output<typeof probeSchema>;
export type ApproverEntry = z.output<typeof approverEntry>;
export type CustomStepPlan = Plan['steps'][number];
export type CustomActionPlan = z.output<typeof httpActionSchema> | z.output<typeof sqlActionSchema> | z.output<typeof commandActionSchema>;
