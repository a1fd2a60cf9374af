/**
 * The ground truth of a generated trace, measured on the frames themselves so it
 * describes exactly what is in the file. Protocol names are tshark's filter names and
 * count packets that contain the protocol at any layer, the way `tshark -Y NAME`
 * counts them (an ICMP error quoting a UDP datagram counts for icmp, ip and udp).
 */
import { formatIp, formatMac } from './addresses';

export const PROTOCOLS = ['eth', 'vlan', 'arp', 'ip', 'ipv6', 'icmp', 'icmpv6', 'tcp', 'udp', 'dns', 'http', 'tls'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface GroundTruth {
  packets: number;
  /** Sum of captured frame lengths. */
  bytes: number;
  protocols: Record<Protocol, number>;
  /**
   * Every unicast address in a header (Ethernet, ARP, IP, quoted IP, ND target): what must
   * never leave the box raw. Broadcast, multicast and all-zero addresses are in `special`.
   */
  addresses: { ipv4: string[]; ipv6: string[]; mac: string[]; special: string[] };
  /** Bidirectional flows: TCP and UDP by 5-tuple; ICMP and ICMPv6 by address pair (ports 0). */
  flows: { total: number; tcp: number; udp: number; icmp: number; icmpv6: number };
  /** Captured frame length -> number of frames. */
  frameSizes: Record<string, number>;
}

const PROTO_NUMBERS: Record<number, 'tcp' | 'udp' | 'icmp' | 'icmpv6'> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };

export class GroundTruthCollector {
  private packets = 0;
  private bytes = 0;
  private readonly protocols = Object.fromEntries(PROTOCOLS.map((p) => [p, 0])) as Record<Protocol, number>;
  private readonly macs = new Set<string>();
  private readonly ips = new Set<string>();
  private readonly flows = new Set<string>();
  private readonly sizes = new Map<number, number>();
  /** One entry per protocol seen in the current frame, so a quoted header does not count twice. */
  private readonly seen = new Set<Protocol>();

  /** Counts the frame b[off, off+len), times times (for frames known to differ only in ids and checksums). */
  observe(b: Buffer, off: number, len: number, times = 1): void {
    this.packets += times;
    this.bytes += len * times;
    this.sizes.set(len, (this.sizes.get(len) ?? 0) + times);
    this.seen.clear();
    this.seen.add('eth');
    this.macs.add(b.toString('hex', off, off + 6));
    this.macs.add(b.toString('hex', off + 6, off + 12));
    let type = b.readUInt16BE(off + 12);
    let p = off + 14;
    const end = off + len;
    if (type === 0x8100) {
      this.seen.add('vlan');
      type = b.readUInt16BE(off + 16);
      p += 4;
    }
    if (type === 0x0806) {
      this.seen.add('arp');
      this.macs.add(b.toString('hex', p + 8, p + 14));
      this.macs.add(b.toString('hex', p + 18, p + 24));
      this.ips.add(b.toString('hex', p + 14, p + 18));
      this.ips.add(b.toString('hex', p + 24, p + 28));
    } else if (type === 0x0800 || type === 0x86dd) {
      this.ipPacket(b, p, end, true);
    }
    for (const proto of this.seen) this.protocols[proto] += times;
  }

  /** Walks an IP packet; outer=false for a packet quoted inside an ICMP error. */
  private ipPacket(b: Buffer, p: number, end: number, outer: boolean): void {
    const v6 = b[p] >> 4 === 6;
    const alen = v6 ? 16 : 4;
    const src = v6 ? p + 8 : p + 12;
    const dst = src + alen;
    if (dst + alen > end) return;
    const proto = v6 ? b[p + 6] : b[p + 9];
    const hlen = v6 ? 40 : (b[p] & 0x0f) * 4;
    const totalEnd = Math.min(end, p + (v6 ? 40 + b.readUInt16BE(p + 4) : b.readUInt16BE(p + 2)));
    const t = p + hlen;
    this.seen.add(v6 ? 'ipv6' : 'ip');
    const a = b.toString('hex', src, src + alen);
    const z = b.toString('hex', dst, dst + alen);
    this.ips.add(a);
    this.ips.add(z);
    const name = PROTO_NUMBERS[proto];
    if (name === undefined || t >= totalEnd) return;
    this.seen.add(name);
    let pa = 0;
    let pz = 0;
    if (name === 'tcp' || name === 'udp') {
      if (t + 4 > totalEnd) return;
      pa = b.readUInt16BE(t);
      pz = b.readUInt16BE(t + 2);
      const payload = name === 'tcp' ? totalEnd - (t + (b[t + 12] >> 4) * 4) : totalEnd - (t + 8);
      if (name === 'udp' && (pa === 53 || pz === 53)) this.seen.add('dns');
      if (name === 'tcp' && payload > 0 && (pa === 80 || pz === 80)) this.seen.add('http');
      if (name === 'tcp' && payload > 0 && (pa === 443 || pz === 443)) this.seen.add('tls');
    } else if (name === 'icmp' && (b[t] === 3 || b[t] === 11) && outer) {
      this.ipPacket(b, t + 8, totalEnd, false);
    } else if (name === 'icmpv6' && (b[t] === 135 || b[t] === 136) && t + 24 <= totalEnd) {
      this.ips.add(b.toString('hex', t + 8, t + 24));
    }
    if (!outer) return;
    const forward = a < z || (a === z && pa <= pz);
    this.flows.add(forward ? `${name} ${a} ${pa} ${z} ${pz}` : `${name} ${z} ${pz} ${a} ${pa}`);
  }

  result(): GroundTruth {
    const ipv4: string[] = [];
    const ipv6: string[] = [];
    const mac: string[] = [];
    const special: string[] = [];
    for (const h of this.macs) {
      const m = formatMac(Buffer.from(h, 'hex'));
      (parseInt(h.slice(0, 2), 16) & 1 || /^0+$/.test(h) ? special : mac).push(m);
    }
    for (const h of this.ips) {
      const bytes = Buffer.from(h, 'hex');
      const text = formatIp(bytes);
      const isSpecial = bytes.length === 4 ? bytes[0] >= 224 || /^0+$/.test(h) : bytes[0] === 0xff || /^0+$/.test(h);
      (isSpecial ? special : bytes.length === 4 ? ipv4 : ipv6).push(text);
    }
    const flows = { total: this.flows.size, tcp: 0, udp: 0, icmp: 0, icmpv6: 0 };
    for (const f of this.flows) flows[f.slice(0, f.indexOf(' ')) as 'tcp' | 'udp' | 'icmp' | 'icmpv6']++;
    const frameSizes: Record<string, number> = {};
    for (const [size, n] of [...this.sizes].sort((x, y) => x[0] - y[0])) frameSizes[String(size)] = n;
    return {
      packets: this.packets,
      bytes: this.bytes,
      protocols: { ...this.protocols },
      addresses: { ipv4: ipv4.sort(), ipv6: ipv6.sort(), mac: mac.sort(), special: special.sort() },
      flows,
      frameSizes,
    };
  }
}
