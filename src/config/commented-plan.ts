import { z } from 'zod';
import { planSchema, type PlanInput } from './schema.js';

/**
 * The plan's JSON Schema (zod's, of the plan as written, defaults included), and the plan file
 * `cutover init` writes with each field's description from the schema as a comment above it.
 */

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
}

export function planJsonSchema(): JsonSchema {
  return z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

const COMMENT_WIDTH = 100;

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && `${indent}// ${line} ${word}`.length > COMMENT_WIDTH) {
      lines.push(`${indent}// ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`${indent}// ${line}`);
  return lines;
}

function pickVariant(node: JsonSchema, value: unknown): JsonSchema {
  const variants = node.oneOf ?? node.anyOf;
  if (!variants || typeof value !== 'object' || value === null) return node;
  return (
    variants.find((v) => v.properties && Object.entries(v.properties).every(([key, p]) => p.const === undefined || (value as Record<string, unknown>)[key] === p.const)) ?? node
  );
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value as TypeScript source, each field preceded by its description the first time its path appears. */
function source(value: unknown, node: JsonSchema | undefined, indent: string, seen: Set<string>, path: string): string {
  const schema = node ? pickVariant(node, value) : undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item) => `${indent}  ${source(item, schema?.items, `${indent}  `, seen, `${path}[]`)},`);
    // Short lists of plain values stay on one line.
    const flat = JSON.stringify(value);
    if (value.every((item) => typeof item !== 'object') && flat.length < 80) return flat.replaceAll('","', '", "');
    return `[\n${items.join('\n')}\n${indent}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    const lines: string[] = [];
    for (const [key, child] of entries) {
      const childSchema = schema?.properties?.[key] ?? (typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      const childPath = schema?.properties ? `${path}.${key}` : `${path}.{}`;
      const described = schema?.properties?.[key] ? pickVariant(childSchema!, child).description ?? childSchema!.description : undefined;
      if (described && !seen.has(childPath)) {
        seen.add(childPath);
        lines.push(...wrap(described, `${indent}  `));
      }
      lines.push(`${indent}  ${KEY.test(key) ? key : JSON.stringify(key)}: ${source(child, childSchema, `${indent}  `, seen, childPath)},`);
    }
    return `{\n${lines.join('\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** The text of `cutover.config.ts` as `cutover init` writes it: the plan, every field explained once. */
export function renderCommentedPlan(plan: PlanInput): string {
  return source(plan, planJsonSchema(), '', new Set(), '');
}

