import { serveDns, type DnsAnswer, type DnsServer } from '../../src/rehearsal/dns-server.js';

export type { DnsAnswer } from '../../src/rehearsal/dns-server.js';

/**
 * The loopback DNS server of the propagation tests: it answers A, AAAA and CNAME questions from a
 * table the test changes while the code under test polls it, the way a resolver's cache turns over
 * after a switch.
 */
export interface FakeDnsServer extends DnsServer {
  set(name: string, type: 'A' | 'AAAA' | 'CNAME', answer: DnsAnswer | undefined): void;
}

export async function startDnsServer(): Promise<FakeDnsServer> {
  const table = new Map<string, DnsAnswer>();
  const server = await serveDns((name, type) => ({
    answer: table.get(`${type} ${name}`),
    known: [...table.keys()].some((key) => key.endsWith(` ${name}`)),
  }));
  return {
    ...server,
    set(name, type, answer) {
      const key = `${type} ${name.toLowerCase()}`;
      if (answer) table.set(key, answer);
      else table.delete(key);
    },
  };
}
