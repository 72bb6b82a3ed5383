import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationTarget } from '../config/notify-schema.js';
import { deliveriesPath, readDeliveries } from '../services/notifier.js';
import type { StandIn } from './stand-ins.js';

/**
 * The rehearsal's stand-in for the team's chat and webhook receiver: a Slack-compatible incoming
 * webhook (`ok` for a message with text, 400 `no_text` without) and a JSON webhook that verifies the
 * HMAC signature. The rehearsal's plan points its notification targets here, so the notifier runs
 * exactly as in production and the report lists what the team would have been told.
 */
export interface NotifySink extends StandIn {
  targets: NotificationTarget[];
  env: Record<string, string>;
  /** Messages accepted, per target name. */
  received: Map<string, string[]>;
}

export async function startNotifySink(): Promise<NotifySink> {
  const secret = randomBytes(16).toString('hex');
  const received = new Map<string, string[]>([['team-chat', []], ['audit-hook', []]]);
  const server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      const answer = (status: number, text: string) => {
        response.writeHead(status, { 'content-type': 'text/plain' });
        response.end(text);
      };
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return answer(400, 'invalid_payload');
      }
      if (request.url === '/slack') {
        if (typeof body.text !== 'string' || !body.text) return answer(400, 'no_text');
        received.get('team-chat')!.push(body.text.split('\n')[0]!);
        return answer(200, 'ok');
      }
      if (request.url === '/hook') {
        const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
        const given = Buffer.from(String(request.headers['x-cutover-signature'] ?? ''));
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) return answer(401, 'bad signature');
        if (body.type !== 'ping') received.get('audit-hook')!.push(String(body.title));
        return answer(200, 'ok');
      }
      answer(404, 'no_service');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    targets: [
      { kind: 'slack', name: 'team-chat', webhookUrlEnv: 'REHEARSAL_CHAT_WEBHOOK_URL' },
      { kind: 'webhook', name: 'audit-hook', url: `${url}/hook`, secretEnv: 'REHEARSAL_HOOK_SECRET', signatureHeader: 'X-Cutover-Signature' },
    ],
    env: { REHEARSAL_CHAT_WEBHOOK_URL: `${url}/slack`, REHEARSAL_HOOK_SECRET: secret },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The report's section: what each target was sent, from the notifier's record, and what the stand-in got. */
export function notificationLines(stateDir: string, runId: string, sink: NotifySink | undefined): string[] {
  const lines = ['', '## Team notifications (local stand-in)', ''];
  const { deliveries } = readDeliveries(stateDir, runId);
  if (deliveries.length === 0) return [...lines, `None recorded (${deliveriesPath(stateDir)}).`];
  lines.push('| Target | Event | Title | Delivery |', '|---|---|---|---|');
  for (const delivery of deliveries) {
    lines.push(`| ${delivery.target} | ${delivery.event.kind} | ${delivery.event.title.replaceAll('|', '\\|')} | ${delivery.state}${delivery.error ? `: ${delivery.error.replaceAll('|', '\\|')}` : ''} |`);
  }
  if (sink) {
    // The stand-in's own count against the record: a repeat or a loss shows as a difference.
    const counts = [...sink.received].map(([name, messages]) => {
      const sent = deliveries.filter((delivery) => delivery.target === name && delivery.state === 'sent').length;
      return `${name} ${messages.length.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} sent${messages.length === sent ? '' : ' (MISMATCH)'}`;
    });
    lines.push('', `Received by the stand-in: ${counts.join(', ')}.`);
  }
  return lines;
}
