import { renderCommentedPlan } from './commented-plan.js';
import type { PlanInput } from './schema.js';

/** The FreshTrack Pro tables, parents first. */
export const freshTrackTables: PlanInput['tables'] = [
  { name: 'public.organizations', key: ['id'], timestampColumn: 'created_at' },
  { name: 'public.sites', key: ['id'], timestampColumn: 'created_at' },
  { name: 'public.areas', key: ['id'], timestampColumn: 'created_at' },
  { name: 'public.units', key: ['id'], timestampColumn: 'created_at' },
  { name: 'public.sensors', key: ['id'], timestampColumn: 'created_at' },
  {
    name: 'public.temperature_readings',
    key: ['id'],
    timestampColumn: 'recorded_at',
    appendOnly: true,
    reconcile: { groupBy: ['sensor_id'], bucket: 'hour' },
  },
  {
    name: 'public.alert_instances',
    key: ['id'],
    timestampColumn: 'triggered_at',
    reconcile: { groupBy: ['status'] },
  },
  { name: 'public.profiles', key: ['id'], timestampColumn: 'created_at' },
  { name: 'public.user_roles', key: ['user_id', 'organization_id'], reconcile: { groupBy: ['role'] } },
  { name: 'public.ttn_connections', key: ['id'], timestampColumn: 'created_at' },
];

/** The example plan `cutover init` writes and the committed checklist is rendered from. */
export const examplePlan: PlanInput = {
  name: 'FreshTrack Pro: Supabase to self-hosted PostgreSQL',
  environment: 'production',
  product: {
    name: 'FreshTrack Pro',
    statusPageUrl: 'https://status.freshtrackpro.com',
    supportContact: 'support@freshtrackpro.com',
    passwordResetUrl: 'https://app.freshtrackpro.com/reset-password',
  },
  t0: { at: '2026-12-05T22:00', zone: 'America/New_York' },
  windowDuration: '150m',
  source: {
    urlEnv: 'SOURCE_DATABASE_URL',
    supabase: { urlEnv: 'SUPABASE_URL', serviceRoleKeyEnv: 'SUPABASE_SERVICE_ROLE_KEY' },
  },
  target: { urlEnv: 'TARGET_DATABASE_URL' },
  tables: freshTrackTables,
  appRoles: ['anon', 'authenticated', 'service_role'],
  freeze: { quietWindow: '30s' },
  dns: {
    provider: 'cloudflare',
    zone: 'freshtrackpro.com',
    apiTokenEnv: 'CLOUDFLARE_API_TOKEN',
    records: [
      { name: 'freshtrackpro.com', type: 'A', oldValue: '203.0.113.10', newValue: '198.51.100.20', normalTtl: 86400, cutoverTtl: 300 },
      { name: 'api.freshtrackpro.com', type: 'A', oldValue: '203.0.113.11', newValue: '198.51.100.20', normalTtl: 86400, cutoverTtl: 300 },
      { name: 'status.freshtrackpro.com', type: 'A', oldValue: '203.0.113.12', newValue: '198.51.100.20', normalTtl: 86400, cutoverTtl: 300 },
    ],
    resolvers: ['1.1.1.1', '8.8.8.8', '9.9.9.9'],
    propagationTimeout: '15m',
  },
  mail: {
    provider: 'resend',
    apiKeyEnv: 'RESEND_API_KEY',
    from: 'FreshTrack Pro <notices@freshtrackpro.com>',
    audience: { source: 'supabase-auth' },
    ratePerSecond: 2,
  },
  probes: {
    oldHealth: { url: 'https://api.freshtrackpro.com/health', bodyMatch: 'ok' },
    newHealth: { url: 'https://198.51.100.20/health', bodyMatch: 'ok' },
    smoke: [
      { url: 'https://198.51.100.20/health/db', bodyMatch: 'ok' },
      { url: 'https://198.51.100.20/api/auth/health' },
    ],
    external: [{ url: 'https://api.freshtrackpro.com/health', bodyMatch: 'ok' }],
    monitoring: [
      { url: 'https://grafana.freshtrackpro.com/api/health' },
      { url: 'https://status.freshtrackpro.com' },
    ],
    webhook: {
      url: 'https://api.freshtrackpro.com/api/webhooks/ttn',
      payload: { end_device_ids: { dev_eui: 'CUTOVER-TEST' }, uplink_message: { decoded_payload: { temperature: 3.5 } } },
      checkSql: "select 1 from public.temperature_readings r join public.sensors s on s.id = r.sensor_id where s.dev_eui = 'CUTOVER-TEST'",
    },
    baselineRequests: 50,
  },
  thresholds: { errorRate: 0.05, rollbackErrorRate: 0.1, rollbackLatencyMultiple: 2, readingsGap: '30m' },
  approvers: {
    // Each person and the OS account they run `cutover` as on the operations host; elsewhere in the
    // plan a person is named by their name alone.
    default: [
      { name: 'Ana Ruiz', os: 'ana' },
      { name: 'Ben Okafor', os: 'ben' },
      { name: 'Chen Wei', os: 'chen' },
    ],
    steps: {
      'window.go': { approvers: ['Ana Ruiz', 'Ben Okafor', 'Chen Wei'], quorum: 2 },
      'review.decision': { approvers: ['Ana Ruiz', 'Ben Okafor'], quorum: 1 },
      'rollback.decide': { approvers: ['Ana Ruiz', 'Ben Okafor'], quorum: 2 },
      'close.signoff': { approvers: ['Ana Ruiz'], quorum: 1 },
    },
  },
  cadences: { hypercare: '15m', stabilize: '2h', reconcile: '6h', daily: '1d' },
  exportsDir: 'exports',
};

/** The text of `cutover.config.ts` as `cutover init` writes it. */
export function renderPlanFile(plan: PlanInput = examplePlan): string {
  return `// The cutover plan. Validate it with \`cutover check\`; see the timeline with \`cutover plan\`.
// Secrets never go in this file: fields ending in "Env" name environment variables.
// Every field is described in docs/plan.md; durations combine units largest first (2h30m).
// Team notifications (Slack-compatible webhooks, PagerDuty, signed JSON webhooks) go under
// \`notifications: { targets: [...] }\`; see docs/plan.md.
import { defineConfig } from 'cutover';

export default defineConfig(${renderCommentedPlan(plan)});
`;
}
