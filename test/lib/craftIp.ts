// IP-level layers of the test packet builder: IPv4 (options, fragments), IPv6 with
// extension headers, TCP (options), UDP, ICMP, ICMPv6, GRE, ERSPAN type II.
import { CraftLayer, inetChecksum, parseAddr, pseudoHeader } from './craftBytes';

export interface Ipv4Options {
  src: string;
  dst: string;
  proto?: number;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  /** IP options, padded with zeros (end of options) to a multiple of 4. */
  options?: Buffer;
  totalLength?: number;
  ihl?: number;
  version?: number;
}

export function ipv4(o: Ipv4Options): CraftLayer {
  const src = parseAddr(o.src);
  const dst = parseAddr(o.dst);
  return {
    name: 'ipv4',
    ethertype: 0x0800,
    ipProto: 4,
    family: 2,
    ip: { version: 4, src, dst },
    encode(inner, ctx) {
      const opts = o.options ?? Buffer.alloc(0);
      const optLen = Math.ceil(opts.length / 4) * 4;
      const h = Buffer.alloc(20 + optLen);
      h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? (20 + optLen) / 4);
      h[1] = o.tos ?? 0;
      h.writeUInt16BE(o.totalLength ?? h.length + inner.length, 2);
      h.writeUInt16BE(o.id ?? 0x1234, 4);
      h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8), 6);
      h[8] = o.ttl ?? 64;
      h[9] = o.proto ?? ctx.next?.ipProto ?? 253;
      src.copy(h, 12);
      dst.copy(h, 16);
      opts.copy(h, 20);
      h.writeUInt16BE(inetChecksum(h), 10);
      return Buffer.concat([h, inner]);
    },
  };
}

export type Ipv6Ext =
  | { type: 'hop' | 'dst' | 'routing'; len?: number }
  | { type: 'frag'; offset?: number; more?: boolean; id?: number }
  | { type: 'ah'; spi?: number };

const extProto = { hop: 0, routing: 43, frag: 44, dst: 60, ah: 51 } as const;

function encodeExt(e: Ipv6Ext, next: number): Buffer {
  if (e.type === 'frag') {
    const b = Buffer.alloc(8);
    b[0] = next;
    b.writeUInt16BE((e.offset ?? 0) | (e.more ? 1 : 0), 2);
    b.writeUInt32BE(e.id ?? 0xabcd, 4);
    return b;
  }
  if (e.type === 'ah') {
    const b = Buffer.alloc(24); // 12 fixed + 12 bytes of ICV
    b[0] = next;
    b[1] = 24 / 4 - 2;
    b.writeUInt32BE(e.spi ?? 0x100, 4);
    return b;
  }
  const units = e.len ?? 0; // length in 8-byte units, not counting the first 8
  const b = Buffer.alloc((units + 1) * 8);
  b[0] = next;
  b[1] = units;
  if (e.type === 'routing') b[2] = 4; // segment routing type, 0 segments left
  else b[2] = 1; // PadN option covering the rest
  if (e.type !== 'routing') b[3] = b.length - 4;
  return b;
}

export function ipv6(o: { src: string; dst: string; next?: number; hopLimit?: number; ext?: Ipv6Ext[]; payloadLength?: number; version?: number }): CraftLayer {
  const src = parseAddr(o.src);
  const dst = parseAddr(o.dst);
  const ext = o.ext ?? [];
  return {
    name: 'ipv6',
    ethertype: 0x86dd,
    ipProto: 41,
    family: 30,
    ip: { version: 6, src, dst },
    encode(inner, ctx) {
      const upper = o.next ?? ctx.next?.ipProto ?? 59;
      const exts: Buffer[] = [];
      for (let i = ext.length - 1; i >= 0; i--) {
        const next = i === ext.length - 1 ? upper : extProto[ext[i + 1].type];
        exts.unshift(encodeExt(ext[i], next));
      }
      const body = Buffer.concat([...exts, inner]);
      const h = Buffer.alloc(40);
      h.writeUInt32BE(((o.version ?? 6) << 28) >>> 0, 0);
      h.writeUInt16BE(o.payloadLength ?? body.length, 4);
      h[6] = ext.length ? extProto[ext[0].type] : upper;
      h[7] = o.hopLimit ?? 64;
      src.copy(h, 8);
      dst.copy(h, 24);
      return Buffer.concat([h, body]);
    },
  };
}

const tcpFlagBits: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };

export function tcpFlags(s: string): number {
  let f = 0;
  for (const c of s) f |= tcpFlagBits[c] ?? 0;
  return f;
}

export function tcp(o: { sport: number; dport: number; seq?: number; ack?: number; flags?: string | number; window?: number; options?: Buffer; dataOffset?: number }): CraftLayer {
  return {
    name: 'tcp',
    ipProto: 6,
    encode(inner, ctx) {
      const opts = o.options ?? Buffer.alloc(0);
      const optLen = Math.ceil(opts.length / 4) * 4;
      const h = Buffer.alloc(20 + optLen);
      h.writeUInt16BE(o.sport, 0);
      h.writeUInt16BE(o.dport, 2);
      h.writeUInt32BE((o.seq ?? 1000) >>> 0, 4);
      h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
      h[12] = (o.dataOffset ?? (20 + optLen) / 4) << 4;
      h[13] = typeof o.flags === 'number' ? o.flags : tcpFlags(o.flags ?? 'A');
      h.writeUInt16BE(o.window ?? 65535, 14);
      opts.copy(h, 20);
      const seg = Buffer.concat([h, inner]);
      seg.writeUInt16BE(inetChecksum(pseudoHeader(ctx, 6, seg.length), seg), 16);
      return seg;
    },
  };
}

export function udp(o: { sport: number; dport: number; length?: number }): CraftLayer {
  return {
    name: 'udp',
    ipProto: 17,
    encode(inner, ctx) {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(o.sport, 0);
      h.writeUInt16BE(o.dport, 2);
      h.writeUInt16BE(o.length ?? 8 + inner.length, 4);
      const seg = Buffer.concat([h, inner]);
      const sum = inetChecksum(pseudoHeader(ctx, 17, seg.length), seg);
      seg.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
      return seg;
    },
  };
}

/** ICMP: type, code, and the 4 type-specific bytes (id/seq for echo, unused for errors). */
export function icmp(o: { type: number; code?: number; id?: number; seq?: number }): CraftLayer {
  return {
    name: 'icmp',
    ipProto: 1,
    encode(inner) {
      const h = Buffer.alloc(8);
      h[0] = o.type;
      h[1] = o.code ?? 0;
      h.writeUInt16BE(o.id ?? 0, 4);
      h.writeUInt16BE(o.seq ?? 0, 6);
      const m = Buffer.concat([h, inner]);
      m.writeUInt16BE(inetChecksum(m), 2);
      return m;
    },
  };
}

/** ICMPv6: type, code, then `body` (what follows the checksum; default 4 zero bytes). */
export function icmpv6(o: { type: number; code?: number; body?: Buffer }): CraftLayer {
  return {
    name: 'icmpv6',
    ipProto: 58,
    encode(inner, ctx) {
      const h = Buffer.alloc(4);
      h[0] = o.type;
      h[1] = o.code ?? 0;
      const m = Buffer.concat([h, o.body ?? Buffer.alloc(4), inner]);
      m.writeUInt16BE(inetChecksum(pseudoHeader(ctx, 58, m.length), m), 2);
      return m;
    },
  };
}

export function gre(o: { key?: number; seq?: number; checksum?: boolean; protocol?: number; flags?: number } = {}): CraftLayer {
  return {
    name: 'gre',
    ipProto: 47,
    encode(inner, ctx) {
      const parts: Buffer[] = [];
      let flags = o.flags ?? 0;
      const h = Buffer.alloc(4);
      parts.push(h);
      const csum = Buffer.alloc(4);
      if (o.checksum) { flags |= 0x8000; parts.push(csum); }
      if (o.key !== undefined) { flags |= 0x2000; const b = Buffer.alloc(4); b.writeUInt32BE(o.key >>> 0); parts.push(b); }
      if (o.seq !== undefined) { flags |= 0x1000; const b = Buffer.alloc(4); b.writeUInt32BE(o.seq >>> 0); parts.push(b); }
      h.writeUInt16BE(flags, 0);
      h.writeUInt16BE(o.protocol ?? ctx.next?.ethertype ?? 0, 2);
      const m = Buffer.concat([...parts, inner]);
      if (o.checksum) m.writeUInt16BE(inetChecksum(m), 4);
      return m;
    },
  };
}

export function erspan2(o: { session: number; vlan?: number }): CraftLayer {
  return {
    name: 'erspan',
    ethertype: 0x88be,
    encode(inner) {
      const h = Buffer.alloc(8);
      h.writeUInt16BE((1 << 12) | (o.vlan ?? 0), 0);
      h.writeUInt16BE(o.session & 0x3ff, 2);
      return Buffer.concat([h, inner]);
    },
  };
}

/** VXLAN header (put it after udp({ dport: 4789 })); Ethernet follows. */
export function vxlan(o: { vni: number; flags?: number }): CraftLayer {
  return {
    name: 'vxlan',
    encode(inner) {
      const h = Buffer.alloc(8);
      h[0] = o.flags ?? 0x08;
      h.writeUInt32BE((o.vni << 8) >>> 0, 4);
      return Buffer.concat([h, inner]);
    },
  };
}

/** Geneve header (put it after udp({ dport: 6081 })) with `options` bytes (multiple of 4). */
export function geneve(o: { vni: number; options?: Buffer }): CraftLayer {
  return {
    name: 'geneve',
    encode(inner, ctx) {
      const opts = o.options ?? Buffer.alloc(0);
      const h = Buffer.alloc(8);
      h[0] = opts.length / 4;
      h.writeUInt16BE(ctx.next?.ethertype ?? 0x6558, 2);
      h.writeUInt32BE((o.vni << 8) >>> 0, 4);
      return Buffer.concat([h, opts, inner]);
    },
  };
}
