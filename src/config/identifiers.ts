/**
 * Table and column names as the plan writes them, in SQL's own identifier syntax, so that any name
 * PostgreSQL allows can be written without ambiguity:
 *
 *   public.readings                 plain lowercase names, unquoted
 *   public."User"                   mixed case: double quotes, as in SQL
 *   public."Audit ""Log"" Entries"  spaces, and a double quote doubled
 *   "userId", "order"               the same for columns (a keyword may be quoted or not)
 *
 * An unquoted name with capitals is refused rather than folded to lowercase as PostgreSQL would: in a
 * plan, `public.User` is far more likely a mistake for `public."User"` than a wish for `public.user`.
 *
 * Inside the tool a table is named by its canonical id: `schema.table` with each part quoted only
 * when it is not a plain lowercase name, so `public.readings` stays as it always was, and the id
 * parses back to exactly the same two names (it is what manifests, journals and reports show).
 */

const PLAIN = /^[a-z_][a-z0-9_$]*$/;

export class IdentifierError extends Error {}

/** The parts of a dotted SQL name, each unquoted or double-quoted; throws IdentifierError when malformed. */
function parseParts(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let name = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new IdentifierError(`${text}: a double quote is not closed`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            name += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += text[i];
        i++;
      }
      if (name === '') throw new IdentifierError(`${text}: "" is not a name`);
      parts.push(name);
    } else {
      const end = text.indexOf('.', i);
      const word = end < 0 ? text.slice(i) : text.slice(i, end);
      if (!PLAIN.test(word)) {
        if (word !== '' && /^[A-Za-z_][A-Za-z0-9_$]*$/.test(word)) {
          throw new IdentifierError(
            `${text}: ${word} has capitals, which PostgreSQL folds to lowercase unless quoted; write "${word}" in double quotes (or ${word.toLowerCase()})`,
          );
        }
        throw new IdentifierError(
          `${text}: ${word === '' ? 'an empty name' : word} is not a plain lowercase name; write it in double quotes as in SQL, e.g. "${word.replace(/"/g, '""')}"`,
        );
      }
      parts.push(word);
      i += word.length;
    }
    if (i === text.length) return parts;
    if (text[i] !== '.') throw new IdentifierError(`${text}: expected a dot after a quoted name`);
    i++;
  }
}

/** `schema.table` (schema optional, `public` assumed) into its two names. Throws IdentifierError. */
export function parseTableName(text: string): { schema: string; table: string } {
  const parts = parseParts(text);
  if (parts.length === 1) return { schema: 'public', table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  throw new IdentifierError(`${text}: expected schema.table, not ${parts.length} dotted names`);
}

/** One column name. Throws IdentifierError. */
export function parseColumnName(text: string): string {
  const parts = parseParts(text);
  if (parts.length !== 1) throw new IdentifierError(`${text}: expected one column name (quote a name that holds a dot)`);
  return parts[0]!;
}

/** A name as the plan and the canonical id write it: unquoted when plain, else double-quoted. */
export function formatName(name: string): string {
  return PLAIN.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * SQL for the canonical id of the table named by two columns (e.g. `n.nspname`, `c.relname`): the same
 * text `tableId` writes, so ids read from the catalog match the plan's.
 */
export function sqlTableId(schema: string, table: string): string {
  const part = (name: string) => `CASE WHEN ${name} ~ '^[a-z_][a-z0-9_$]*$' THEN ${name}::text ELSE '"' || replace(${name}::text, '"', '""') || '"' END`;
  return `(${part(schema)} || '.' || ${part(table)})`;
}

/** The canonical id of a table: `public.readings`, `public."User"`. */
export function tableId(schema: string, table: string): string {
  return `${formatName(schema)}.${formatName(table)}`;
}

/** The canonical id of a table name as written in a plan (or an id already canonical). */
export function canonicalTableId(text: string): string {
  const { schema, table } = parseTableName(text);
  return tableId(schema, table);
}
