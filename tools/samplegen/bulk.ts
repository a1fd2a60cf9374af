/**
 * Benchmark traffic: IMIX (7:4:1 of 64, 594 and 1518-byte frames on the wire, i.e.
 * 60, 590 and 1514 captured bytes without the FCS) or all minimum-size frames, UDP and
 * TCP over many flows; or all 1518-byte frames (large1500, a full 1500-byte MTU). Each frame is built in place in the writer's chunk from a
 * per-flow header template; only lengths, ids, sequence numbers and checksums change,
 * and the payload's checksum contribution is precomputed per length.
 */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import { ipv4, ipv6, mac } from './addresses';
import { PROTO_TCP, PROTO_UDP } from './ipv4';
import { Endpoint, ipFrame } from './link';
import { Prng } from './prng';
import { ACK, PSH, tcpSegment } from './tcp';
import { udpDatagram } from './udp';

export type BulkKind = 'imix' | 'small64' | 'large1500';

export interface BulkOptions {
  kind: BulkKind;
  packets: number;
  seed: number;
  marker: string;
  /** Half of the 590 and 1514-byte frames go over IPv6 flows (a 60-byte frame cannot hold IPv6 with TCP or UDP). */
  ipv6: boolean;
  startUs: number;
  flows: number;
}

/** One period of the IMIX: 7 small, 4 medium, 1 large, interleaved as traffic would be. */
export const IMIX_PERIOD = [60, 590, 60, 60, 1514, 60, 590, 60, 60, 590, 60, 590];
export const MIN_CAPTURED = 60;
/** A 1518-byte frame on the wire: a full Ethernet MTU. */
export const MAX_CAPTURED = 1514;
/** Frames are sent one every microsecond of trace time (1 Mpps); tcpreplay --topspeed ignores it. */
const GAP_US = 1;
/** Discard (RFC 863): a low well-known port, so no dissector guesses a protocol from a random one. */
const SERVER_PORT = 9;

interface FlowSide {
  template: Buffer;
  v6: boolean;
  tcp: boolean;
  /** Pseudo-header sum without the length. */
  pseudo: number;
  seq: number;
  /** Frames sent on this side, by size index; and one of each, copied, for the ground truth. */
  counts: number[];
  examples: Buffer[];
}

function makeFlow(k: number, v6: boolean, tcp: boolean, rng: Prng): FlowSide[] {
  // Flow numbers beyond 16 bits spill into the next MAC octet and the next IPv6 group;
  // below that the addresses are what they always were (same bytes, same traces).
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  const cm = mac(`02:53:54:${hex(0x10 + ((k >> 16) & 0xef))}:${hex((k >> 8) & 0xff)}:${hex(k & 0xff)}`);
  const rm = mac('02:53:54:00:00:01');
  const c6 = 0x1000 + k;
  const client: Endpoint = v6
    ? { ip: ipv6(`2001:db8:c::${(c6 >>> 16).toString(16)}:${(c6 & 0xffff).toString(16)}`), mac: cm, ttl: 64 }
    : { ip: ipv4(`10.2.${(k >> 8) & 0xff}.${k & 0xff}`), mac: cm, ttl: 64 };
  const server: Endpoint = v6
    ? { ip: ipv6(`2001:db8:5::${(0x100 + (k % 64)).toString(16)}`), mac: rm, ttl: 56 }
    : { ip: ipv4(`${k % 2 ? '198.51.100' : '203.0.113'}.${1 + (k % 200)}`), mac: rm, ttl: 56 };
  const cport = 32768 + rng.int(0, 28000);
  return [
    [client, server, cport, SERVER_PORT],
    [server, client, SERVER_PORT, cport],
  ].map(([from, to, sp, dp]) => {
    const a = from as Endpoint;
    const b = to as Endpoint;
    const l4 = tcp
      ? tcpSegment({ srcPort: sp as number, dstPort: dp as number, seq: 0, ack: rng.u32(), flags: PSH | ACK, window: 502 }, a.ip, b.ip, Buffer.alloc(0))
      : udpDatagram(sp as number, dp as number, a.ip, b.ip, Buffer.alloc(0));
    const template = ipFrame(a, b, tcp ? PROTO_TCP : PROTO_UDP, l4, { ipId: 0, dontFragment: true }).subarray(0, 14 + (v6 ? 40 : 20) + l4.length);
    return { template: Buffer.from(template), v6, tcp, pseudo: pseudoHeaderSum(a.ip, b.ip, tcp ? PROTO_TCP : PROTO_UDP, 0), seq: rng.u32(), counts: [], examples: [] };
  });
}

/** Payload bytes: the marker repeated; prefix sums of its 16-bit words give any length's checksum share. */
function payloadPattern(marker: string): { bytes: Buffer; sumOf: Float64Array } {
  const bytes = Buffer.alloc(1514);
  const unit = Buffer.from(`${marker} `, 'ascii');
  for (let i = 0; i < bytes.length; i += unit.length) unit.copy(bytes, i);
  const sumOf = new Float64Array(bytes.length + 1);
  for (let n = 1; n <= bytes.length; n++) sumOf[n] = sumWords(bytes, 0, n);
  return { bytes, sumOf };
}

export interface FrameSink {
  reserve(maxLen: number): { buf: Buffer; at: number };
  commit(timestampUs: number, len: number): void;
}

/** A frame as written, and how many frames of the file differ from it only in ids, sequence numbers and checksums. */
export interface FrameShape {
  example: Buffer;
  count: number;
}

/**
 * Builds o.packets frames into sink. Returns one example of each distinct shape (flow
 * direction and size) with its count: decoding a million frames for the ground truth
 * would take longer than building them.
 */
export function generateBulk(o: BulkOptions, sink: FrameSink): FrameShape[] {
  if (o.kind === 'small64' && o.ipv6) throw new Error('--kind small64 cannot use --ipv6: a 60-byte frame has no room for IPv6 and UDP; use --kind imix --ipv6');
  if (!Number.isInteger(o.flows) || o.flows < 2 || o.flows > 65536) throw new Error(`flows must be 2..65536, got ${o.flows}`);
  const rng = new Prng(o.seed);
  const v4flows: FlowSide[][] = [];
  const v6flows: FlowSide[][] = [];
  for (let k = 0; k < o.flows; k++) {
    const tcp = k % 3 === 0;
    v4flows.push(makeFlow(k, false, tcp, rng));
    if (o.ipv6) v6flows.push(makeFlow(k, true, tcp, rng));
  }
  const pattern = payloadPattern(o.marker);
  let ipId = rng.int(0, 0xffff);
  for (let i = 0; i < o.packets; i++) {
    const size = o.kind === 'small64' ? MIN_CAPTURED : o.kind === 'large1500' ? MAX_CAPTURED : IMIX_PERIOD[i % IMIX_PERIOD.length];
    const r = rng.u32();
    const useV6 = o.ipv6 && size > MIN_CAPTURED && (r & 1) === 1;
    const pair = (useV6 ? v6flows : v4flows)[(r >>> 2) % o.flows];
    const dir = (r >>> 1) & 1;
    const flow = pair[dir];
    const { buf, at } = sink.reserve(size);
    const t = flow.template;
    t.copy(buf, at);
    const ip = at + 14;
    const l4 = ip + (flow.v6 ? 40 : 20);
    const hdr = flow.tcp ? 20 : 8;
    const payloadLen = size - (l4 - at) - hdr;
    const l4Len = hdr + payloadLen;
    pattern.bytes.copy(buf, l4 + hdr, 0, payloadLen);
    if (flow.v6) {
      buf.writeUInt16BE(l4Len, ip + 4);
    } else {
      buf.writeUInt16BE(20 + l4Len, ip + 2);
      buf.writeUInt16BE(ipId, ip + 4);
      ipId = (ipId + 1) & 0xffff;
      buf.writeUInt16BE(0, ip + 10);
      buf.writeUInt16BE(finishChecksum(sumWords(buf, ip, ip + 20)), ip + 10);
    }
    if (flow.tcp) {
      buf.writeUInt32BE(flow.seq, l4 + 4);
      // Acknowledge everything the other side sent, or a dissector flags retransmissions.
      buf.writeUInt32BE(pair[1 - dir].seq, l4 + 8);
      flow.seq = (flow.seq + payloadLen) >>> 0;
      buf.writeUInt16BE(0, l4 + 16);
    } else {
      buf.writeUInt16BE(l4Len, l4 + 4);
      buf.writeUInt16BE(0, l4 + 6);
    }
    const sum = flow.pseudo + l4Len + sumWords(buf, l4, l4 + hdr) + pattern.sumOf[payloadLen];
    const c = finishChecksum(sum);
    buf.writeUInt16BE(flow.tcp ? c : c === 0 ? 0xffff : c, l4 + (flow.tcp ? 16 : 6));
    sink.commit(o.startUs + i * GAP_US, size);
    if (flow.counts[size] === undefined) {
      flow.counts[size] = 0;
      flow.examples[size] = Buffer.from(buf.subarray(at, at + size));
    }
    flow.counts[size]++;
  }
  const shapes: FrameShape[] = [];
  for (const f of [...v4flows, ...v6flows]) {
    for (const side of f) side.counts.forEach((count, size) => shapes.push({ example: side.examples[size], count }));
  }
  return shapes;
}
