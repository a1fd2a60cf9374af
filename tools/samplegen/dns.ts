/**
 * DNS messages (RFC 1035) with name compression, and an EDNS(0) OPT record (RFC 6891)
 * whose option carries the sample marker: names stay realistic while every DNS payload
 * still holds the marker that privacy tests scan for.
 */

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_MX = 15;
export const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_NXDOMAIN = 3;
/** First code of the "local/experimental use" range (RFC 6891 §9): no dissector claims it. */
export const EDNS_MARKER_OPTION = 65001;

export type RData =
  | { a: Buffer }
  | { aaaa: Buffer }
  | { cname: string }
  | { mx: { preference: number; exchange: string } }
  | { soa: { mname: string; rname: string; serial: number; minimum: number } };

export interface DnsRecord {
  name: string;
  type: number;
  ttl: number;
  data: RData;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode?: number;
  question: { name: string; type: number };
  answers?: DnsRecord[];
  authority?: DnsRecord[];
  additional?: DnsRecord[];
  /** Carried in an EDNS(0) option of the OPT record, which every message here has. */
  marker: string;
}

/** Appends bytes and remembers where each name suffix was written, for compression pointers. */
class MessageWriter {
  private parts: Buffer[] = [];
  private length = 0;
  private names = new Map<string, number>();

  get offset(): number {
    return this.length;
  }

  bytes(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  u8(v: number): void {
    this.bytes(Buffer.from([v]));
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.bytes(b);
  }

  /** Writes labels until a suffix already in the message, then a pointer to it. */
  name(name: string): void {
    const labels = name.split('.').filter((l) => l.length > 0);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.offset < 0x3fff) this.names.set(suffix, this.offset);
      const l = Buffer.from(labels[i], 'ascii');
      if (l.length > 63) throw new Error(`DNS label longer than 63 bytes in ${JSON.stringify(name)}`);
      this.u8(l.length);
      this.bytes(l);
    }
    this.u8(0);
  }

  /** Reserves a 16-bit length, runs body, then fills in how many bytes body wrote. */
  withLength(body: () => void): void {
    const slot = Buffer.alloc(2);
    this.bytes(slot);
    const start = this.offset;
    body();
    slot.writeUInt16BE(this.offset - start);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function writeRecord(w: MessageWriter, r: DnsRecord): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16(CLASS_IN);
  w.u32(r.ttl);
  w.withLength(() => {
    const d = r.data;
    if ('a' in d) w.bytes(d.a);
    else if ('aaaa' in d) w.bytes(d.aaaa);
    else if ('cname' in d) w.name(d.cname);
    else if ('mx' in d) {
      w.u16(d.mx.preference);
      w.name(d.mx.exchange);
    } else {
      w.name(d.soa.mname);
      w.name(d.soa.rname);
      w.u32(d.soa.serial);
      w.u32(7200); // refresh
      w.u32(900); // retry
      w.u32(1209600); // expire
      w.u32(d.soa.minimum);
    }
  });
}

function writeOpt(w: MessageWriter, marker: string): void {
  const m = Buffer.from(marker, 'ascii');
  w.u8(0); // root name
  w.u16(TYPE_OPT);
  w.u16(1232); // UDP payload size (the 2020 DNS flag day value)
  w.u32(0); // extended rcode, version 0, no flags
  w.withLength(() => {
    w.u16(EDNS_MARKER_OPTION);
    w.u16(m.length);
    w.bytes(m);
  });
}

export function dnsMessage(m: DnsMessage): Buffer {
  const w = new MessageWriter();
  const answers = m.answers ?? [];
  const authority = m.authority ?? [];
  const additional = m.additional ?? [];
  w.u16(m.id);
  // Query: RD. Response: QR, RD, RA and the rcode.
  w.u16(m.response ? 0x8180 | (m.rcode ?? 0) : 0x0100);
  w.u16(1);
  w.u16(answers.length);
  w.u16(authority.length);
  w.u16(additional.length + 1);
  w.name(m.question.name);
  w.u16(m.question.type);
  w.u16(CLASS_IN);
  for (const r of answers) writeRecord(w, r);
  for (const r of authority) writeRecord(w, r);
  for (const r of additional) writeRecord(w, r);
  writeOpt(w, m.marker);
  return w.finish();
}
