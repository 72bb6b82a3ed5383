import { withConnection, type Database } from '../../adapters/postgres.js';
import { freezeSource, type RecordedGrant } from '../data/freeze.js';
import { loadedTables } from './loaded-tables.js';

/**
 * rollback.freeze-target: the target gets the freeze the source got at freeze.enable (the same code:
 * grants read from the catalog, recorded before they are revoked, revoked as their grantor, checked
 * with has_table_privilege, app sessions ended), so nothing is written there after the delta is read.
 *
 * Idempotent: a second run finds nothing left to revoke and returns the same record, because the
 * record file keeps what the first run revoked (it is what would re-open the target, if ever needed).
 */

export interface FreezeTargetOptions {
  target: Database;
  runId: string;
  tables: readonly string[];
  appRoles: readonly string[];
  /** Where the revoked grants are recorded before the revoke (as freeze.enable's record for the source). */
  recordFile: string;
}

export type FreezeTargetResult =
  | { loaded: false }
  | {
      loaded: true;
      revoked: RecordedGrant[];
      /** App roles that exist on the target (the others cannot write there). */
      roles: string[];
      missingRoles: string[];
      terminatedSessions: number;
    };

export async function freezeTarget(options: FreezeTargetOptions): Promise<FreezeTargetResult> {
  const { loaded, roles } = await withConnection(options.target, async (client) => {
    const found = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [
      options.appRoles,
    ]);
    return { loaded: await loadedTables(client, options.runId), roles: found.rows.map((r) => r.rolname) };
  });
  if (loaded.size === 0) return { loaded: false };
  const present = options.appRoles.filter((r) => roles.includes(r));
  const missingRoles = options.appRoles.filter((r) => !roles.includes(r));
  if (present.length === 0) return { loaded: true, revoked: [], roles: [], missingRoles, terminatedSessions: 0 };
  const result = await freezeSource({
    source: options.target,
    tables: options.tables,
    appRoles: present,
    recordFile: options.recordFile,
  }).catch((error: unknown) => {
    // freezeSource's messages name the step that usually calls it.
    throw new Error((error as Error).message.replaceAll('freeze.enable', 'rollback.freeze-target').replaceAll('on the source', 'on the target'));
  });
  return { loaded: true, revoked: result.revoked, roles: present, missingRoles, terminatedSessions: result.terminated.length };
}
