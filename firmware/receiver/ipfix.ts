// IPFIX (RFC 7011) export of flow records, and a decoder to read such files back.
// Each bidirectional FlowRecord becomes one or two unidirectional IPFIX data records
// (a→b, and b→a if the reverse side sent anything) with standard information
// elements only, so that any collector (nfdump, tshark over UDP…) reads them without
// RFC 5103 support. Messages stay under 1400 bytes so each fits one UDP datagram.
import { FlowRecord } from '../channel/records';
import { parseIPv4 } from '../anonymize/ip-text';

export const IPFIX_VERSION = 10;
export const TEMPLATE_SET_ID = 2;
export const TEMPLATE_V4 = 256;
export const TEMPLATE_V6 = 257;
const MAX_MESSAGE_BYTES = 1400;
const NTP_EPOCH_OFFSET = 2208988800;

/** IANA information element ids used here, with their field lengths. */
export const IE = {
  octetDeltaCount: 1, packetDeltaCount: 2, protocolIdentifier: 4, tcpControlBits: 6,
  sourceTransportPort: 7, sourceIPv4Address: 8, destinationTransportPort: 11, destinationIPv4Address: 12,
  sourceIPv6Address: 27, destinationIPv6Address: 28, flowEndReason: 136,
  flowStartMilliseconds: 152, flowEndMilliseconds: 153, flowStartMicroseconds: 154, flowEndMicroseconds: 155,
} as const;

type Field = [id: number, len: number];
function template(v6: boolean): Field[] {
  return [
    [v6 ? IE.sourceIPv6Address : IE.sourceIPv4Address, v6 ? 16 : 4],
    [v6 ? IE.destinationIPv6Address : IE.destinationIPv4Address, v6 ? 16 : 4],
    [IE.sourceTransportPort, 2], [IE.destinationTransportPort, 2], [IE.protocolIdentifier, 1], [IE.tcpControlBits, 2],
    // Milliseconds too: older collectors (nfdump 1.7) ignore the microsecond elements.
    [IE.flowStartMilliseconds, 8], [IE.flowEndMilliseconds, 8], [IE.flowStartMicroseconds, 8], [IE.flowEndMicroseconds, 8],
    [IE.packetDeltaCount, 8], [IE.octetDeltaCount, 8], [IE.flowEndReason, 1],
  ];
}
const FIELDS = { [TEMPLATE_V4]: template(false), [TEMPLATE_V6]: template(true) };
const recordBytes = (t: number): number => FIELDS[t as 256].reduce((n, [, l]) => n + l, 0);
const HEADER_BYTES = 16;
/** What a message may hold besides records: its header, the template set and two data set headers. */
const OVERHEAD_BYTES = HEADER_BYTES + templateSet().length + 2 * 4;

const END_REASON: Record<string, number> = { idle: 1, active: 2, end: 3, runEnd: 4, evicted: 5 };

/** Builds IPFIX messages: feed flows, collect finished messages. */
export class IpfixEncoder {
  private seq = 0;
  private messages = 0;
  private pending: Array<{ t: number; rec: Buffer }> = [];
  private pendingBytes = 0;
  records = 0;
  /** Flows IPFIX cannot carry (addresses that do not parse, times before 1970 or counts out of range): not exported. */
  skipped = 0;

  /** templateEvery: resend templates every N messages (UDP collectors may start late); 0 = only in the first. */
  constructor(private readonly domain = 1, private readonly templateEvery = 0) {}

  /** Adds a flow; returns the messages that became full. */
  add(f: FlowRecord): Buffer[] {
    const out: Buffer[] = [];
    const t = f.ipVersion === 6 ? TEMPLATE_V6 : TEMPLATE_V4;
    const fwd = encodeDirection(t, f.srcAddr, f.dstAddr, f.srcPort, f.dstPort, f, f.packets, f.bytes, f.tcpFlags);
    const rev = f.revPackets > 0 ? encodeDirection(t, f.dstAddr, f.srcAddr, f.dstPort, f.srcPort, f, f.revPackets, f.revBytes, f.revTcpFlags) : null;
    if (!fwd || (f.revPackets > 0 && !rev)) {
      this.skipped++;
      return out;
    }
    for (const rec of rev ? [fwd, rev] : [fwd]) {
      if (this.pendingBytes + rec.length + OVERHEAD_BYTES > MAX_MESSAGE_BYTES) out.push(...this.flush());
      this.pending.push({ t, rec });
      this.pendingBytes += rec.length;
    }
    return out;
  }

  /** The pending records as one message (or none). */
  flush(exportTime = Math.floor(Date.now() / 1000)): Buffer[] {
    if (this.pending.length === 0) return [];
    const parts: Buffer[] = [];
    if (this.messages === 0 || (this.templateEvery > 0 && this.messages % this.templateEvery === 0)) parts.push(templateSet());
    for (const t of [TEMPLATE_V4, TEMPLATE_V6]) {
      const recs = this.pending.filter((p) => p.t === t).map((p) => p.rec);
      if (recs.length > 0) parts.push(set(t, Buffer.concat(recs)));
    }
    const msg = message(exportTime, this.seq, this.domain, parts);
    this.seq += this.pending.length;
    this.records += this.pending.length;
    this.messages++;
    this.pending = [];
    this.pendingBytes = 0;
    return [msg];
  }
}

function message(exportTime: number, seq: number, domain: number, sets: Buffer[]): Buffer {
  const body = Buffer.concat(sets);
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt16BE(IPFIX_VERSION, 0);
  h.writeUInt16BE(HEADER_BYTES + body.length, 2);
  h.writeUInt32BE(exportTime >>> 0, 4);
  h.writeUInt32BE(seq >>> 0, 8);
  h.writeUInt32BE(domain, 12);
  return Buffer.concat([h, body]);
}

/** What a message built here carries: its data records, and whether the template set is in it. */
export function messageContents(msg: Buffer): { records: number; templates: boolean } {
  let records = 0;
  let templates = false;
  for (let p = HEADER_BYTES; p + 4 <= msg.length; p += msg.readUInt16BE(p + 2)) {
    const id = msg.readUInt16BE(p);
    if (id === TEMPLATE_SET_ID) templates = true;
    else records += (msg.readUInt16BE(p + 2) - 4) / recordBytes(id);
  }
  return { records, templates };
}

/**
 * The template set alone in a message with `msg`'s export time, sequence number (data
 * records sent before it; this one adds none) and domain: sent just before `msg` to a
 * collector that is due the templates again.
 */
export function templatesBefore(msg: Buffer): Buffer {
  return message(msg.readUInt32BE(4), msg.readUInt32BE(8), msg.readUInt32BE(12), [templateSet()]);
}

function set(id: number, content: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(4 + content.length, 2);
  return Buffer.concat([h, content]);
}

function templateSet(): Buffer {
  const parts: Buffer[] = [];
  for (const t of [TEMPLATE_V4, TEMPLATE_V6]) {
    const fields = FIELDS[t as 256];
    const b = Buffer.alloc(4 + 4 * fields.length);
    b.writeUInt16BE(t, 0);
    b.writeUInt16BE(fields.length, 2);
    fields.forEach(([id, len], i) => {
      b.writeUInt16BE(id, 4 + 4 * i);
      b.writeUInt16BE(len, 6 + 4 * i);
    });
    parts.push(b);
  }
  return set(TEMPLATE_SET_ID, Buffer.concat(parts));
}

function encodeDirection(t: number, src: string, dst: string, sport: number, dport: number, f: FlowRecord, packets: number, bytes: number, flags: number): Buffer | null {
  // A record is whatever arrived on the line: anything the fields cannot hold is skipped
  // (and counted by the caller) rather than thrown at the writer. Times before 1970 come
  // from old traces shifted by the run's secret origin; IPFIX times are unsigned.
  if (!isUnsigned(f.firstUs) || !isUnsigned(f.lastUs) || !isUnsigned(packets) || !isUnsigned(bytes)) return null;
  // Byte stores into one new record, no Buffer per field and no BigInt: this runs twice
  // per flow, a thousand times in a short run, mostly before V8 optimizes it (1,024 flows
  // took 28-43 ms with a Buffer per address and time and BigInt writes).
  const b = Buffer.allocUnsafe(recordBytes(t));
  const n = t === TEMPLATE_V6 ? 16 : 4;
  if (!writeAddr(src, n, b, 0) || !writeAddr(dst, n, b, n)) return null;
  let o = 2 * n;
  o = put16(b, o, sport & 0xffff);
  o = put16(b, o, dport & 0xffff);
  b[o++] = f.protocol & 0xff;
  o = put16(b, o, flags & 0xffff);
  o = put64(b, o, Math.floor(f.firstUs / 1000));
  o = put64(b, o, Math.floor(f.lastUs / 1000));
  o = putNtpMicros(b, o, f.firstUs);
  o = putNtpMicros(b, o, f.lastUs);
  o = put64(b, o, packets);
  o = put64(b, o, bytes);
  b[o] = END_REASON[f.endReason] ?? 0;
  return b;
}

function put16(b: Buffer, o: number, v: number): number {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
  return o + 2;
}

function put32(b: Buffer, o: number, v: number): number {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
  return o + 4;
}

/** An unsigned 64-bit big-endian field of a safe integer (below 2^53: both halves exact as doubles). */
function put64(b: Buffer, o: number, v: number): number {
  put32(b, o, Math.floor(v / 0x1_0000_0000) >>> 0);
  return put32(b, o + 4, v >>> 0);
}

function isUnsigned(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * dateTimeMicroseconds: NTP format, seconds since 1900 (mod 2^32) and a 32-bit binary
 * fraction, floor(µs × 2^32 / 10^6). The product is below 2^53 and exact; the quotient
 * of an integer by 10^6 is never within half an ulp of an integer it is not, so the
 * floor is exact too.
 */
function putNtpMicros(b: Buffer, o: number, us: number): number {
  const whole = Math.floor(us / 1e6) + NTP_EPOCH_OFFSET;
  put32(b, o, whole % 0x1_0000_0000);
  return put32(b, o + 4, Math.floor(((us % 1e6) * 0x1_0000_0000) / 1e6));
}

/** Writes the address text s (IPv4 when n is 4, IPv6 when 16) at b[o]; false when it does not parse. */
function writeAddr(s: string, n: number, b: Buffer, o: number): boolean {
  if (n === 16) {
    const a = parseAddr(s, true);
    if (!a) return false;
    a.copy(b, o);
    return true;
  }
  // Dotted quad, leading zeros allowed.
  const v = parseIPv4(s, true);
  if (v < 0) return false;
  put32(b, o, v);
  return true;
}

export function parseAddr(s: string, v6: boolean): Buffer | null {
  if (!v6) {
    const v = parseIPv4(s, true);
    if (v < 0) return null;
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v, 0);
    return b;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}
