import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../adapters/atomic-write.js';
import { ExitError } from './errors.js';
import { storeAt } from './run-store.js';
import { guardWrite, readNoFollow } from './storage.js';

/** Bumped when the stored shape changes; an unknown version is refused rather than misread. */
export const STATE_FORMAT = 2;

export interface StoredState {
  runId: string;
  /** The XState persisted snapshot. */
  machine: unknown;
  /** Sequence number of the last journaled outside event (sign-off, confirm…) applied to `machine`. */
  appliedSeq: number;
  /** How far a compressed clock ran ahead of the wall clock (rehearsals). */
  clockOffsetMs?: number;
  /** Which plan the run belongs to (see `planFingerprint`). */
  planFingerprint?: string;
  /** The journal's last line when this state was saved: the journal may be longer, never shorter. */
  journal?: { seq: number; hash: string };
}

interface Envelope {
  format: number;
  savedAt: string;
  /** sha256 of the state: damage. */
  checksum: string;
  /** HMAC of the state with a key kept outside the state folder: a hand edit cannot recompute it. */
  seal?: string;
  state: StoredState;
}

function checksumOf(state: StoredState): string {
  return createHash('sha256').update(JSON.stringify(state)).digest('hex');
}

/**
 * The sealing key: `CUTOVER_STATE_KEY`, or a random key created once in the user's config folder
 * (never in the state folder, so whoever can edit the state cannot re-seal it by reading a file there).
 */
export function stateKeyFile(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'cutover', 'state.key');
}

function stateKey(create: boolean, env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.CUTOVER_STATE_KEY) return env.CUTOVER_STATE_KEY;
  const file = stateKeyFile(env);
  const existing = readNoFollow(file, 'the state key')?.trim();
  if (existing || !create) return existing || undefined;
  const key = randomBytes(32).toString('hex');
  guardWrite(file, 64, 'the state key', () => {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(file, `${key}\n`, 0o600);
    chmodSync(file, 0o600);
  });
  return key;
}

function sealOf(state: StoredState, key: string): string {
  return createHmac('sha256', key).update(JSON.stringify(state)).digest('hex');
}

/** What identifies the plan a run belongs to: its name and environment (a moved T0 is the same plan). */
export function planFingerprint(plan: { name: string; environment: string }): string {
  return createHash('sha256').update(JSON.stringify({ name: plan.name, environment: plan.environment })).digest('hex').slice(0, 16);
}

export function statePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export function saveState(stateDir: string, state: StoredState, savedAt = new Date()): void {
  const store = storeAt(stateDir);
  if (store) {
    // No seal in a state database: its grants say who may write there, the per-user key file would
    // keep a teammate on another machine from taking over, and the journal's chain shows any edit.
    store.saveStateText(JSON.stringify({ format: STATE_FORMAT, savedAt: savedAt.toISOString(), checksum: checksumOf(state), state } satisfies Envelope));
    return;
  }
  const key = stateKey(true)!;
  const envelope: Envelope = { format: STATE_FORMAT, savedAt: savedAt.toISOString(), checksum: checksumOf(state), seal: sealOf(state, key), state };
  const text = `${JSON.stringify(envelope)}\n`;
  guardWrite(statePath(stateDir), Buffer.byteLength(text) * 2, 'the state file', () => writeFileAtomicSync(statePath(stateDir), text));
}

/**
 * Load the state, or undefined when there is none yet. A file that does not parse, has an unknown
 * format, a wrong checksum or a seal this host cannot verify is refused: it is never "repaired" by guessing.
 */
export function loadState(stateDir: string): StoredState | undefined {
  const store = storeAt(stateDir);
  const path = store ? `in ${store.where}` : statePath(stateDir);
  const text = store ? store.loadStateText() : readNoFollow(path, 'the state file');
  if (text === undefined) return undefined;
  const refuse = (why: string, todo = 'Restore it from a backup, or compare it with the journal (journal.ndjson) to decide; do not edit it by hand.') =>
    new ExitError(`The state file ${path} ${why}. It is not used, to avoid driving the cutover from a wrong state. ${todo}`, 2);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(text) as Envelope;
  } catch {
    throw refuse('is corrupt or truncated (it is not valid JSON)');
  }
  if (typeof envelope !== 'object' || envelope === null || !('state' in envelope)) throw refuse('is not a cutover state file');
  // Format 1 (before sealing) is still read; the next save seals it.
  if (envelope.format !== STATE_FORMAT && envelope.format !== 1) throw refuse(`has format ${String(envelope.format)}, this cutover reads format ${STATE_FORMAT}`);
  if (checksumOf(envelope.state) !== envelope.checksum) throw refuse('does not match its checksum (it was changed or damaged)');
  if (envelope.format === STATE_FORMAT && !store) {
    const key = stateKey(false);
    if (!key) {
      throw refuse(
        `is sealed with a key this user does not have (${stateKeyFile()} is missing)`,
        'If the run moved to this host or user, copy that key file from where the run was driven, or set CUTOVER_STATE_KEY to its content.',
      );
    }
    if (sealOf(envelope.state, key) !== envelope.seal) {
      throw refuse(
        'does not match its seal: it was edited outside cutover (its checksum was recomputed), or sealed with another key',
        `Restore it from a backup. If the run moved here from another host or user, use that user's key (${stateKeyFile()}, or CUTOVER_STATE_KEY).`,
      );
    }
  }
  return envelope.state;
}

