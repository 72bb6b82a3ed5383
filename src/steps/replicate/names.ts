/**
 * Names of what the `replicate` strategy creates, derived from the run id alone so that every step,
 * a resumed run and the cleanup of abort/rollback/close find the same objects without reading state.
 * Slot names may hold only [a-z0-9_] (at most 63 bytes); run ids are `20261130-0912-ab12`.
 */
export interface ReplicationNames {
  /** Logical replication slot on the source. */
  slot: string;
  /** Publication on the source (plan tables + the drain marker). */
  publication: string;
  /** Subscription on the target. */
  subscription: string;
}

/** Schema (on both sides) holding the drain marker and, on the target, the copy progress. */
export const META_SCHEMA = 'cutover_meta';
/** A row written here on the source after the freeze proves, once on the target, that everything before it was applied. */
export const MARKER_TABLE = `${META_SCHEMA}.replication_marker`;
/** Copy progress on the target, one row per finished table chunk, written in the chunk's transaction. */
export const PROGRESS_TABLE = `${META_SCHEMA}.replicate_copied`;

export function replicationNames(runId: string): ReplicationNames {
  const base = `cutover_${runId.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 50);
  return { slot: base, publication: base, subscription: base };
}

/**
 * The reverse replication of a run (target → source, after the switch, so that a rollback loses
 * nothing): publication and slot on the target, subscription on the source.
 */
export function reverseNames(runId: string): ReplicationNames {
  const base = `${replicationNames(runId).slot}_back`;
  return { slot: base, publication: base, subscription: base };
}

/** What the snapshot holder process (snapshot-holder.ts) reports in its file. */
export interface HolderInfo {
  slot: string;
  /** The slot's consistent point: replication starts here, the snapshot shows everything before it. */
  lsn?: string;
  snapshot?: string;
  /** Backend pid of the replication connection on the source (what releases it). */
  backendPid?: number;
  pid: number;
  error?: string;
}

export function holderApplicationName(slot: string): string {
  return `cutover-snapshot-${slot}`.slice(0, 63);
}

