import type pg from 'pg';
import { quoteIdent, quoteQualified } from '../../adapters/postgres.js';
import { tableId } from '../../config/identifiers.js';
import { existingTables } from './catalog.js';

/**
 * Every sequence the plan's tables use: owned by a column (serial, identity) or only called from a
 * column's DEFAULT (`nextval('invoice_numbers')`, often shared by several tables), ascending or
 * descending, cycling or not. The source's position is recorded at export and given to the target
 * after the load; verify checks it; the rollback moves the source's sequences past what the target
 * handed out. Positions are compared in the sequence's direction, never as "bigger is later".
 */

export interface SequenceUse {
  /** Canonical table id. */
  table: string;
  column: string;
  /** The column owns the sequence (serial, identity, OWNED BY). */
  owned: boolean;
}

export interface SequenceInfo {
  /** Canonical id, e.g. `public.invoice_numbers`. */
  sequence: string;
  increment: string;
  min: string;
  max: string;
  cycle: boolean;
  uses: SequenceUse[];
}

/** Where a sequence stands: `nextval` gives `last + increment` when called, else `last`. */
export interface SequencePosition {
  lastValue: string;
  isCalled: boolean;
}

export type SequenceState = SequenceInfo & SequencePosition;

/** The sequences the given tables (by oid) use, with the columns that use them. */
export async function readSequences(client: pg.Client, tables: readonly { oid: number; id: string }[]): Promise<SequenceInfo[]> {
  const result = await client.query<{
    table_oid: number;
    column: string;
    owned: boolean;
    schema: string;
    name: string;
    increment: string;
    min: string;
    max: string;
    cycle: boolean;
  }>(
    `WITH uses AS (
       SELECT d.refobjid AS tab, d.refobjsubid AS attnum, d.objid AS seq, true AS owned
         FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0 AND d.refobjid = ANY($1::oid[])
       UNION ALL
       SELECT ad.adrelid, ad.adnum, d.refobjid, false
         FROM pg_attrdef ad
         JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
        WHERE ad.adrelid = ANY($1::oid[]))
     SELECT u.tab::int AS table_oid, a.attname AS column, bool_or(u.owned) AS owned,
            n.nspname AS schema, s.relname AS name, q.seqincrement::text AS increment,
            q.seqmin::text AS min, q.seqmax::text AS max, q.seqcycle AS cycle
       FROM uses u
       JOIN pg_class s ON s.oid = u.seq AND s.relkind = 'S'
       JOIN pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_sequence q ON q.seqrelid = s.oid
       JOIN pg_attribute a ON a.attrelid = u.tab AND a.attnum = u.attnum AND NOT a.attisdropped
      GROUP BY 1, 2, 4, 5, 6, 7, 8, 9
      ORDER BY 4, 5, 1, 2`,
    [tables.map((t) => t.oid)],
  );
  const byId = new Map<string, SequenceInfo>();
  for (const row of result.rows) {
    const id = tableId(row.schema, row.name);
    const info = byId.get(id) ?? { sequence: id, increment: row.increment, min: row.min, max: row.max, cycle: row.cycle, uses: [] };
    info.uses.push({ table: tables.find((t) => t.oid === row.table_oid)!.id, column: row.column, owned: row.owned });
    byId.set(id, info);
  }
  return [...byId.values()];
}

export async function readPosition(client: pg.Client, sequence: string): Promise<SequencePosition> {
  const state = await client.query<{ last_value: string; is_called: boolean }>(
    `SELECT last_value::text AS last_value, is_called FROM ${quoteQualified(sequence)}`,
  );
  return { lastValue: state.rows[0]!.last_value, isCalled: state.rows[0]!.is_called };
}

/** Sequences with their current positions. */
export async function readSequenceStates(client: pg.Client, tables: readonly { oid: number; id: string }[]): Promise<SequenceState[]> {
  const states: SequenceState[] = [];
  for (const info of await readSequences(client, tables)) states.push({ ...info, ...(await readPosition(client, info.sequence)) });
  return states;
}

const descending = (s: Pick<SequenceInfo, 'increment'>) => BigInt(s.increment) < 0n;

/** The value `nextval` would return (ignoring a cycle's wrap). */
export function nextValue(s: Pick<SequenceInfo, 'increment'> & SequencePosition): bigint {
  return s.isCalled ? BigInt(s.lastValue) + BigInt(s.increment) : BigInt(s.lastValue);
}

/** `a` comes after `b` in the sequence's direction. */
function after(s: Pick<SequenceInfo, 'increment'>, a: bigint, b: bigint): boolean {
  return descending(s) ? a < b : a > b;
}

/**
 * The furthest value in the sequence's direction among the columns that use it (max ascending, min
 * descending), in `client`'s database; null when they hold none or are not integers.
 */
async function furthestUsed(client: pg.Client, s: SequenceInfo): Promise<bigint | null> {
  const present = new Set(await existingTables(client, [...new Set(s.uses.map((u) => u.table))]));
  const aggregate = descending(s) ? 'min' : 'max';
  let furthest: bigint | null = null;
  for (const use of s.uses) {
    if (!present.has(use.table)) continue;
    const result = await client.query<{ v: string | null }>(
      `SELECT ${aggregate}(${quoteIdent(use.column)})::text AS v FROM ${quoteQualified(use.table)}`,
    );
    const text = result.rows[0]!.v;
    if (text === null || !/^-?\d+$/.test(text)) continue;
    const value = BigInt(text);
    if (furthest === null || after(s, value, furthest)) furthest = value;
  }
  return furthest;
}

export interface PositionedSequence {
  sequence: string;
  /** Where the target's sequence now stands. */
  lastValue: string;
  isCalled: boolean;
  /** Why: the source's position, or past the column's values (ids written explicitly on the source). */
  from: 'source position' | 'past the column values';
}

/**
 * Put each target sequence where the source's stood, or just past the values its columns hold when
 * those go further (in the sequence's direction). A cycling sequence takes the source's position
 * only: its values repeat by design, so "past the largest" would mean at its end, about to wrap.
 * Idempotent: the same manifest gives the same positions.
 */
export async function positionTargetSequences(client: pg.Client, sources: readonly SequenceState[]): Promise<PositionedSequence[]> {
  const positioned: PositionedSequence[] = [];
  const missing: string[] = [];
  for (const source of sources) {
    const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [quoteQualified(source.sequence)]);
    if (!exists.rows[0]!.ok) {
      missing.push(source.sequence);
      continue;
    }
    let target: PositionedSequence = { sequence: source.sequence, lastValue: source.lastValue, isCalled: source.isCalled, from: 'source position' };
    if (!source.cycle) {
      const furthest = await furthestUsed(client, source);
      if (furthest !== null && !after(source, nextValue(source), furthest)) {
        target = { sequence: source.sequence, lastValue: furthest.toString(), isCalled: true, from: 'past the column values' };
      }
    }
    await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [quoteQualified(source.sequence), target.lastValue, target.isCalled]);
    positioned.push(target);
  }
  if (missing.length > 0) {
    throw new Error(
      `The target lacks sequence${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that the plan's tables use on the source. ` +
        `Apply the application's schema to the target (CREATE SEQUENCE …), then run migrate.load again.`,
    );
  }
  return positioned;
}

/**
 * Problems that would make the target's next ids collide: a sequence missing, behind the source's
 * position, or not past its columns' values. One sentence each, naming the sequence.
 */
export async function checkTargetSequences(client: pg.Client, sources: readonly SequenceState[]): Promise<string[]> {
  const problems: string[] = [];
  for (const source of sources) {
    const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [quoteQualified(source.sequence)]);
    if (!exists.rows[0]!.ok) {
      problems.push(`${source.sequence} does not exist on the target`);
      continue;
    }
    const target = { ...source, ...(await readPosition(client, source.sequence)) };
    const next = nextValue(target);
    const sourceNext = nextValue(source);
    if (source.cycle) {
      if (next !== sourceNext) problems.push(`${source.sequence} (cycling) on the target would next give ${next}, the source ${sourceNext}`);
      continue;
    }
    if (after(source, sourceNext, next)) {
      problems.push(`${source.sequence} on the target would next give ${next}, which the source already handed out: the source's position is ${source.lastValue}`);
      continue;
    }
    const furthest = await furthestUsed(client, source);
    if (furthest !== null && !after(source, next, furthest)) {
      problems.push(`${source.sequence} on the target would next give ${next}, which ${source.uses.map((u) => `${u.table}.${u.column}`).join(' or ')} already holds`);
    }
  }
  return problems;
}

export interface ReservedSequence {
  sequence: string;
  /** First use, to name it in reports. */
  table: string;
  column: string;
  /** The last value the source's sequence counts as handed out now. */
  through: string;
}

/**
 * Rollback: move each source sequence past every value the target handed out (its own sequence's
 * position, or its columns' values, whichever goes further in the sequence's direction), never back.
 * A cycling sequence takes the target's position, which started at the source's and only moved on.
 */
export async function reserveOnSource(source: pg.Client, target: pg.Client, sequences: readonly SequenceInfo[]): Promise<ReservedSequence[]> {
  const reserved: ReservedSequence[] = [];
  for (const info of sequences) {
    const exists = await target.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [quoteQualified(info.sequence)]);
    const targetPosition = exists.rows[0]!.ok ? await readPosition(target, info.sequence) : null;
    const sourcePosition = await readPosition(source, info.sequence);
    let set: SequencePosition | null = null;
    if (info.cycle) {
      if (targetPosition) set = targetPosition;
    } else {
      // The last value the target handed out, and the furthest its columns hold.
      let used: bigint | null = targetPosition ? nextValue({ ...info, ...targetPosition }) - BigInt(info.increment) : null;
      const furthest = await furthestUsed(target, info);
      if (furthest !== null && (used === null || after(info, furthest, used))) used = furthest;
      if (used !== null && !after(info, nextValue({ ...info, ...sourcePosition }), used)) set = { lastValue: used.toString(), isCalled: true };
    }
    if (set) await source.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [quoteQualified(info.sequence), set.lastValue, set.isCalled]);
    const now = set ?? sourcePosition;
    const through = nextValue({ ...info, ...now }) - BigInt(info.increment);
    reserved.push({ sequence: info.sequence, table: info.uses[0]!.table, column: info.uses[0]!.column, through: through.toString() });
  }
  return reserved;
}
