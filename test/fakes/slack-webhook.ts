import { startFakeServer, type Fault, type RecordedRequest, type Reply } from './http-fault.js';

/**
 * A contract fake of a Slack incoming webhook (POST /services/T…/B…/SECRET), answering as Slack
 * documents: 200 `ok` for a message; 400 `invalid_payload` for a body that is not JSON and
 * `no_text` for one without text/blocks/attachments (nothing posted); 403 `invalid_token` for an
 * unknown hook (404 `no_service` to HEAD/GET); 410 `channel_is_archived`; 405 to HEAD/GET of a live hook; 429 `rate_limited` with Retry-After (injected).
 */

export interface SlackMessage {
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
}

export interface SlackFake {
  /** The webhook URL to put in the environment variable. */
  webhookUrl: string;
  /** Messages that were posted (the channel's history). */
  posted: SlackMessage[];
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  /** Archive the channel: every post answers 410. */
  archive(): void;
  close(): Promise<void>;
}

export async function startSlackFake(): Promise<SlackFake> {
  const path = '/services/T0CUTOVER/B0NOTIFY/xoxsecretwebhooktoken';
  const posted: SlackMessage[] = [];
  let archived = false;
  const handle = (request: RecordedRequest): Reply => {
    // HEAD/GET post nothing: an unknown hook is `no_service` (404), a live one refuses the method.
    if (request.method !== 'POST') {
      if (request.path !== path) return { status: 404, body: 'no_service' };
      return archived ? { status: 410, body: 'channel_is_archived' } : { status: 405, body: 'invalid_method' };
    }
    if (request.path !== path) return { status: 403, body: 'invalid_token' };
    if (archived) return { status: 410, body: 'channel_is_archived' };
    if (String(request.headers['content-type'] ?? '').split(';')[0] !== 'application/json' || typeof request.body !== 'object' || request.body === null) {
      return { status: 400, body: 'invalid_payload' };
    }
    const message = request.body as SlackMessage;
    if (!message.text && !message.blocks?.length && !message.attachments?.length) return { status: 400, body: 'no_text' };
    posted.push(message);
    return { status: 200, body: 'ok' };
  };
  const server = await startFakeServer(handle, (status) => (status === 429 ? 'rate_limited' : 'rollup_error'));
  return {
    webhookUrl: `${server.url}${path}`,
    posted,
    requests: server.requests,
    inject: server.inject,
    archive: () => (archived = true),
    close: server.close,
  };
}
