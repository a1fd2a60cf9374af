/** TCP segments (RFC 9293) with the checksum over the IPv4 or IPv6 pseudo-header. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import { PROTO_TCP } from './ipv4';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Raw option bytes; padded to a multiple of 4 with end-of-option-list zeros. */
  options?: Buffer;
}

/** Options of a typical Linux SYN: MSS, SACK permitted, NOP, window scale. */
export function synOptions(mss: number, windowScale: number): Buffer {
  return Buffer.from([2, 4, mss >> 8, mss & 0xff, 4, 2, 1, 3, 3, windowScale, 1, 1]);
}

export function tcpSegment(f: TcpFields, src: Buffer, dst: Buffer, payload: Buffer): Buffer {
  const opts = f.options ?? Buffer.alloc(0);
  const optLen = (opts.length + 3) & ~3;
  const hlen = 20 + optLen;
  const s = Buffer.alloc(hlen + payload.length);
  s.writeUInt16BE(f.srcPort, 0);
  s.writeUInt16BE(f.dstPort, 2);
  s.writeUInt32BE(f.seq >>> 0, 4);
  s.writeUInt32BE(f.ack >>> 0, 8);
  s[12] = (hlen / 4) << 4;
  s[13] = f.flags;
  s.writeUInt16BE(f.window, 14);
  opts.copy(s, 20);
  payload.copy(s, hlen);
  const sum = pseudoHeaderSum(src, dst, PROTO_TCP, s.length) + sumWords(s);
  s.writeUInt16BE(finishChecksum(sum), 16);
  return s;
}
