/**
 * The process that holds the initial copy's snapshot: it creates the logical slot over a replication
 * connection with an exported snapshot, writes the slot's consistent point and the snapshot name to
 * a file, and then does nothing, because an exported snapshot lives only as long as the connection
 * that exported it stays idle. It runs detached from the runner (as `pgcopydb snapshot` does), so a
 * runner killed mid-copy finds the same snapshot on resume and copies only the chunks not yet done.
 *
 * It ends when its connection ends: the runner releases it with pg_terminate_backend once the copy
 * is done (or at cleanup), and a source restart ends it too. It never outlives MAX_LIFETIME_MS.
 *
 * Usage: node snapshot-holder.js <slot> <info file>; the source URL in CUTOVER_SNAPSHOT_SOURCE_URL
 * (never on the command line, where `ps` would show it).
 */
import pg from 'pg';
import { writeFileAtomic } from '../../adapters/atomic-write.js';
import { holderApplicationName, type HolderInfo } from './names.js';

const MAX_LIFETIME_MS = 24 * 3_600_000;

async function main(): Promise<void> {
  const [slot, infoFile] = process.argv.slice(2);
  const url = process.env.CUTOVER_SNAPSHOT_SOURCE_URL;
  if (!slot || !infoFile || !url) {
    process.stderr.write('usage: CUTOVER_SNAPSHOT_SOURCE_URL=... snapshot-holder.js <slot> <info file>\n');
    process.exit(2);
  }
  const write = (info: Omit<HolderInfo, 'pid' | 'slot'>) =>
    writeFileAtomic(infoFile, `${JSON.stringify({ slot, pid: process.pid, ...info })}\n`, { mode: 0o600 });
  const client = new pg.Client({
    connectionString: url,
    application_name: holderApplicationName(slot),
    replication: 'database',
  } as pg.ClientConfig);
  client.on('error', () => process.exit(0));
  client.on('end', () => process.exit(0));
  try {
    await client.connect();
    // EXPORT_SNAPSHOT is the spelling every supported version accepts (15+ also take `(SNAPSHOT 'export')`).
    const result = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT "${slot}" LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = result.rows[0]!;
    await write({ lsn: row.consistent_point, snapshot: row.snapshot_name, backendPid: (client as unknown as { processID: number }).processID });
  } catch (error) {
    await write({ error: (error as Error).message.split(url).join('***') }).catch(() => {});
    process.exit(1);
  }
  setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
  // Keep the event loop alive while the connection is idle.
  setInterval(() => {}, 60_000);
}

await main();
