import type { Plan } from '../config/schema.js';

/** Values of every environment variable the plan names: they must never reach disk or a log. */
export function collectSecrets(plan: Plan, env: Record<string, string | undefined>): string[] {
  const names = new Set<string>();
  const visit = (value: unknown, key?: string) => {
    if (typeof value === 'string' && key?.endsWith('Env')) names.add(value);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(plan);
  const values: string[] = [];
  for (const name of names) {
    const value = env[name];
    if (!value || value.length < 6) continue;
    values.push(value);
    // A connection URL's password can appear on its own in driver errors.
    try {
      const password = decodeURIComponent(new URL(value).password);
      if (password.length >= 4) values.push(password);
    } catch {
      // not a URL
    }
  }
  return values.sort((a, b) => b.length - a.length);
}

/** Replace any secret value inside strings of `value` by `[redacted]`. */
export function redact<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const scrub = (item: unknown): unknown => {
    if (typeof item === 'string') return secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), item);
    if (Array.isArray(item)) return item.map(scrub);
    if (item && typeof item === 'object') return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, scrub(v)]));
    return item;
  };
  return scrub(value) as T;
}
