/**
 * Counts in sentences people read: "1 batch", "2 batches". One helper so every message agrees
 * (issue 14: "in 1 batches", "1 checks passed").
 */

/** "1 row", "3 rows"; an irregular plural is given: plural(n, 'batch', 'batches'). */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

/** The singular of a plural unit word ("batches" → "batch", "rows" → "row"), for units passed around in the plural. */
export function singular(word: string): string {
  if (/(ch|sh|x|ss)es$/.test(word)) return word.slice(0, -2);
  return word.endsWith('s') ? word.slice(0, -1) : word;
}
