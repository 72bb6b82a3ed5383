import type { Plan } from '../config/schema.js';
import {
  ConnectionRefusedError,
  connectionSecurity,
  openClient,
  planTls,
  readDatabaseUrl,
  redact,
  type DatabaseSide,
} from './postgres.js';
import { MissingSecretError } from './secrets.js';

/**
 * `cutover check`'s look at the two databases. Before anything is sent, both URLs are judged for TLS:
 * a plain-text connection to a remote host is a plan mistake (exit 2) named with its fix, not a
 * finding among others. Then each database is reached, as a short check, through the same connection
 * factory as the data path.
 */

type PlanDatabases = Pick<Plan, 'source' | 'target'>;

/** Warnings about how the databases are reached; throws when a URL would send data in plain text to a remote host. */
export function assertSecureConnections(plan: PlanDatabases, env: Record<string, string | undefined>, planDir: string): string[] {
  const refused: string[] = [];
  const warnings: string[] = [];
  for (const side of ['source', 'target'] as const) {
    const url = env[plan[side].urlEnv]?.trim();
    if (!url) continue;
    const security = connectionSecurity(url, `${side} database (${plan[side].urlEnv})`, planTls(plan, side, planDir));
    if (security.refused) refused.push(security.refused);
    if (security.warning) warnings.push(security.warning);
  }
  if (refused.length > 0) throw new ConnectionRefusedError(refused.join('\n'));
  return warnings;
}

/** Reach one of the plan's databases; the message never contains the URL. */
export async function probeDatabase(
  plan: PlanDatabases,
  env: Record<string, string | undefined>,
  side: DatabaseSide,
  planDir: string,
): Promise<{ ok: boolean; message: string }> {
  const envName = plan[side].urlEnv;
  let url: string;
  try {
    url = readDatabaseUrl(env, envName, side);
  } catch (error) {
    if (error instanceof MissingSecretError) return { ok: false, message: error.message };
    throw error;
  }
  const label = `${side} database (${envName})`;
  try {
    const client = await openClient(url, { label, tls: planTls(plan, side, planDir), connectTimeoutMs: 10_000, statementTimeoutMs: 10_000 });
    try {
      const { rows } = await client.query<{ version: string; user: string; ssl: boolean | null }>(
        `select current_setting('server_version') as version, current_user as user,
                (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl`,
      );
      const row = rows[0]!;
      return { ok: true, message: `reached PostgreSQL ${row.version} as ${row.user}${row.ssl ? ' over TLS' : ''}` };
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    if (error instanceof ConnectionRefusedError) throw error;
    return { ok: false, message: `could not connect with ${envName}: ${redact(error, url)}` };
  }
}
