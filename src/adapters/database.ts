import pg from 'pg';
import { ExitError } from '../engine/errors.js';

/** Reach a database named by an environment variable; the message never contains the URL. */
export async function probeDatabase(env: Record<string, string | undefined>, envName: string): Promise<{ ok: boolean; message: string }> {
  const url = env[envName];
  if (!url) return { ok: false, message: `${envName} is not set. Export the connection URL in ${envName} (the plan names the variable, never the value).` };
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, statement_timeout: 10_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string; user: string }>('select current_setting(\'server_version\') as version, current_user as user');
    return { ok: true, message: `reached PostgreSQL ${rows[0]!.version} as ${rows[0]!.user}` };
  } catch (error) {
    return { ok: false, message: `could not connect with ${envName}: ${(error as Error).message}` };
  } finally {
    await client.end().catch(() => {});
  }
}

export function requireEnv(env: Record<string, string | undefined>, name: string, purpose: string): string {
  const value = env[name];
  if (!value) throw new ExitError(`${name} is not set: export ${purpose} in it (the plan names the variable, never the value).`, 2);
  return value;
}
