import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { readSecret } from '../../adapters/providers.js';
import { ExternalError } from '../../adapters/retry.js';
import type { Plan } from '../../config/schema.js';

/**
 * Who receives the notices: the plan's address file, or the Supabase auth users (from the run's
 * export when there is one, else the admin API). Addresses are personal data: anything that leaves
 * this module for output or the journal is masked.
 */

export interface Audience {
  /** Valid, de-duplicated (case-insensitively), sorted: the same input always gives the same batches. */
  recipients: string[];
  /** Invalid entries, masked (`j***@example.com`). */
  invalid: string[];
  duplicates: number;
  /** Where the addresses came from, in words. */
  source: string;
}

/** `jane@example.com` → `j***@example.com`; something without `@` → `j***`. */
export function maskAddress(address: string): string {
  const text = address.trim();
  const at = text.lastIndexOf('@');
  const local = at > 0 ? text.slice(0, at) : text;
  const domain = at > 0 ? text.slice(at + 1) : '';
  const head = local.slice(0, 1) || '?';
  return at > 0 ? `${head}***@${domain}` : `${head}***`;
}

// Deliberately plain: the provider has the final word; this catches typos and junk rows.
const ADDRESS = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$/;

export function isValidAddress(address: string): boolean {
  return ADDRESS.test(address);
}

export function buildAudience(raw: string[], source: string): Audience {
  const seen = new Map<string, string>();
  const invalid: string[] = [];
  let duplicates = 0;
  for (const entry of raw) {
    const address = entry.trim();
    if (!address) continue;
    if (!isValidAddress(address)) {
      invalid.push(maskAddress(address));
      continue;
    }
    const key = address.toLowerCase();
    if (seen.has(key)) duplicates += 1;
    else seen.set(key, address);
  }
  const recipients = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, address]) => address);
  return { recipients, invalid, duplicates, source };
}

/** One address per line, or CSV with the address first; blank lines, `#` comments and a header row are skipped. */
export function parseAddressFile(text: string): string[] {
  const addresses: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const first = (trimmed.split(',')[0] ?? '').trim().replace(/^"(.*)"$/, '$1').trim();
    if (index === 0 && /^(e-?mail|email address|address)$/i.test(first)) continue;
    addresses.push(first);
  }
  return addresses;
}

interface AuthUser {
  email?: string | null;
}

function emailsOf(users: AuthUser[]): string[] {
  return users.map((user) => user.email ?? '').filter((email) => email !== '');
}

/** The export writes auth users as an array, or as `{ users: [...] }` like the admin API. */
async function readExportedUsers(file: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as AuthUser[] | { users?: AuthUser[] };
  const users = Array.isArray(parsed) ? parsed : (parsed.users ?? []);
  return emailsOf(users);
}

const PAGE_SIZE = 1000;
/** A stop for a misbehaving API: a million users is far beyond any plan this tool serves. */
const MAX_PAGES = 1000;

/** All auth users through the admin API, page by page until a short page (`nextPage` is unreliable past page 9). */
async function listSupabaseUsers(plan: Plan, env: Record<string, string | undefined>): Promise<string[]> {
  const supabase = plan.source.supabase;
  if (!supabase) {
    throw new ExternalError('config', 'mail.audience is supabase-auth but source.supabase is not set in the plan: add its urlEnv and serviceRoleKeyEnv');
  }
  const url = readSecret(env, supabase.urlEnv, 'the Supabase project URL');
  const key = readSecret(env, supabase.serviceRoleKeyEnv, 'the Supabase service role key (needed to list auth users)');
  const client = createClient(url, key, { auth: { autoRefreshToken: false, persistSession: false } });
  const emails: string[] = [];
  for (let page = 1; page <= MAX_PAGES; page += 1) {
    const { data, error } = await client.auth.admin.listUsers({ page, perPage: PAGE_SIZE });
    if (error) throw new ExternalError('Supabase', `could not list auth users (page ${page}): ${error.message}`);
    emails.push(...emailsOf(data.users));
    if (data.users.length < PAGE_SIZE) return emails;
  }
  throw new ExternalError('Supabase', `listing auth users did not end after ${MAX_PAGES} pages`);
}

export interface AudienceContext {
  plan: Plan;
  planDir: string;
  runId: string;
  env: Record<string, string | undefined>;
}

export async function loadAudience({ plan, planDir, runId, env }: AudienceContext): Promise<Audience> {
  const audience = plan.mail.audience;
  if (audience.source === 'file') {
    const file = resolve(planDir, audience.file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ExternalError('config', `the audience file ${audience.file} (mail.audience.file) does not exist`);
      }
      throw error;
    }
    return buildAudience(parseAddressFile(text), `file ${audience.file}`);
  }
  const exported = join(resolve(planDir, plan.exportsDir), runId, 'auth-users.json');
  const fromExport = await readExportedUsers(exported);
  if (fromExport) return buildAudience(fromExport, `auth users exported in ${join(plan.exportsDir, runId, 'auth-users.json')}`);
  return buildAudience(await listSupabaseUsers(plan, env), 'Supabase auth users (admin API)');
}
