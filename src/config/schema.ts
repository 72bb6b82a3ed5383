import { z } from 'zod';

/**
 * The plan file's schema. Every field is documented here, once.
 *
 * Secrets never appear in a plan: fields ending in `Env` hold the *name* of an environment variable,
 * and connection strings are read from those variables at run time only.
 */

const envName = z
  .string({ error: 'expected the name of an environment variable' })
  .regex(/^[A-Z_][A-Z0-9_]*$/, {
    error: 'expected the name of an environment variable (e.g. SOURCE_DATABASE_URL), not its value',
  });

const identifier = z
  .string({ error: 'expected a column name' })
  .regex(/^[a-z_][a-z0-9_$]*$/, { error: 'expected a column name' });

const qualifiedTable = z
  .string({ error: 'expected a table name such as public.readings' })
  .regex(/^([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*$/, {
    error: 'expected a table name such as public.readings',
  });

/** "15m", "2h", "6h", "1d": a duration used for cadences and windows. */
export const durationText = z
  .string({ error: 'expected a duration such as 15m, 2h or 1d' })
  .regex(/^\d+(s|m|h|d)$/, { error: 'expected a duration such as 15m, 2h or 1d' });

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const personName = z.string().min(1, { error: 'expected a person\'s name' });

export const tableSchema = z.strictObject({
  /** Schema-qualified table name; `public.` is assumed when missing. */
  name: qualifiedTable,
  /** Primary key columns, used to name rows in verification and reconciliation reports. */
  key: z.array(identifier).min(1, { error: 'expected at least one key column' }),
  /** Column that records when a row was written; reconciliation buckets by it. */
  timestampColumn: identifier.optional(),
  /** Rows are only ever inserted (readings): a rollback re-imports them into the source. */
  appendOnly: z.boolean().default(false),
  /** How reconciliation groups this table: columns, and the bucket width of `timestampColumn`. */
  reconcile: z
    .strictObject({
      groupBy: z.array(identifier).default([]),
      bucket: z.enum(['hour', 'day']).optional(),
    })
    .optional(),
});

export const dnsRecordSchema = z.strictObject({
  /** Fully qualified record name, e.g. api.freshtrackpro.com. */
  name: z.string().min(1, { error: 'expected a record name such as api.example.com' }),
  type: z.enum(['A', 'AAAA', 'CNAME']),
  /** What the record points at today (the old system). */
  oldValue: z.string().min(1),
  /** What it must point at after the switch (the new system). */
  newValue: z.string().min(1),
  /** TTL in seconds outside the cutover (restored at close or abort). */
  normalTtl: z.number().int().min(1),
  /** TTL in seconds during the cutover (lowered at T-48h so the switch propagates fast). */
  cutoverTtl: z.number().int().min(1),
});

const dnsSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('cloudflare'),
    /** The zone name; the operator types it to confirm `dns.switch`. Ids are looked up by name. */
    zone: z.string().min(1),
    apiTokenEnv: envName,
    /** Override of the API base URL (contract fakes in tests). */
    baseUrl: httpUrl.optional(),
    records: z.array(dnsRecordSchema).min(1),
    /** Resolvers asked during propagation, as IP or IP:port. */
    resolvers: z.array(z.string().min(1)).default(['1.1.1.1', '8.8.8.8']),
    propagationTimeout: durationText.default('15m'),
  }),
  z.strictObject({
    provider: z.literal('local'),
    zone: z.string().min(1),
    /** Zone JSON file, relative to the plan file. */
    file: z.string().min(1),
    records: z.array(dnsRecordSchema).min(1),
    resolvers: z.array(z.string().min(1)).default([]),
    propagationTimeout: durationText.default('15m'),
  }),
]);

const audienceSchema = z.discriminatedUnion('source', [
  /** Users listed through the Supabase admin API (the export's auth users when available). */
  z.strictObject({ source: z.literal('supabase-auth') }),
  /** One address per line, or a CSV whose first column is the address. */
  z.strictObject({ source: z.literal('file'), file: z.string().min(1) }),
]);

const mailCommon = {
  from: z.string().min(3, { error: 'expected a sender such as "FreshTrack <ops@example.com>"' }),
  audience: audienceSchema,
  /** Messages per second the provider may be sent. */
  ratePerSecond: z.number().positive().default(2),
  /** Staging plans send real mail only to these addresses. */
  allowList: z.array(z.email()).default([]),
};

const mailSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('resend'),
    apiKeyEnv: envName,
    baseUrl: httpUrl.optional(),
    ...mailCommon,
  }),
  z.strictObject({
    provider: z.literal('outbox'),
    /** Folder messages are written to, relative to the plan file. */
    dir: z.string().min(1),
    ...mailCommon,
  }),
]);

const probeSchema = z.strictObject({
  url: httpUrl,
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  expectStatus: z.number().int().min(100).max(599).default(200),
  /** A substring or /regex/ the body must contain. */
  bodyMatch: z.string().optional(),
  timeoutMs: z.number().int().positive().default(5000),
});

const signoffSchema = z.strictObject({
  /** People who may sign off this step; defaults to `approvers.default`. */
  approvers: z.array(personName).min(1).optional(),
  /** How many distinct approvals are needed. */
  quorum: z.number().int().min(1).default(1),
});

export const planSchema = z
  .strictObject({
    /** Shown in the UI, reports and notices. */
    name: z.string().min(1),
    environment: z.enum(['staging', 'production']),
    product: z.strictObject({
      name: z.string().min(1),
      statusPageUrl: httpUrl,
      supportContact: z.string().min(1),
      passwordResetUrl: httpUrl,
    }),
    /**
     * Planned start of the window, a wall-clock time in an IANA zone. A time that does not exist
     * (spring-forward) is rejected; an ambiguous one (fall-back) needs `offset` to choose.
     */
    t0: z.strictObject({
      at: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, {
          error: 'expected a local wall-clock time such as 2026-12-05T22:00',
        }),
      zone: z.string().min(1),
      offset: z
        .string()
        .regex(/^[+-]\d{2}:\d{2}$/, { error: 'expected an offset such as -05:00' })
        .optional(),
    }),
    /** Expected length of the maintenance window, for notices and the downtime forecast. */
    windowDuration: durationText.default('150m'),
    source: z.strictObject({
      urlEnv: envName,
      /** Supabase project, for auth users through the admin API. */
      supabase: z
        .strictObject({ urlEnv: envName, serviceRoleKeyEnv: envName })
        .optional(),
    }),
    target: z.strictObject({ urlEnv: envName }),
    tables: z.array(tableSchema).min(1, { error: 'expected at least one table' }),
    /** Roles whose writes are revoked during the freeze. */
    appRoles: z.array(z.string().min(1)).default(['anon', 'authenticated', 'service_role']),
    freeze: z
      .strictObject({
        /** How long write counters must stay unchanged. */
        quietWindow: durationText.default('30s'),
      })
      .default({ quietWindow: '30s' }),
    dns: dnsSchema,
    mail: mailSchema,
    probes: z.strictObject({
      oldHealth: probeSchema,
      newHealth: probeSchema,
      smoke: z.array(probeSchema).default([]),
      external: z.array(probeSchema).default([]),
      monitoring: z.array(probeSchema).default([]),
      webhook: z
        .strictObject({
          url: httpUrl,
          payload: z.record(z.string(), z.unknown()),
          /** SQL run on the target that returns a row once the test payload arrived. */
          checkSql: z.string().optional(),
          checkUrl: httpUrl.optional(),
        })
        .optional(),
      /** Requests made to capture the old system's baseline at T-24h. */
      baselineRequests: z.number().int().min(1).default(50),
    }),
    thresholds: z
      .strictObject({
        /** Escalate when more than this share of requests fail (recurring checks). */
        errorRate: z.number().min(0).max(1).default(0.05),
        /** Decision tree: user-facing errors above this share → rollback, else fix forward. */
        rollbackErrorRate: z.number().min(0).max(1).default(0.1),
        /** Decision tree: p95 above this multiple of the baseline → rollback, else scale up. */
        rollbackLatencyMultiple: z.number().min(1).default(2),
        /**
         * Decision tree: p95 above this multiple of the baseline counts as "performance degradation"
         * (then scale up and monitor, or roll back past `rollbackLatencyMultiple`). Not 1: p95 moves by
         * tens of percent between quiet and busy hours without anything being wrong.
         */
        degradedLatencyMultiple: z.number().min(1).default(1.5),
        /**
         * A baseline p95 below this many ms is compared as if it were this: on a fast system, 3 ms
         * becoming 9 ms is noise, not a 3× slowdown anyone notices.
         */
        latencyFloorMs: z.number().min(0).default(50),
        /** Escalate when an active sensor sends nothing for this long. */
        readingsGap: durationText.default('30m'),
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
      }),
    approvers: z.strictObject({
      /** Everyone who may sign off steps that do not name their own approvers. */
      default: z.array(personName).min(1, { error: 'expected at least one approver' }),
      /** Per sign-off step: its approvers and quorum. */
      steps: z.record(z.string(), signoffSchema).default({}),
    }),
    cadences: z
      .strictObject({
        hypercare: durationText.default('15m'),
        stabilize: durationText.default('2h'),
        reconcile: durationText.default('6h'),
        daily: durationText.default('1d'),
      })
      .default({ hypercare: '15m', stabilize: '2h', reconcile: '6h', daily: '1d' }),
    /** Where exports are written, relative to the plan file. */
    exportsDir: z.string().default('exports'),
    /**
     * How the data reaches the target. `copy`: freeze, export, load and verify inside the window (the
     * write freeze grows with the data). `replicate`: from `prep.replicate` on, a publication, a logical
     * slot and a parallel initial copy keep the target current through native logical replication;
     * the window only drains it to the freeze's WAL position (a write freeze of seconds). Needs
     * `wal_level = logical`, a free replication slot and a direct (not pooler) source connection.
     */
    strategy: z.enum(['copy', 'replicate']).default('copy'),
    /** Settings of the `replicate` strategy (ignored by `copy`). */
    replicate: z
      .strictObject({
        /** Connections copying at the same time during the initial copy (tables and key ranges). */
        workers: z.number().int().min(1).max(32).default(4),
        /** A table with more rows than this (estimated) is copied in key ranges of about this many rows. */
        chunkRows: z.number().int().min(1000).default(250_000),
        /** How long the window waits for the target to apply everything up to the freeze. */
        drainTimeout: durationText.default('5m'),
        /** `check` fails when the target is further behind than this (WAL bytes not yet confirmed). */
        maxLagBytes: z.number().int().min(0).default(256 * 1024 * 1024),
        /** `check` fails when the slot holds back more WAL than this on the source (its disk fills). */
        maxRetainedBytes: z.number().int().min(0).default(8 * 1024 * 1024 * 1024),
      })
      .default({ workers: 4, chunkRows: 250_000, drainTimeout: '5m', maxLagBytes: 256 * 1024 * 1024, maxRetainedBytes: 8 * 1024 * 1024 * 1024 }),
  });

/** A plan as written by the user (defaults optional). */
export type PlanInput = z.input<typeof planSchema>;
/** A validated plan with defaults applied. */
export type Plan = z.output<typeof planSchema>;
export type TablePlan = Plan['tables'][number];
export type DnsRecordPlan = z.output<typeof dnsRecordSchema>;
export type ProbePlan = z.output<typeof probeSchema>;
