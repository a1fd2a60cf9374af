// Builds test packets layer by layer with correct lengths and checksums:
//   build(eth(), vlan({ vid: 10 }), ipv4({ src, dst }), tcp({ sport, dport, flags: 'S' }), raw('hi'))
// Layers are encoded from the innermost outwards: each header learns the type of the
// layer after it (ethertype, IP protocol) and TCP/UDP/ICMPv6 take their pseudo-header
// from the nearest IP layer before them. Options let a test override any computed
// field to craft a malformed packet.
import * as fs from 'node:fs';

import { CraftLayer, ip4, mac } from './craftBytes';

export * from './craftBytes';
// ---- link layers ----

export function eth(o: { src?: string; dst?: string; type?: number } = {}): CraftLayer {
  return {
    name: 'eth',
    ethertype: 0x6558,
    encode(inner, ctx) {
      const h = Buffer.alloc(14);
      mac(o.dst ?? '02:00:00:00:00:02').copy(h, 0);
      mac(o.src ?? '02:00:00:00:00:01').copy(h, 6);
      h.writeUInt16BE(o.type ?? ctx.next?.ethertype ?? 0x88b5, 12);
      return Buffer.concat([h, inner]);
    },
  };
}

/** An 802.1Q tag; tpid 0x88a8 makes an 802.1ad (QinQ) service tag. */
export function vlan(o: { vid: number; pcp?: number; tpid?: number; type?: number }): CraftLayer {
  return {
    name: 'vlan',
    ethertype: o.tpid ?? 0x8100,
    encode(inner, ctx) {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(((o.pcp ?? 0) << 13) | (o.vid & 0xfff), 0);
      h.writeUInt16BE(o.type ?? ctx.next?.ethertype ?? 0x88b5, 2);
      return Buffer.concat([h, inner]);
    },
  };
}

export function sll(o: { pktType?: number; hatype?: number; protocol?: number } = {}): CraftLayer {
  return {
    name: 'sll',
    encode(inner, ctx) {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(o.pktType ?? 0, 0);
      h.writeUInt16BE(o.hatype ?? 1, 2);
      h.writeUInt16BE(6, 4);
      mac('02:00:00:00:00:01').copy(h, 6);
      h.writeUInt16BE(o.protocol ?? ctx.next?.ethertype ?? 0, 14);
      return Buffer.concat([h, inner]);
    },
  };
}

export function sll2(o: { ifindex?: number; protocol?: number } = {}): CraftLayer {
  return {
    name: 'sll2',
    encode(inner, ctx) {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(o.protocol ?? ctx.next?.ethertype ?? 0, 0);
      h.writeUInt32BE(o.ifindex ?? 2, 4);
      h.writeUInt16BE(1, 8);
      h[11] = 6;
      mac('02:00:00:00:00:01').copy(h, 12);
      return Buffer.concat([h, inner]);
    },
  };
}

/** NULL/LOOP header: the address family as 4 bytes in the given byte order. */
export function loopback(o: { bigEndian: boolean; family?: number }): CraftLayer {
  return {
    name: 'loopback',
    encode(inner, ctx) {
      const h = Buffer.alloc(4);
      const family = o.family ?? ctx.next?.family ?? 0;
      if (o.bigEndian) h.writeUInt32BE(family, 0);
      else h.writeUInt32LE(family, 0);
      return Buffer.concat([h, inner]);
    },
  };
}

export function mpls(o: { label: number; ttl?: number }): CraftLayer {
  return {
    name: 'mpls',
    ethertype: 0x8847,
    encode(inner, ctx) {
      const h = Buffer.alloc(4);
      const bottom = ctx.next?.name === 'mpls' ? 0 : 1;
      h.writeUInt32BE(((o.label << 12) | (bottom << 8) | (o.ttl ?? 64)) >>> 0, 0);
      return Buffer.concat([h, inner]);
    },
  };
}

export function pppoe(o: { session: number }): CraftLayer {
  return {
    name: 'pppoe',
    ethertype: 0x8864,
    encode(inner, ctx) {
      const h = Buffer.alloc(8);
      h[0] = 0x11;
      h.writeUInt16BE(o.session, 2);
      h.writeUInt16BE(inner.length + 2, 4);
      h.writeUInt16BE(ctx.next?.ip?.version === 6 ? 0x0057 : 0x0021, 6);
      return Buffer.concat([h, inner]);
    },
  };
}

export function arp(o: { op: number; sha: string; spa: string; tha: string; tpa: string }): CraftLayer {
  return {
    name: 'arp',
    ethertype: 0x0806,
    encode(inner) {
      const h = Buffer.alloc(28);
      h.writeUInt16BE(1, 0);
      h.writeUInt16BE(0x0800, 2);
      h[4] = 6;
      h[5] = 4;
      h.writeUInt16BE(o.op, 6);
      mac(o.sha).copy(h, 8);
      ip4(o.spa).copy(h, 14);
      mac(o.tha).copy(h, 18);
      ip4(o.tpa).copy(h, 24);
      return Buffer.concat([h, inner]);
    },
  };
}

export function raw(data: Buffer | string): CraftLayer {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { name: 'raw', encode: (inner) => Buffer.concat([b, inner]) };
}

export * from './craftIp';
export * from './craftDns';

/** Writes a classic pcap file (microsecond timestamps, little-endian). */
export function writePcap(path: string, linkType: number, packets: { tsUs: number; data: Buffer; origLen?: number }[]): void {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(linkType, 20);
  parts.push(gh);
  for (const p of packets) {
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(Math.floor(p.tsUs / 1e6), 0);
    rh.writeUInt32LE(p.tsUs % 1e6, 4);
    rh.writeUInt32LE(p.data.length, 8);
    rh.writeUInt32LE(p.origLen ?? p.data.length, 12);
    parts.push(rh, p.data);
  }
  fs.writeFileSync(path, Buffer.concat(parts));
}

