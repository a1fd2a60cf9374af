/** IPv6 packets (RFC 8200) without extension headers. */

export interface Ipv6Fields {
  src: Buffer;
  dst: Buffer;
  nextHeader: number;
  hopLimit?: number;
  flowLabel?: number;
  trafficClass?: number;
}

export function ipv6Packet(f: Ipv6Fields, payload: Buffer): Buffer {
  const p = Buffer.alloc(40 + payload.length);
  const tc = f.trafficClass ?? 0;
  p.writeUInt32BE(((6 << 28) | (tc << 20) | ((f.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  p.writeUInt16BE(payload.length, 4);
  p[6] = f.nextHeader;
  p[7] = f.hopLimit ?? 64;
  f.src.copy(p, 8);
  f.dst.copy(p, 24);
  payload.copy(p, 40);
  return p;
}
