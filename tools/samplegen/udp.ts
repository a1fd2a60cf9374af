/** UDP datagrams (RFC 768) with the checksum over the IPv4 or IPv6 pseudo-header. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import { PROTO_UDP } from './ipv4';

export function udpDatagram(srcPort: number, dstPort: number, src: Buffer, dst: Buffer, payload: Buffer): Buffer {
  const d = Buffer.alloc(8 + payload.length);
  d.writeUInt16BE(srcPort, 0);
  d.writeUInt16BE(dstPort, 2);
  d.writeUInt16BE(d.length, 4);
  payload.copy(d, 8);
  // A computed 0 is sent as 0xffff: 0 means "no checksum" (RFC 768), and is forbidden over IPv6.
  const c = finishChecksum(pseudoHeaderSum(src, dst, PROTO_UDP, d.length) + sumWords(d));
  d.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return d;
}
