/** UDP scenarios of the sample: DNS lookups of several kinds, and a datagram to a closed port. */
import { ipv4, ipv6 } from './addresses';
import { DnsRecord, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_MX, TYPE_SOA, dnsMessage } from './dns';
import { ICMP_UNREACHABLE, UNREACHABLE_PORT, icmpUnreachable } from './icmp';
import { PROTO_ICMP, PROTO_UDP } from './ipv4';
import { Endpoint, ipFrame } from './link';
import { ephemeralPort } from './plan';
import { Prng } from './prng';
import { Scenario } from './trace';
import { udpDatagram } from './udp';

export type DnsKind = 'a' | 'aaaa' | 'mx' | 'nxdomain' | 'unanswered';

/** One question, and the records of its answer (null: no response is sent). */
function lookup(kind: DnsKind, k: number): { name: string; type: number; answers: DnsRecord[]; authority: DnsRecord[]; additional: DnsRecord[] } | null {
  const none: DnsRecord[] = [];
  switch (kind) {
    case 'a': {
      // CNAME then A: the answer's owner names compress to the question and to the CNAME target.
      const name = `www${k % 7}.example.com`;
      return {
        name,
        type: TYPE_A,
        answers: [
          { name, type: TYPE_CNAME, ttl: 300, data: { cname: 'web.example.com' } },
          { name: 'web.example.com', type: TYPE_A, ttl: 300, data: { a: ipv4('198.51.100.80') } },
          { name: 'web.example.com', type: TYPE_A, ttl: 300, data: { a: ipv4('198.51.100.81') } },
        ],
        authority: none,
        additional: none,
      };
    }
    case 'aaaa': {
      const name = `v6-${k % 5}.example.net`;
      return { name, type: TYPE_AAAA, answers: [{ name, type: TYPE_AAAA, ttl: 600, data: { aaaa: ipv6('2001:db8:5::80') } }], authority: none, additional: none };
    }
    case 'mx':
      return {
        name: 'example.org',
        type: TYPE_MX,
        answers: [
          { name: 'example.org', type: TYPE_MX, ttl: 3600, data: { mx: { preference: 10, exchange: 'mail.example.org' } } },
          { name: 'example.org', type: TYPE_MX, ttl: 3600, data: { mx: { preference: 20, exchange: 'backup-mx.example.org' } } },
        ],
        authority: none,
        additional: [{ name: 'mail.example.org', type: TYPE_A, ttl: 3600, data: { a: ipv4('203.0.113.25') } }],
      };
    case 'nxdomain':
      return {
        name: `no-such-host-${k}.example.com`,
        type: TYPE_A,
        answers: none,
        authority: [{ name: 'example.com', type: TYPE_SOA, ttl: 900, data: { soa: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 2024030101, minimum: 900 } } }],
        additional: none,
      };
    case 'unanswered':
      return null;
  }
}

/** A DNS query from client to resolver and, unless unanswered, the response: 1 or 2 packets. */
export function dnsExchange(s: Scenario, rng: Prng, marker: string, kind: DnsKind, k: number, client: Endpoint, resolver: Endpoint): void {
  const q = lookup(kind, k) ?? { name: `slow-${k}.example.net`, type: TYPE_A, answers: [], authority: [], additional: [] };
  const id = rng.int(0, 0xffff);
  const port = ephemeralPort(rng);
  const query = dnsMessage({ id, response: false, question: { name: q.name, type: q.type }, marker });
  s.add(0, ipFrame(client, resolver, PROTO_UDP, udpDatagram(port, 53, client.ip, resolver.ip, query), { ipId: rng.u32() }));
  if (kind === 'unanswered') return;
  const response = dnsMessage({
    id,
    response: true,
    rcode: kind === 'nxdomain' ? RCODE_NXDOMAIN : 0,
    question: { name: q.name, type: q.type },
    answers: q.answers,
    authority: q.authority,
    additional: q.additional,
    marker,
  });
  s.add(rng.int(1000, 30000), ipFrame(resolver, client, PROTO_UDP, udpDatagram(53, port, resolver.ip, client.ip, response), { ipId: rng.u32() }));
}

/** A datagram to a port nobody listens on (traceroute's first port) and the ICMP port unreachable quoting it: 2 packets. */
export function closedPortProbe(s: Scenario, rng: Prng, marker: string, client: Endpoint, target: Endpoint): void {
  const payload = Buffer.from(`probe ${marker} `.repeat(2), 'ascii');
  const probe = ipFrame(client, target, PROTO_UDP, udpDatagram(ephemeralPort(rng), 33434, client.ip, target.ip, payload), { ipId: rng.u32() });
  s.add(0, probe);
  const quoted = probe.subarray(14, 14 + probe.readUInt16BE(16));
  const icmp = icmpUnreachable(UNREACHABLE_PORT, quoted);
  if (icmp[0] !== ICMP_UNREACHABLE) throw new Error('closedPortProbe: expected a destination unreachable message');
  s.add(rng.int(2000, 40000), ipFrame(target, client, PROTO_ICMP, icmp, { ipId: rng.u32() }));
}
