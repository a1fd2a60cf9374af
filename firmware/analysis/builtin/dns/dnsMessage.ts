// The DNS message header and first question (RFC 1035 section 4.1), read from a
// captured packet without copying. The name may use compression pointers: each pointer
// must point strictly before the previous one, so a crafted loop or self-reference ends
// in a refusal, never a hang; every read is bounded by the message end.

/** Labels kept per name: a 255-byte name has at most 127 labels. */
export const MAX_LABELS = 127;
const MAX_NAME_LEN = 255;

/** Why a message was refused (index into DnsParse counters kept by the tracker). */
export const DnsRefusal = {
  none: 0,
  shortHeader: 1,
  noQuestion: 2,
  truncatedName: 3,
  badLabelType: 4,
  badPointer: 5,
  nameTooLong: 6,
  truncatedQuestion: 7,
} as const;

export const dnsRefusalNames = ['none', 'shortHeader', 'noQuestion', 'truncatedName', 'badLabelType', 'badPointer', 'nameTooLong', 'truncatedQuestion'] as const;

/** One parsed message; reused for every packet. Label offsets point into the packet. */
export class DnsParse {
  id = 0;
  response = false;
  opcode = 0;
  rcode = 0;
  qdcount = 0;
  ancount = 0;
  qtype = 0;
  qclass = 0;
  labelCount = 0;
  readonly labelOff = new Int32Array(MAX_LABELS);
  readonly labelLen = new Uint8Array(MAX_LABELS);

  /** Copies of the question's labels, ASCII letters lowercased (names are case-blind, and resolvers randomize case). */
  copyLabels(buf: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < this.labelCount; i++) {
      const l = Buffer.allocUnsafe(this.labelLen[i]);
      const off = this.labelOff[i];
      for (let j = 0; j < l.length; j++) {
        const c = buf[off + j];
        l[j] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      }
      out.push(l);
    }
    return out;
  }
}

/**
 * Parses the header and first question of the message at buf[start, end).
 * Returns DnsRefusal.none or the reason it was refused.
 */
export function parseDnsMessage(buf: Buffer, start: number, end: number, out: DnsParse): number {
  if (start < 0 || end > buf.length || start + 12 > end) return DnsRefusal.shortHeader;
  out.id = buf.readUInt16BE(start);
  const flags = buf.readUInt16BE(start + 2);
  out.response = (flags & 0x8000) !== 0;
  out.opcode = (flags >> 11) & 15;
  out.rcode = flags & 15;
  out.qdcount = buf.readUInt16BE(start + 4);
  out.ancount = buf.readUInt16BE(start + 6);
  out.labelCount = 0;
  if (out.qdcount === 0) return DnsRefusal.noQuestion;
  const after = parseName(buf, start + 12, start, end, out);
  if (after < 0) return -after;
  if (after + 4 > end) return DnsRefusal.truncatedQuestion;
  out.qtype = buf.readUInt16BE(after);
  out.qclass = buf.readUInt16BE(after + 2);
  return DnsRefusal.none;
}

/** Reads a name at `pos`; returns the offset after it in place, or -(refusal). */
function parseName(buf: Buffer, pos: number, msgStart: number, msgEnd: number, out: DnsParse): number {
  let after = -1;
  let ptrLimit = pos;
  let nameLen = 1;
  for (;;) {
    if (pos >= msgEnd) return -DnsRefusal.truncatedName;
    const len = buf[pos];
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msgEnd) return -DnsRefusal.truncatedName;
      const target = msgStart + (((len & 0x3f) << 8) | buf[pos + 1]);
      // Strictly backwards, and before every earlier jump: loops cannot exist.
      if (target >= ptrLimit || target >= pos) return -DnsRefusal.badPointer;
      if (after < 0) after = pos + 2;
      ptrLimit = target;
      pos = target;
      continue;
    }
    if (len & 0xc0) return -DnsRefusal.badLabelType; // 0x40/0x80: extended and reserved label types
    if (len === 0) return after < 0 ? pos + 1 : after;
    if (pos + 1 + len > msgEnd) return -DnsRefusal.truncatedName;
    nameLen += len + 1;
    if (nameLen > MAX_NAME_LEN || out.labelCount >= MAX_LABELS) return -DnsRefusal.nameTooLong;
    out.labelOff[out.labelCount] = pos + 1;
    out.labelLen[out.labelCount] = len;
    out.labelCount++;
    pos += 1 + len;
  }
}
