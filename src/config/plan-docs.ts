import { writeFileSync } from 'node:fs';
import { planJsonSchema, type JsonSchema } from './commented-plan.js';
import { examplePlan } from './example.js';
import { invokedDirectly } from '../engine/invoked.js';

/**
 * docs/plan.md and the comments of the plan `cutover init` writes, both from the schema's own
 * descriptions (zod's JSON Schema of the plan as written, defaults included). Nothing here is
 * written by hand twice: a field added to the schema shows up in both, and test/config/plan-docs.test.ts
 * fails when docs/plan.md was not regenerated:
 *
 *   npx tsc -p tsconfig.json && node dist/src/config/plan-docs.js docs/plan.md
 */

const ENV_PATTERN = '^[A-Z_][A-Z0-9_]*$';
const DURATION_PATTERN = '^(?=\\d)(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?$';

/** The type as a person reads it: "duration", "list of text", "number 0 to 1"… */
export function describeType(node: JsonSchema): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  const variants = node.oneOf ?? node.anyOf;
  if (variants) return variants.every((v) => v.type === 'object') ? 'object (one of the kinds below)' : variants.map(describeType).join(' or ');
  switch (node.type) {
    case 'string':
      if (node.pattern === ENV_PATTERN) return 'env var name';
      if (node.pattern === DURATION_PATTERN) return 'duration';
      if (node.format === 'uri') return 'URL';
      if (node.format === 'email') return 'e-mail address';
      return 'text';
    case 'integer':
    case 'number': {
      const word = node.type === 'integer' ? 'whole number' : 'number';
      const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
      if (node.minimum !== undefined && max !== undefined) return `${word} ${node.minimum} to ${max}`;
      if (node.minimum !== undefined) return `${word} ≥ ${node.minimum}`;
      return word;
    }
    case 'boolean':
      return 'true or false';
    case 'array':
      return `list of ${node.items ? describeType(node.items) : 'values'}${node.minItems ? ` (at least ${node.minItems})` : ''}`;
    case 'object':
      if (node.properties) return 'object';
      if (typeof node.additionalProperties === 'object') return `map of name → ${describeType(node.additionalProperties)}`;
      return 'object';
    default:
      return 'any';
  }
}

/** The value at a documentation path in a plan (`tables[].reconcile`: the first table that has one). */
function valueAt(plan: unknown, path: string[]): unknown {
  if (path.length === 0 || plan === undefined || plan === null) return plan;
  const [part, ...rest] = path as [string, ...string[]];
  if (part === '[]' || part === '{}') {
    const items = Array.isArray(plan) ? plan : typeof plan === 'object' ? Object.values(plan as object) : [];
    for (const item of items) {
      const found = valueAt(item, rest);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return valueAt((plan as Record<string, unknown>)[part], rest);
}

function code(value: unknown): string {
  const text = JSON.stringify(value);
  const short = text.length > 70 ? `${text.slice(0, 67)}…` : text;
  return `\`${short.replaceAll('|', '\\|')}\``;
}

interface Row {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  example?: unknown;
}

/** Rows for every field under `node`, depth first; a union's variants each get their rows, named by their discriminator. */
function collect(node: JsonSchema, path: string[], rows: Row[], example: unknown, required: boolean, variant?: string): void {
  const variants = node.oneOf ?? node.anyOf;
  if (variants && variants.every((v) => v.type === 'object' && v.properties)) {
    for (const v of variants) {
      const [key, discriminator] = Object.entries(v.properties!).find(([, p]) => p.const !== undefined) ?? [];
      const label = key ? `${key}: ${JSON.stringify(discriminator!.const)}` : undefined;
      // The example plan uses one variant; the other variants' shared fields (records, from…) mean the same.
      collect({ ...v, oneOf: undefined, anyOf: undefined }, path, rows, example, required, label);
    }
    return;
  }
  // A list's element has no row of its own unless it names a variant: its fields follow.
  let row: Row | undefined;
  if (path.length > 0 && (variant || !['[]', '{}'].includes(path.at(-1)!))) {
    const fromExample = valueAt(example, path);
    rows.push(row = {
      path: `${path.join('.').replaceAll('.[]', '[]').replaceAll('.{}', '.STEP')}${variant ? ` (${variant})` : ''}`,
      type: describeType(node),
      required: required && node.default === undefined,
      ...(node.default !== undefined ? { default: node.default } : {}),
      description: node.description ?? '',
      // An object's example is its fields' examples, in the rows below it.
      ...(node.properties ? {} : { example: node.examples?.[0] ?? node.const ?? fromExample ?? node.default }),
    });
  }
  if (node.type === 'object' && node.properties) {
    for (const [key, child] of Object.entries(node.properties)) collect(child, [...path, key], rows, example, (node.required ?? []).includes(key));
  } else if (node.type === 'array' && node.items && (node.items.properties || node.items.oneOf)) {
    const first = rows.length;
    collect(node.items, [...path, '[]'], rows, example, true);
    // A list the example plan leaves empty (excludedTables): one element made of its fields' examples.
    if (row && row.example === undefined && node.items.properties) {
      const prefix = `${row.path}[].`;
      const fields = rows.slice(first).filter((r) => r.path.startsWith(prefix) && !r.path.slice(prefix.length).includes('.') && r.example !== undefined);
      if (fields.length) row.example = [Object.fromEntries(fields.map((r) => [r.path.slice(prefix.length), r.example]))];
    }
  } else if (node.type === 'array' && node.items?.anyOf?.some((v) => v.properties)) {
    // A list of a name or an object (approvers): the object's fields get their rows.
    for (const v of node.items.anyOf.filter((v) => v.properties)) collect(v, [...path, '[]'], rows, example, true);
  } else if (node.type === 'object' && typeof node.additionalProperties === 'object' && node.additionalProperties.properties) {
    collect(node.additionalProperties, [...path, '{}'], rows, example, true);
  }
}

export function planFields(): Row[] {
  const rows: Row[] = [];
  collect(planJsonSchema(), [], rows, examplePlan, true);
  return rows;
}

const HEAD = `# The plan: \`cutover.config.ts\`

<!-- Generated from src/config/schema.ts by src/config/plan-docs.ts. Do not edit by hand:
     npx tsc -p tsconfig.json && node dist/src/config/plan-docs.js docs/plan.md -->

The plan is a TypeScript file that default-exports \`defineConfig({...})\`. \`cutover init\` writes the
FreshTrack Pro example with every field commented; \`cutover check\` validates it and names the path of
anything wrong (\`tables[2].timestampColumn: expected a column name\`, exit 2).

- **Secrets never go in the plan.** Fields ending in \`Env\` hold the *name* of an environment variable;
  the value is read from the environment when needed and never written to the state, the journal,
  reports or logs.
- **The plan is code**: every command executes it. It must not be writable by others.
- **Durations** are written as a number and a unit (\`s\`, \`m\`, \`h\`, \`d\`), combined largest first:
  \`30s\`, \`15m\`, \`2h30m\`, \`1d12h\`.
- **Paths** (zone file, audience file, outbox, exports) are relative to the plan file.

Columns: *Required* means the field has no default and must be written. *Example* is the value in the
FreshTrack example plan (\`cutover init\`), or an illustration where the example does not use the field.
In lists, \`[]\` stands for each element; in maps, \`STEP\` for each key.
`;

const TAIL = `
## Files the plan points at

**Local zone file** (\`dns.provider: "local"\`, \`dns.file\`): the rehearsal's and tests' DNS, one JSON
document. \`cutover\` reads the records and appends every change it makes, so revert and restore are exact:

\`\`\`json
{
  "zone": "freshtrackpro.com",
  "records": [{ "name": "api.freshtrackpro.com", "type": "A", "content": "203.0.113.11", "ttl": 86400 }],
  "changes": []
}
\`\`\`

**Audience file** (\`mail.audience: { source: "file", file }\`): one address per line, or a CSV whose first
column is the address; blank lines, \`#\` comments and a header row are skipped. Duplicates are merged
and invalid lines skipped; both are counted in the step's summary with masked samples.

## Environment

| Variable | What it does |
|---|---|
| the \`…Env\` names of the plan | secrets and connection URLs, read only when needed |
| \`CUTOVER_CLOCK\` | rehearsals and tests only: \`real\` (default), \`compressed:SPEED[@ISO]\` runs waits SPEED times faster (starting at ISO for a new run), \`manual:ISO\` stands still at ISO |
| \`NO_COLOR\` | no colours (also \`--no-color\`) |
`;

export function renderPlanDocs(): string {
  const rows = planFields();
  const top = new Map<string, Row[]>();
  for (const row of rows) {
    const key = row.path.split(/[.[ ]/)[0]!;
    top.set(key, [...(top.get(key) ?? []), row]);
  }
  const sections = [...top].map(([key, group]) => {
    const table = group.map(
      (row) =>
        `| \`${row.path.replace(/ \(.*\)$/, '')}\`${/ \((.*)\)$/.test(row.path) ? ` when \`${/ \((.*)\)$/.exec(row.path)![1]!.replace(': ', ' = ')}\`` : ''} | ${row.type} | ${row.required ? 'yes' : ''} | ${row.default !== undefined ? code(row.default) : ''} | ${row.description.replaceAll('|', '\\|').replaceAll('\n', ' ')} | ${row.example !== undefined ? code(row.example) : ''} |`,
    );
    return [`## \`${key}\``, '', '| Field | Type | Required | Default | Description | Example |', '|---|---|---|---|---|---|', ...table].join('\n');
  });
  return `${HEAD}\n${sections.join('\n\n')}\n${TAIL}`;
}

if (invokedDirectly(import.meta.url)) {
  const out = process.argv[2];
  if (out) writeFileSync(out, renderPlanDocs());
  else process.stdout.write(renderPlanDocs());
}
