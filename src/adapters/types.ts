/**
 * Small adapter interfaces. Steps receive these through their context; the machine never sees them.
 * Each has a local implementation that stores and loads like the real one (`local` DNS zone file,
 * `outbox` folder) so rehearsals and tests exercise the same step code as production.
 */

export type DnsRecordType = 'A' | 'AAAA' | 'CNAME';

export interface DnsRecordRef {
  name: string;
  type: DnsRecordType;
}

export interface DnsRecord extends DnsRecordRef {
  content: string;
  ttl: number;
  /**
   * Cloudflare only: traffic goes through Cloudflare's proxy, so the TTL is automatic (1) and cannot be
   * lowered. Read-only; writes keep whatever the record has.
   */
  proxied?: boolean;
}

export interface DnsProvider {
  readonly kind: string;
  /** Current value of each record; a record that does not exist is omitted. */
  read(refs: DnsRecordRef[]): Promise<DnsRecord[]>;
  /** Make each record equal to the desired one. Idempotent: applying the same state twice changes nothing. */
  write(desired: DnsRecord[]): Promise<void>;
}

export interface OutgoingMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
}

export interface MailProvider {
  readonly kind: string;
  /**
   * Send one batch (at most 100 messages). The same idempotency key never delivers twice:
   * the outbox keeps one folder per key, Resend keeps the key for 24 hours.
   */
  sendBatch(messages: OutgoingMessage[], options: { idempotencyKey: string }): Promise<SendBatchResult>;
}

export interface SendBatchResult {
  /** Provider ids of the messages accepted. */
  ids: string[];
  /** Staging plans: messages not sent because the recipient is not on the allow-list. */
  dropped?: number;
}
