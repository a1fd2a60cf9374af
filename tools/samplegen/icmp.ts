/** ICMPv4 messages (RFC 792): echo request/reply and destination unreachable. */
import { finishChecksum, sumWords } from './checksum';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const UNREACHABLE_PORT = 3;

function icmpMessage(type: number, code: number, rest: number, body: Buffer): Buffer {
  const m = Buffer.alloc(8 + body.length);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(rest >>> 0, 4);
  body.copy(m, 8);
  m.writeUInt16BE(finishChecksum(sumWords(m)), 2);
  return m;
}

export function icmpEcho(request: boolean, id: number, seq: number, data: Buffer): Buffer {
  return icmpMessage(request ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY, 0, ((id & 0xffff) << 16) | (seq & 0xffff), data);
}

/**
 * Destination unreachable quoting the offending IP packet. RFC 1812 §4.3.2.3 lets a router
 * quote as much as fits in 576 bytes; Linux quotes the whole packet up to that, so do we.
 */
export function icmpUnreachable(code: number, offending: Buffer): Buffer {
  return icmpMessage(ICMP_UNREACHABLE, code, 0, offending.subarray(0, 576 - 20 - 8));
}
