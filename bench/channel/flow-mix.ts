// Flow records that look like what the box sends from a real link, for the channel
// benchmark: anonymized (Crypto-PAn output is random-looking but prefix-preserving, so
// the ISP's own customers stay clustered in a few prefixes), heavy-tailed counters,
// microsecond timestamps, a realistic port and protocol mix. Deterministic per seed.
//
// Why not test/lib makeFlow(i): its addresses and counters follow i, so deflate squeezes a
// 1 KiB batch of them far better than it can squeeze real flows, and the framing
// efficiency would look better than the line will ever see.
import { FlowRecord } from '../../firmware/channel/records';

/** xorshift32: fast, deterministic, good enough to defeat deflate's pattern matching. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Uniform in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  unit(): number {
    return this.u32() / 4294967296;
  }
  /** Heavy tail (Pareto, shape alpha) from 1 up to max. */
  pareto(alpha: number, max: number): number {
    return Math.min(max, Math.floor(1 / Math.pow(1 - this.unit(), 1 / alpha)));
  }
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Eight non-zero groups: canonical text form without "::" compression. */
function ipv6(prefix: number[], rng: Rng): string {
  const g = prefix.slice();
  while (g.length < 8) g.push(1 + rng.below(65535));
  return g.map((x) => x.toString(16)).join(':');
}

/** Server ports by share of flows on an access network (weights in percent). */
const SERVICES: Array<[port: number, proto: number, weight: number]> = [
  [443, 6, 42], [80, 6, 12], [53, 17, 15], [443, 17, 8], [123, 17, 3], [22, 6, 2],
  [993, 6, 2], [25, 6, 1], [8080, 6, 2], [5228, 6, 2], [3478, 17, 2], [0, 0, 9],
];
const TCP_FLAGS = [0x1b, 0x1f, 0x1a, 0x18, 0x12, 0x02, 0x14, 0x1e, 0x10, 0x19];
const END_REASONS: Array<[string, number]> = [['idle', 55], ['end', 30], ['active', 10], ['evicted', 3], ['runEnd', 2]];

function weighted<T>(rng: Rng, items: Array<[T, number]>): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let r = rng.below(total);
  for (const [v, w] of items) {
    if (r < w) return v;
    r -= w;
  }
  return items[items.length - 1][0];
}

/** `count` flows in the order a flow table expires them (first times increasing). */
export function realisticFlows(count: number, seed = 1): FlowRecord[] {
  const rng = new Rng(seed);
  // The ISP's customers: a few anonymized prefixes (Crypto-PAn keeps shared prefixes shared).
  const v4Clients = Array.from({ length: 12 }, () => rng.u32() & 0xffff0000);
  const v6Clients = Array.from({ length: 4 }, () => [0x2000 + rng.below(0x1000), 1 + rng.below(65535), 1 + rng.below(65535)]);
  const services = SERVICES.map(([p, proto, w]) => [[p, proto], w] as [[number, number], number]);
  const out: FlowRecord[] = [];
  let t = 1_763_900_000_000_000 + rng.below(1_000_000);
  for (let i = 0; i < count; i++) {
    t += rng.below(400);
    const v6 = rng.below(100) < 22;
    let [dstPort, protocol] = weighted(rng, services);
    if (protocol === 0) {
      // the rest: ICMP/ICMPv6 and TCP/UDP to some high port
      const k = rng.below(3);
      protocol = k === 0 ? (v6 ? 58 : 1) : k === 1 ? 6 : 17;
      dstPort = protocol === 1 || protocol === 58 ? 0 : 1024 + rng.below(64511);
    }
    const icmp = protocol === 1 || protocol === 58;
    const srcPort = icmp ? 0 : 32768 + rng.below(28232);
    const client = v6 ? ipv6(v6Clients[rng.below(v6Clients.length)], rng) : ipv4((v4Clients[rng.below(v4Clients.length)] | rng.below(65536)) >>> 0);
    const server = v6 ? ipv6([0x2000 + rng.below(0x2000)], rng) : ipv4(rng.u32());
    const packets = rng.pareto(1.1, 2_000_000);
    const revPackets = rng.below(10) === 0 ? 0 : rng.pareto(1.05, 3_000_000);
    const durationUs = packets + revPackets <= 2 ? rng.below(200_000) : rng.below(120_000_000);
    const tcp = protocol === 6;
    out.push({
      ipVersion: v6 ? 6 : 4,
      protocol,
      srcAddr: client,
      dstAddr: server,
      srcPort,
      dstPort,
      firstUs: t,
      lastUs: t + durationUs,
      packets,
      bytes: packets * (40 + rng.below(1461)),
      revPackets,
      revBytes: revPackets * (40 + rng.below(1461)),
      tcpFlags: tcp ? TCP_FLAGS[rng.below(TCP_FLAGS.length)] : 0,
      revTcpFlags: tcp && revPackets > 0 ? TCP_FLAGS[rng.below(TCP_FLAGS.length)] : 0,
      endReason: tcp ? weighted(rng, END_REASONS) : rng.below(10) === 0 ? 'active' : 'idle',
    });
  }
  return out;
}
