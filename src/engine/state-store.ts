import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../adapters/atomic-write.js';
import { ExitError } from './errors.js';

/** Bumped when the stored shape changes; an unknown version is refused rather than misread. */
export const STATE_FORMAT = 1;

export interface StoredState {
  runId: string;
  /** The XState persisted snapshot. */
  machine: unknown;
  /** Sequence number of the last journaled outside event (sign-off, confirm…) applied to `machine`. */
  appliedSeq: number;
  /** How far a compressed clock ran ahead of the wall clock (rehearsals). */
  clockOffsetMs?: number;
}

interface Envelope {
  format: number;
  savedAt: string;
  checksum: string;
  state: StoredState;
}

function checksumOf(state: StoredState): string {
  return createHash('sha256').update(JSON.stringify(state)).digest('hex');
}

export function statePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export function saveState(stateDir: string, state: StoredState, savedAt = new Date()): void {
  const envelope: Envelope = { format: STATE_FORMAT, savedAt: savedAt.toISOString(), checksum: checksumOf(state), state };
  writeFileAtomicSync(statePath(stateDir), `${JSON.stringify(envelope)}\n`);
}

/**
 * Load the state, or undefined when there is none yet. A file that does not parse, has an unknown
 * format or a wrong checksum is refused: it is never "repaired" by guessing.
 */
export function loadState(stateDir: string): StoredState | undefined {
  const path = statePath(stateDir);
  if (!existsSync(path)) return undefined;
  const refuse = (why: string) =>
    new ExitError(
      `The state file ${path} ${why}. It is not used, to avoid driving the cutover from a wrong state. ` +
        `Restore it from a backup, or compare it with the journal (journal.ndjson) to decide; do not edit it by hand.`,
      2,
    );
  let envelope: Envelope;
  try {
    envelope = JSON.parse(readFileSync(path, 'utf8')) as Envelope;
  } catch {
    throw refuse('is corrupt or truncated (it is not valid JSON)');
  }
  if (typeof envelope !== 'object' || envelope === null || !('state' in envelope)) throw refuse('is not a cutover state file');
  if (envelope.format !== STATE_FORMAT) throw refuse(`has format ${String(envelope.format)}, this cutover reads format ${STATE_FORMAT}`);
  if (checksumOf(envelope.state) !== envelope.checksum) throw refuse('does not match its checksum (it was changed or damaged)');
  return envelope.state;
}
