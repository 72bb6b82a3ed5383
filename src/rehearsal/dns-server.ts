import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';

/**
 * A small authoritative DNS server on 127.0.0.1 (UDP). The rehearsal serves its local zone file with
 * it, so the propagation steps ask a real resolver over the wire; the tests serve a table they change
 * while the code under test polls.
 */

export interface DnsAnswer {
  values: string[];
  ttl: number;
}

export type RecordType = 'A' | 'AAAA' | 'CNAME';

/** The answer for a question; `known: false` makes the reply NXDOMAIN. */
export type Lookup = (name: string, type: string) => { answer?: DnsAnswer; known: boolean };

export interface DnsServer {
  /** `127.0.0.1:port`, as a plan's resolver entry. */
  address: string;
  /** Questions received, as `TYPE name`. */
  queries: string[];
  close(): Promise<void>;
}

export async function serveDns(lookup: Lookup): Promise<DnsServer> {
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    queries.push(`${question.type} ${name}`);
    const { answer, known } = lookup(name, question.type);
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
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Answer from a `local` provider's zone file, read at each question (it changes during the run). */
export function serveZoneFile(file: string): Promise<DnsServer> {
  return serveDns((name, type) => {
    const zone = JSON.parse(readFileSync(file, 'utf8')) as { records: { name: string; type: string; content: string; ttl: number }[] };
    const same = (record: { name: string }) => record.name.toLowerCase().replace(/\.$/, '') === name;
    const records = zone.records.filter((record) => same(record) && record.type === type);
    return {
      known: zone.records.some(same),
      ...(records.length ? { answer: { values: records.map((record) => record.content), ttl: Math.min(...records.map((record) => record.ttl)) } } : {}),
    };
  });
}
