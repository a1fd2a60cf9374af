// Compact binary bodies for FLOW and DNS records, the bulk of what the line carries.
//
// The line is the box's bottleneck (92 KB/s at 921600 baud): a flow as JSON is about
// 280 bytes, in this form about 50, and it packs in a fraction of the time
// JSON.stringify takes. The first byte tells the two apart: a JSON body starts with "{"
// (0x7b), a binary one with its format byte below. A record this form cannot hold
// exactly (a key it does not know, keys in another order, a field out of range, a
// fraction, an end reason it has no code for) is sent as JSON instead, so the receiver
// writes every record exactly as the module emitted it.
//
//   FLOW (0xf1): u8 ipVersion, u8 protocol, u8 endReason code, u8 tcpFlags,
//                u8 revTcpFlags, u16 srcPort, u16 dstPort (big-endian),
//                varint firstUs, varint lastUs - firstUs, varint packets, bytes,
//                revPackets, revBytes, text srcAddr, text dstAddr [, text level]
//   DNS  (0xd1): u8 presence bits (1 rcode, 2 answers, 4 latencyUs, 8 level),
//                u16 qtype, varint tsUs [, varint rcode] [, varint answers]
//                [, varint latencyUs], text qname [, text level]
//   varint: unsigned LEB128 of an integer up to 2^53 - 1
//   text:   varint byte length, then that many bytes of printable ASCII (0x20..0x7e)
// docs/channel.md has the same layout. Changing it is a new format byte: receivers
// count a body they cannot decode as bad, they never guess.
import { DnsRecord, FlowRecord, RecordType } from './records';

export const FLOW_FORMAT = 0xf1;
export const DNS_FORMAT = 0xd1;

/** End reasons by code; a reason not listed makes the flow go out as JSON. */
const END_REASONS = ['idle', 'active', 'end', 'evicted', 'runEnd'] as const;
const END_CODE: Record<string, number> = Object.fromEntries(END_REASONS.map((r, i) => [r, i]));

/**
 * The keys of a flow and of a DNS record in the order the built-in analyses make them
 * (records.ts), level last when present. Decoding rebuilds this order, so a record
 * whose keys come in another order goes as JSON: flows.jsonl keeps the module's order.
 */
const FLOW_KEYS = ['ipVersion', 'protocol', 'srcAddr', 'dstAddr', 'srcPort', 'dstPort', 'firstUs', 'lastUs', 'packets', 'bytes', 'revPackets', 'revBytes', 'tcpFlags', 'revTcpFlags', 'endReason', 'level'];
const DNS_KEYS = ['tsUs', 'qname', 'qtype', 'rcode', 'answers', 'latencyUs', 'level'];
const DNS_RCODE = 1;
const DNS_ANSWERS = 2;
const DNS_LATENCY = 4;
const DNS_LEVEL = 8;

/** Longest text field this form carries (a DNS name of hashed labels fits easily). */
const MAX_TEXT = 1024;

/**
 * One reused scratch buffer: larger than any body this form makes (fixed fields,
 * six varints of at most 8 bytes, three texts of at most MAX_TEXT + 2).
 */
const scratch = Buffer.allocUnsafe(64 + 3 * (MAX_TEXT + 2));

function isU(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_TEXT;
}

/**
 * True when the record's own keys are exactly `order` (the last, level, only when
 * present), in that order: an extra key would be lost and another order changed.
 * Object.keys, not for-in: JSON.stringify too carries only own keys, in this order.
 */
function keysAre(o: object, order: string[], withLevel: boolean): boolean {
  const keys = Object.keys(o);
  if (keys.length !== order.length - (withLevel ? 0 : 1)) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== order[i]) return false;
  return true;
}

function putVarint(b: Buffer, o: number, v: number): number {
  // Bit operations are exact below 2^31; above, division keeps all 53 bits.
  while (v >= 0x80000000) {
    b[o++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  while (v >= 0x80) {
    b[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[o++] = v;
  return o;
}

/**
 * Writes a text field; -1 if a character is not printable ASCII (the record then goes
 * out as JSON). A plain loop: cheaper for short strings than Buffer.write's call.
 */
function putText(b: Buffer, o: number, s: string): number {
  o = putVarint(b, o, s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return -1;
    b[o++] = c;
  }
  return o;
}

/** A copy of scratch[0..n): the outbox keeps each record, and scratch is reused. */
function takeScratch(n: number): Buffer | null {
  if (n < 0) return null;
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = scratch[i];
  return out;
}

/** The binary body of a flow, or null when this form cannot carry it exactly (send JSON). */
export function encodeFlow(r: FlowRecord): Buffer | null {
  const end = END_CODE[r.endReason];
  if (end === undefined) return null;
  if ((r.ipVersion !== 4 && r.ipVersion !== 6) || !isU(r.protocol, 255)) return null;
  if (!isU(r.tcpFlags, 255) || !isU(r.revTcpFlags, 255) || !isU(r.srcPort, 0xffff) || !isU(r.dstPort, 0xffff)) return null;
  const max = Number.MAX_SAFE_INTEGER;
  if (!isU(r.firstUs, max) || !isU(r.lastUs, max) || r.lastUs < r.firstUs) return null;
  if (!isU(r.packets, max) || !isU(r.bytes, max) || !isU(r.revPackets, max) || !isU(r.revBytes, max)) return null;
  if (!isText(r.srcAddr) || !isText(r.dstAddr)) return null;
  if (r.level !== undefined && !isText(r.level)) return null;
  if (!keysAre(r, FLOW_KEYS, r.level !== undefined)) return null;
  const b = scratch;
  b[0] = FLOW_FORMAT;
  b[1] = r.ipVersion;
  b[2] = r.protocol;
  b[3] = end;
  b[4] = r.tcpFlags;
  b[5] = r.revTcpFlags;
  b[6] = r.srcPort >>> 8;
  b[7] = r.srcPort & 0xff;
  b[8] = r.dstPort >>> 8;
  b[9] = r.dstPort & 0xff;
  let o = putVarint(b, 10, r.firstUs);
  o = putVarint(b, o, r.lastUs - r.firstUs);
  o = putVarint(b, o, r.packets);
  o = putVarint(b, o, r.bytes);
  o = putVarint(b, o, r.revPackets);
  o = putVarint(b, o, r.revBytes);
  o = putText(b, o, r.srcAddr);
  if (o >= 0) o = putText(b, o, r.dstAddr);
  if (o >= 0 && r.level !== undefined) o = putText(b, o, r.level);
  return takeScratch(o);
}

/** The binary body of a DNS record, or null when this form cannot carry it exactly (send JSON). */
export function encodeDns(r: DnsRecord): Buffer | null {
  const max = Number.MAX_SAFE_INTEGER;
  if (!isU(r.tsUs, max) || !isU(r.qtype, 0xffff) || !isText(r.qname)) return null;
  if ((r.rcode !== null && !isU(r.rcode, max)) || (r.answers !== null && !isU(r.answers, max))) return null;
  if ((r.latencyUs !== null && !isU(r.latencyUs, max)) || (r.level !== undefined && !isText(r.level))) return null;
  // Every listed field must be present (null is a value): a record missing one is JSON's to carry.
  if (r.rcode === undefined || r.answers === undefined || r.latencyUs === undefined) return null;
  if (!keysAre(r, DNS_KEYS, r.level !== undefined)) return null;
  const b = scratch;
  b[0] = DNS_FORMAT;
  b[1] = (r.rcode !== null ? DNS_RCODE : 0) | (r.answers !== null ? DNS_ANSWERS : 0) | (r.latencyUs !== null ? DNS_LATENCY : 0) | (r.level !== undefined ? DNS_LEVEL : 0);
  b[2] = r.qtype >>> 8;
  b[3] = r.qtype & 0xff;
  let o = putVarint(b, 4, r.tsUs);
  if (r.rcode !== null) o = putVarint(b, o, r.rcode);
  if (r.answers !== null) o = putVarint(b, o, r.answers);
  if (r.latencyUs !== null) o = putVarint(b, o, r.latencyUs);
  o = putText(b, o, r.qname);
  if (o >= 0 && r.level !== undefined) o = putText(b, o, r.level);
  return takeScratch(o);
}

/** Reads a body back; every read is bounds-checked and any inconsistency throws. */
class BodyReader {
  o = 0;
  constructor(private readonly b: Uint8Array) {}

  u8(): number {
    if (this.o >= this.b.length) throw new Error('body ends early');
    return this.b[this.o++];
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const c = this.u8();
      v += (c & 0x7f) * scale;
      if (!(c & 0x80)) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        return v;
      }
      scale *= 0x80;
    }
    throw new Error('varint out of range');
  }

  text(): string {
    const n = this.varint();
    if (n > MAX_TEXT || this.o + n > this.b.length) throw new Error('text runs past the body');
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = this.b[this.o + i];
      if (c < 0x20 || c > 0x7e) throw new Error('text is not printable ASCII');
      s += String.fromCharCode(c);
    }
    this.o += n;
    return s;
  }

  more(): boolean {
    return this.o < this.b.length;
  }

  done(): void {
    if (this.o !== this.b.length) throw new Error('bytes after the record');
  }
}

/** Decodes a FLOW body made by encodeFlow; throws on anything else. */
export function decodeFlow(body: Uint8Array): FlowRecord {
  const r = new BodyReader(body);
  if (r.u8() !== FLOW_FORMAT) throw new Error('not a binary flow');
  const ipVersion = r.u8();
  if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`ipVersion ${ipVersion}`);
  const protocol = r.u8();
  const endReason = END_REASONS[r.u8()];
  if (endReason === undefined) throw new Error('unknown end reason code');
  const tcpFlags = r.u8();
  const revTcpFlags = r.u8();
  const srcPort = r.u16();
  const dstPort = r.u16();
  const firstUs = r.varint();
  const lastUs = firstUs + r.varint();
  if (lastUs > Number.MAX_SAFE_INTEGER) throw new Error('lastUs out of range');
  const flow: FlowRecord = {
    ipVersion, protocol, srcAddr: '', dstAddr: '', srcPort, dstPort, firstUs, lastUs,
    packets: r.varint(), bytes: r.varint(), revPackets: r.varint(), revBytes: r.varint(),
    tcpFlags, revTcpFlags, endReason,
  };
  flow.srcAddr = r.text();
  flow.dstAddr = r.text();
  if (r.more()) flow.level = r.text();
  r.done();
  return flow;
}

/** Decodes a DNS body made by encodeDns; throws on anything else. */
export function decodeDns(body: Uint8Array): DnsRecord {
  const r = new BodyReader(body);
  if (r.u8() !== DNS_FORMAT) throw new Error('not a binary DNS record');
  const bits = r.u8();
  if (bits & ~(DNS_RCODE | DNS_ANSWERS | DNS_LATENCY | DNS_LEVEL)) throw new Error('unknown presence bits');
  const qtype = r.u16();
  const tsUs = r.varint();
  const rcode = bits & DNS_RCODE ? r.varint() : null;
  const answers = bits & DNS_ANSWERS ? r.varint() : null;
  const latencyUs = bits & DNS_LATENCY ? r.varint() : null;
  const dns: DnsRecord = { tsUs, qname: r.text(), qtype, rcode, answers, latencyUs };
  if (bits & DNS_LEVEL) dns.level = r.text();
  r.done();
  return dns;
}

/** The compact body of a FLOW or DNS record, or null: another type, or a record to send as JSON. */
export function encodeCompactResult(type: number, body: object): Buffer | null {
  if (type === RecordType.FLOW) return encodeFlow(body as FlowRecord);
  if (type === RecordType.DNS) return encodeDns(body as DnsRecord);
  return null;
}

/**
 * A FLOW or DNS body in the compact form, decoded; null when the body is not in it (a
 * JSON body, or another record type). Throws when the form's byte is there but the rest
 * is not a valid record: the receiver counts that as a bad record.
 */
export function decodeCompactResult(type: number, body: Uint8Array): FlowRecord | DnsRecord | null {
  if (type === RecordType.FLOW && body[0] === FLOW_FORMAT) return decodeFlow(body);
  if (type === RecordType.DNS && body[0] === DNS_FORMAT) return decodeDns(body);
  return null;
}
