/** IPv4 packets (RFC 791) without options. */
import { finishChecksum, sumWords } from './checksum';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export interface Ipv4Fields {
  src: Buffer;
  dst: Buffer;
  protocol: number;
  id: number;
  ttl?: number;
  dontFragment?: boolean;
  tos?: number;
}

export function ipv4Packet(f: Ipv4Fields, payload: Buffer): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p[1] = f.tos ?? 0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(f.id & 0xffff, 4);
  p.writeUInt16BE(f.dontFragment ? 0x4000 : 0, 6);
  p[8] = f.ttl ?? 64;
  p[9] = f.protocol;
  f.src.copy(p, 12);
  f.dst.copy(p, 16);
  p.writeUInt16BE(finishChecksum(sumWords(p, 0, 20)), 10);
  payload.copy(p, 20);
  return p;
}
