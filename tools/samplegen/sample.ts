/**
 * The realistic mix: rounds of concurrent scenarios, one round a second, each with
 * fresh clients, ports and ids, until the requested packet count is reached. The
 * last packets are single unanswered DNS queries, so the count is met exactly.
 */
import { Prng } from './prng';
import { anyClient, lanClient, router, servers } from './plan';
import { arpExchange, neighborDiscovery, ping } from './scenarios-link';
import { httpSession, httpSessionReset, tlsSession } from './scenarios-tcp';
import { closedPortProbe, dnsExchange } from './scenarios-udp';
import { Scenario, TimedFrame, mergeByTime } from './trace';

export interface SampleOptions {
  packets: number;
  seed: number;
  marker: string;
  /** Also run half the HTTP, TLS and DNS sessions over IPv6 (the fixed IPv6 items are always there). */
  ipv6: boolean;
  /** Microseconds since the Unix epoch of the first round. */
  startUs: number;
}

type Build = (s: Scenario) => void;

/** The scenarios of round r, each a function that fills a scenario starting at a given time. */
function round(r: number, rng: Prng, o: SampleOptions): Build[] {
  const m = o.marker;
  const lan = lanClient(rng);
  const other = anyClient(rng);
  const v6 = o.ipv6 && r % 2 === 1;
  const web = v6 ? rng.pick(servers.web6) : rng.pick(servers.web);
  const tls = v6 ? rng.pick(servers.tls6) : rng.pick(servers.tls);
  const resolver = v6 ? servers.resolver6 : servers.resolver;
  const lanIp = v6 ? lan.v6 : lan.v4;
  return [
    (s) => arpExchange(s, lan),
    (s) => dnsExchange(s, rng, m, 'a', r, lanIp, resolver),
    (s) => httpSession(s, rng, m, lanIp, web, `www${r % 7}.example.com`),
    (s) => dnsExchange(s, rng, m, 'aaaa', r, other.v4, servers.resolver),
    (s) => httpSession(s, rng, m, lan.v6, rng.pick(servers.web6), `v6-${r % 5}.example.net`),
    (s) => dnsExchange(s, rng, m, 'mx', r, other.v4, servers.resolver),
    (s) => tlsSession(s, rng, m, lanIp, tls, `secure${r % 3}.example.org`),
    (s) => tlsSession(s, rng, m, other.v4, rng.pick(servers.tls), 'login.example.com'),
    (s) => dnsExchange(s, rng, m, 'nxdomain', r, lanIp, resolver),
    (s) => dnsExchange(s, rng, m, 'unanswered', r, other.v4, servers.resolver),
    (s) => ping(s, rng, m, other.v4, rng.pick(servers.ping), 2),
    (s) => closedPortProbe(s, rng, m, lan.v4, servers.closedPort),
    (s) => ping(s, rng, m, lan.v6, rng.pick(servers.ping6), 1),
    (s) => neighborDiscovery(s, lan),
    (s) => ping(s, rng, m, lan.v4, router.v4, 1, { id: 100 + (r % 4) }),
    (s) => httpSessionReset(s, rng, m, other.v4, rng.pick(servers.web), 'shop.example.com'),
    (s) => httpSession(s, rng, m, other.v4, rng.pick(servers.web), 'static.example.com'),
  ];
}

export function generateSample(o: SampleOptions): TimedFrame[] {
  if (!Number.isInteger(o.packets) || o.packets < 1) throw new Error(`--packets must be a positive whole number, got ${o.packets}`);
  const rng = new Prng(o.seed);
  const done: Scenario[] = [];
  let count = 0;
  let r = 0;
  let full = false;
  while (!full) {
    const roundStart = o.startUs + r * 1_000_000;
    for (const build of round(r, rng, o)) {
      const s = new Scenario(roundStart + rng.int(0, 900_000));
      build(s);
      if (count + s.frames.length > o.packets) {
        full = true;
        break;
      }
      done.push(s);
      count += s.frames.length;
    }
    r++;
  }
  // Fill the remainder with unanswered queries (1 packet each), after everything else.
  const lastUs = o.startUs + r * 1_000_000;
  for (let k = 0; count < o.packets; k++, count++) {
    const s = new Scenario(lastUs + k * 1000);
    dnsExchange(s, rng, o.marker, 'unanswered', 1000 + k, anyClient(rng).v4, servers.resolver);
    done.push(s);
  }
  return mergeByTime(done);
}
