import type { Key } from 'ink';

/**
 * The keyboard. Every key that changes the run sends one event to the machine, exactly as the CLI
 * command named next to it would, so nothing here is UI-only power:
 *   sign-off panel → cutover signoff STEP [--note] [--reject]
 *   typed phrase   → cutover confirm STEP --phrase TEXT
 *   r              → cutover retry STEP
 *   s              → cutover skip STEP --reason TEXT
 *   R              → cutover rollback --reason TEXT --phrase "rollback <zone>" (before the freeze: abort)
 * Keys that only change the view: b (decision panel), PgUp/PgDn/Home (timeline), q (quit).
 */
export type HelpItem = readonly [keys: string, what: string];

export const QUIT: HelpItem = ['q', 'quit'];
export const DECISION: HelpItem = ['b', 'rollback decision'];
export const SCROLL: HelpItem = ['PgUp/PgDn', 'scroll'];

/** Ctrl-C quits the same safe way as q, even while typing (raw mode delivers it as a key). */
export function isInterrupt(input: string, key: Key): boolean {
  return key.ctrl && input === 'c';
}

export function isPrintable(input: string, key: Key): boolean {
  return input.length > 0 && !key.ctrl && !key.meta && !key.escape && !key.return && !key.tab && !key.backspace && !key.delete;
}

export function renderHelp(items: readonly HelpItem[]): string {
  return items.map(([keys, what]) => `${keys} ${what}`).join(' · ');
}
