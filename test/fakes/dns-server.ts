import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';

/**
 * A tiny authoritative-style DNS server on 127.0.0.1 (UDP) for propagation tests: it answers A, AAAA
 * and CNAME questions from a table the test changes while the code under test polls it, the way a
 * resolver's cache turns over after a switch.
 */

export interface DnsAnswer {
  values: string[];
  ttl: number;
}

export interface FakeDnsServer {
  /** `127.0.0.1:port`, as a plan's resolver entry. */
  address: string;
  /** Questions received, as `TYPE name`. */
  queries: string[];
  set(name: string, type: 'A' | 'AAAA' | 'CNAME', answer: DnsAnswer | undefined): void;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<FakeDnsServer> {
  const table = new Map<string, DnsAnswer>();
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    queries.push(`${question.type} ${name}`);
    const answer = table.get(`${question.type} ${name}`);
    const known = [...table.keys()].some((key) => key.endsWith(` ${name}`));
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      // Authoritative answer, recursion available; NXDOMAIN (rcode 3) for a name it knows nothing of.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: [question],
      answers: (answer?.values ?? []).map((value) => ({ type: question.type, class: 'IN', name: question.name, ttl: answer?.ttl ?? 0, data: value }) as dnsPacket.Answer),
    });
    socket.send(response, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    set(name, type, answer) {
      const key = `${type} ${name.toLowerCase()}`;
      if (answer) table.set(key, answer);
      else table.delete(key);
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
