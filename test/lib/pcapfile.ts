/**
 * Classic pcap reader and writer for tests. The reader accepts both byte orders and
 * the nanosecond variant, and never throws on a damaged file: it returns the records
 * it could read and says what was wrong, so a test can assert on a truncated capture.
 */
import * as fs from 'fs';

export const LINKTYPE_ETHERNET = 1;

export interface PcapRecord {
  tsSec: number;
  /** Microseconds, or nanoseconds when the file's `nanosecond` flag is set. */
  tsUsec: number;
  caplen: number;
  origLen: number;
  data: Buffer;
}

export interface PcapContents {
  linkType: number;
  snaplen: number;
  nanosecond: boolean;
  records: PcapRecord[];
  /** Set when the file ended early or is not a pcap file; records holds what came before. */
  error: string | null;
}

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;

export function parsePcap(buf: Buffer): PcapContents {
  const out: PcapContents = { linkType: -1, snaplen: 0, nanosecond: false, records: [], error: null };
  if (buf.length < 24) {
    out.error = `file header truncated: ${buf.length} of 24 bytes`;
    return out;
  }
  let le: boolean;
  const m = buf.readUInt32LE(0);
  if (m === MAGIC_USEC || m === MAGIC_NSEC) le = true;
  else if (buf.readUInt32BE(0) === MAGIC_USEC || buf.readUInt32BE(0) === MAGIC_NSEC) le = false;
  else {
    out.error = `not a classic pcap file (magic 0x${buf.readUInt32BE(0).toString(16)}); pcapng files need converting with editcap -F pcap`;
    return out;
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  out.nanosecond = u32(0) === MAGIC_NSEC;
  out.snaplen = u32(16);
  out.linkType = u32(20) & 0x0fffffff;
  let off = 24;
  while (off < buf.length) {
    if (off + 16 > buf.length) {
      out.error = `record header truncated at byte ${off}`;
      break;
    }
    const caplen = u32(off + 8);
    if (off + 16 + caplen > buf.length) {
      out.error = `record data truncated at byte ${off}: caplen ${caplen}, ${buf.length - off - 16} bytes left`;
      break;
    }
    out.records.push({ tsSec: u32(off), tsUsec: u32(off + 4), caplen, origLen: u32(off + 12), data: buf.subarray(off + 16, off + 16 + caplen) });
    off += 16 + caplen;
  }
  return out;
}

export function readPcap(file: string): PcapContents {
  return parsePcap(fs.readFileSync(file));
}

export interface WritableRecord {
  tsSec: number;
  tsUsec: number;
  data: Buffer;
  /** Defaults to data.length; larger means the frame was cut to data.length when captured. */
  origLen?: number;
}

/** Little-endian, microsecond classic pcap bytes. */
export function encodePcap(records: readonly WritableRecord[], linkType = LINKTYPE_ETHERNET, snaplen = 65535): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(MAGIC_USEC, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(linkType, 20);
  parts.push(h);
  for (const r of records) {
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(r.tsSec, 0);
    rh.writeUInt32LE(r.tsUsec, 4);
    rh.writeUInt32LE(r.data.length, 8);
    rh.writeUInt32LE(r.origLen ?? r.data.length, 12);
    parts.push(rh, r.data);
  }
  return Buffer.concat(parts);
}

export function writePcap(file: string, records: readonly WritableRecord[], linkType = LINKTYPE_ETHERNET, snaplen = 65535): void {
  fs.writeFileSync(file, encodePcap(records, linkType, snaplen));
}

/** Counts records without keeping them: for million-packet files. */
export function countPcapRecords(file: string): { count: number; bytes: number; error: string | null } {
  const buf = fs.readFileSync(file);
  const head = parsePcap(buf.subarray(0, 24));
  if (head.linkType < 0) return { count: 0, bytes: 0, error: head.error };
  const le = buf.readUInt32LE(0) === MAGIC_USEC || buf.readUInt32LE(0) === MAGIC_NSEC;
  let count = 0;
  let bytes = 0;
  let off = 24;
  while (off + 16 <= buf.length) {
    const caplen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    if (off + 16 + caplen > buf.length) break;
    count++;
    bytes += caplen;
    off += 16 + caplen;
  }
  return { count, bytes, error: off === buf.length ? null : `truncated at byte ${off}` };
}
