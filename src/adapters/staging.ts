import type { OutgoingMessage } from './types.js';

/**
 * Staging plans must never look like, or reach people as, production notices: every subject carries
 * the marker, and real providers deliver only to the plan's allow-list.
 */

export const STAGING_PREFIX = '[STAGING]';

export function markStagingSubject(subject: string): string {
  return subject.startsWith(STAGING_PREFIX) ? subject : `${STAGING_PREFIX} ${subject}`;
}

export interface StagingPolicy {
  /** Addresses that may really receive mail, compared case-insensitively. */
  allowList: string[];
}

/** Split a batch into what may be sent (subjects marked) and how many recipients were held back. */
export function applyStagingPolicy(
  messages: OutgoingMessage[],
  policy: StagingPolicy,
): { send: OutgoingMessage[]; dropped: number } {
  const allowed = new Set(policy.allowList.map((address) => address.trim().toLowerCase()));
  const send = messages
    .filter((message) => allowed.has(message.to.trim().toLowerCase()))
    .map((message) => ({ ...message, subject: markStagingSubject(message.subject) }));
  return { send, dropped: messages.length - send.length };
}
