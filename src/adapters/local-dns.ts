import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import type { DnsProvider, DnsRecord, DnsRecordRef } from './types.js';

/**
 * The `local` DNS provider: a zone kept in a JSON file, for rehearsals and tests. It behaves like the
 * real one where it matters to the steps (read by name and type, idempotent writes) and journals every
 * change inside the file, so a rehearsal's DNS history can be read afterwards.
 */

export interface ZoneChange {
  at: string;
  /** The record before the change; null when the write created it. */
  before: DnsRecord | null;
  after: DnsRecord;
}

export interface ZoneFile {
  zone: string;
  records: DnsRecord[];
  changes: ZoneChange[];
}

/** Names compare case-insensitively and without the root dot, as DNS does. */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** CNAME targets compare like names; addresses as written (IPv6 in the plan's spelling). */
export function sameContent(type: DnsRecord['type'], a: string, b: string): boolean {
  return type === 'CNAME' ? normalizeName(a) === normalizeName(b) : a.trim().toLowerCase() === b.trim().toLowerCase();
}

function matches(record: DnsRecordRef, ref: DnsRecordRef): boolean {
  return record.type === ref.type && sameName(record.name, ref.name);
}

/** Write a new zone file (rehearsal setup). */
export async function createZoneFile(file: string, zone: string, records: DnsRecord[]): Promise<void> {
  const content: ZoneFile = { zone, records, changes: [] };
  await writeFileAtomic(file, `${JSON.stringify(content, null, 2)}\n`);
}

export async function readZoneFile(file: string): Promise<ZoneFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`the local DNS zone file ${file} does not exist (dns.file in the plan); create it or fix the path`);
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the local DNS zone file ${file} is not valid JSON; it was not changed`);
  }
  const zone = parsed as Partial<ZoneFile>;
  if (typeof zone.zone !== 'string' || !Array.isArray(zone.records)) {
    throw new Error(`the local DNS zone file ${file} needs "zone" and "records"; it was not changed`);
  }
  return { zone: zone.zone, records: zone.records, changes: Array.isArray(zone.changes) ? zone.changes : [] };
}

export class LocalDnsProvider implements DnsProvider {
  readonly kind = 'local';

  constructor(
    /** Absolute path of the zone file. */
    private readonly file: string,
    /** The plan's zone; a file for another zone is refused rather than edited. */
    private readonly zone: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async load(): Promise<ZoneFile> {
    const content = await readZoneFile(this.file);
    if (!sameName(content.zone, this.zone)) {
      throw new Error(`the local DNS zone file ${this.file} holds zone ${content.zone}, but the plan's zone is ${this.zone}`);
    }
    return content;
  }

  async read(refs: DnsRecordRef[]): Promise<DnsRecord[]> {
    const { records } = await this.load();
    const found: DnsRecord[] = [];
    for (const ref of refs) {
      const record = records.find((candidate) => matches(candidate, ref));
      if (record) found.push({ name: record.name, type: record.type, content: record.content, ttl: record.ttl });
    }
    return found;
  }

  async write(desired: DnsRecord[]): Promise<void> {
    const content = await this.load();
    const at = this.now().toISOString();
    let changed = false;
    for (const want of desired) {
      const index = content.records.findIndex((candidate) => matches(candidate, want));
      const current = index >= 0 ? content.records[index] : undefined;
      if (current && sameContent(want.type, current.content, want.content) && current.ttl === want.ttl) continue;
      const after: DnsRecord = { name: want.name, type: want.type, content: want.content, ttl: want.ttl };
      if (current) content.records[index] = after;
      else content.records.push(after);
      content.changes.push({ at, before: current ? { ...current } : null, after });
      changed = true;
    }
    // Nothing differs: the file is not touched, so its journal shows only real changes.
    if (changed) await writeFileAtomic(this.file, `${JSON.stringify(content, null, 2)}\n`);
  }
}
