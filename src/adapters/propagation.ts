import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Clock } from '../engine/clock.js';
import { normalizeName, sameContent } from './local-dns.js';
import type { DnsRecordType } from './types.js';

/**
 * Propagation: ask each configured resolver directly (not the system's stub resolver, which caches
 * and would answer for only one of them) until every one gives the expected answer. Waiting goes
 * through the run's clock so a manual or compressed clock drives the polling.
 */

export interface PropagationExpectation {
  name: string;
  type: DnsRecordType;
  /** Every resolver must answer exactly these values. */
  values?: string[];
  /** Every resolver's answer must carry a TTL at most this (the low TTL has replaced cached high ones). */
  maxTtl?: number;
}

export interface ResolverObservation {
  resolver: string;
  name: string;
  type: DnsRecordType;
  values: string[];
  ttl?: number;
  ok: boolean;
  /** What is still wrong, in words. */
  problem?: string;
}

export interface PropagationReport {
  ok: boolean;
  polls: number;
  /** The last answer of every resolver for every record. */
  observations: ResolverObservation[];
}

export interface PropagationOptions {
  resolvers: string[];
  expectations: PropagationExpectation[];
  clock: Clock;
  timeoutMs: number;
  /** Pause between rounds. */
  intervalMs?: number;
  /** Per query. */
  queryTimeoutMs?: number;
  signal?: AbortSignal;
  onPoll?: (report: PropagationReport) => void;
}

/** `1.1.1.1`, `1.1.1.1:5353`, `[::1]:5353` or `::1` → host and port. */
export function parseResolverAddress(server: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed) return { host: bracketed[1] as string, port: bracketed[2] ? Number(bracketed[2]) : 53 };
  if (isIP(server) === 6) return { host: server, port: 53 };
  const [host, port] = server.split(':');
  return { host: host as string, port: port ? Number(port) : 53 };
}

/**
 * One raw query over UDP. Used for CNAME, because node's `resolveCname` cannot report the TTL and
 * `final.ttl-propagated` needs it.
 */
async function queryRaw(server: string, name: string, type: DnsRecordType, timeoutMs: number): Promise<dnsPacket.Answer[]> {
  const { host, port } = parseResolverAddress(server);
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  const id = Math.floor(Math.random() * 65_535);
  try {
    return await new Promise<dnsPacket.Answer[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error('query timed out'), { code: 'ETIMEOUT' })), timeoutMs);
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on('message', (message) => {
        // dns-packet sets `rcode` on decoded packets; its type definitions omit it.
        const response = dnsPacket.decode(message) as dnsPacket.DecodedPacket & { rcode?: string };
        if (response.id !== id) return;
        clearTimeout(timer);
        if (response.rcode === 'NXDOMAIN') reject(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }));
        else if (response.rcode && response.rcode !== 'NOERROR') reject(Object.assign(new Error(response.rcode), { code: 'ESERVFAIL' }));
        else resolve(response.answers ?? []);
      });
      const query = dnsPacket.encode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name: normalizeName(name) }],
      });
      socket.send(query, port, host);
    });
  } finally {
    socket.close();
  }
}

/** What one resolver answers for one record: values and the largest TTL among them. */
export async function queryResolver(
  server: string,
  name: string,
  type: DnsRecordType,
  timeoutMs = 3_000,
): Promise<{ values: string[]; ttl?: number }> {
  if (type === 'CNAME') {
    const answers = (await queryRaw(server, name, type, timeoutMs)).filter(
      (answer): answer is dnsPacket.StringAnswer => answer.type === 'CNAME' && normalizeName(answer.name) === normalizeName(name),
    );
    const ttls = answers.map((answer) => answer.ttl ?? 0);
    return {
      values: answers.map((answer) => normalizeName(String(answer.data))),
      ...(ttls.length ? { ttl: Math.max(...ttls) } : {}),
    };
  }
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  const answers = type === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
  return {
    values: answers.map((answer) => answer.address),
    ...(answers.length ? { ttl: Math.max(...answers.map((answer) => answer.ttl)) } : {}),
  };
}

function describeQueryError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENODATA') return 'no record of this type';
  if (code === 'ENOTFOUND') return 'no such name (NXDOMAIN)';
  if (code === 'ETIMEOUT' || code === 'ETIMEDOUT') return 'no answer (timeout)';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ESERVFAIL') return 'server failure';
  return (error as Error).message;
}

export async function observe(
  resolver: string,
  expectation: PropagationExpectation,
  queryTimeoutMs?: number,
): Promise<ResolverObservation> {
  const { name, type } = expectation;
  let answer: { values: string[]; ttl?: number };
  try {
    answer = await queryResolver(resolver, name, type, queryTimeoutMs);
  } catch (error) {
    return { resolver, name, type, values: [], ok: false, problem: describeQueryError(error) };
  }
  const problems: string[] = [];
  if (expectation.values) {
    const want = expectation.values;
    const exact =
      answer.values.length === want.length &&
      want.every((value) => answer.values.some((got) => sameContent(type, got, value)));
    if (!exact) {
      problems.push(
        answer.values.length === 0 ? `no answer, expected ${want.join(', ')}` : `answers ${answer.values.join(', ')}, expected ${want.join(', ')}`,
      );
    }
  }
  if (expectation.maxTtl !== undefined) {
    if (answer.ttl === undefined) problems.push('no TTL in the answer');
    else if (answer.ttl > expectation.maxTtl) problems.push(`TTL ${answer.ttl} s is above ${expectation.maxTtl} s`);
  }
  return {
    resolver,
    name,
    type,
    values: answer.values,
    ...(answer.ttl === undefined ? {} : { ttl: answer.ttl }),
    ok: problems.length === 0,
    ...(problems.length ? { problem: problems.join('; ') } : {}),
  };
}

/** Poll until every resolver satisfies every expectation, or the timeout passes. Never throws for a slow resolver: the report says. */
export async function waitForPropagation(options: PropagationOptions): Promise<PropagationReport> {
  const { resolvers, expectations, clock, signal } = options;
  const interval = options.intervalMs ?? 10_000;
  const deadline = clock.now() + options.timeoutMs;
  let polls = 0;
  for (;;) {
    signal?.throwIfAborted();
    const observations = await Promise.all(
      resolvers.flatMap((resolver) => expectations.map((expectation) => observe(resolver, expectation, options.queryTimeoutMs))),
    );
    polls += 1;
    const report = { ok: observations.every((observation) => observation.ok), polls, observations };
    options.onPoll?.(report);
    if (report.ok || clock.now() >= deadline) return report;
    await clock.sleepUntil(Math.min(deadline, clock.now() + interval), signal);
  }
}

/** One line per resolver: which records are still wrong and how. */
export function describePropagation(report: PropagationReport): string {
  const byResolver = new Map<string, ResolverObservation[]>();
  for (const observation of report.observations) {
    byResolver.set(observation.resolver, [...(byResolver.get(observation.resolver) ?? []), observation]);
  }
  const lines: string[] = [];
  for (const [resolver, observations] of byResolver) {
    const wrong = observations.filter((observation) => !observation.ok);
    lines.push(
      wrong.length === 0
        ? `  ${resolver}: ok`
        : `  ${resolver}: ${wrong.map((observation) => `${observation.type} ${observation.name} ${observation.problem}`).join('; ')}`,
    );
  }
  return lines.join('\n');
}
