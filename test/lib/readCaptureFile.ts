// Reads a pcap or pcapng file whole, for tests: every packet with its link type,
// timestamp in microseconds and lengths. A damaged file yields the packets before the
// damage plus an error message (tcpdump's test corpus has many such files).
import * as fs from 'node:fs';

export interface CapturedPacket {
  linkType: number;
  tsUs: number;
  caplen: number;
  origLen: number;
  /** The whole file's buffer; the packet is data[off, off + caplen). */
  data: Buffer;
  off: number;
}

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  packets: CapturedPacket[];
  /** Why reading stopped early, or null. */
  error: string | null;
}

export function readCaptureFile(path: string): CaptureFile {
  const buf = fs.readFileSync(path);
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0x0a0d0d0a) return readPcapng(buf);
  return readPcap(buf);
}

function readPcap(buf: Buffer): CaptureFile {
  const out: CaptureFile = { format: 'pcap', packets: [], error: null };
  if (buf.length < 24) return { ...out, error: 'file shorter than a pcap header' };
  const magicLE = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) { le = true; nano = magicLE === 0xa1b23c4d; }
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) { le = false; nano = buf.readUInt32BE(0) === 0xa1b23c4d; }
  else return { ...out, error: 'not a pcap or pcapng file' };
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  // The upper bits of the link type field carry FCS information (pcap-linktype(7)).
  const linkType = u32(20) & 0xffff;
  let p = 24;
  while (p < buf.length) {
    if (p + 16 > buf.length) return { ...out, error: `truncated record header at ${p}` };
    const caplen = u32(p + 8);
    if (p + 16 + caplen > buf.length) return { ...out, error: `truncated record at ${p}` };
    const frac = u32(p + 4);
    out.packets.push({ linkType, tsUs: u32(p) * 1e6 + (nano ? Math.floor(frac / 1000) : frac), caplen, origLen: u32(p + 12), data: buf, off: p + 16 });
    p += 16 + caplen;
  }
  return out;
}

function readPcapng(buf: Buffer): CaptureFile {
  const out: CaptureFile = { format: 'pcapng', packets: [], error: null };
  let le = true;
  let ifaces: { linkType: number; unitsPerSec: number }[] = [];
  let p = 0;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  while (p < buf.length) {
    if (p + 12 > buf.length) return { ...out, error: `truncated block header at ${p}` };
    const type = buf.readUInt32LE(p) === 0x0a0d0d0a ? 0x0a0d0d0a : u32(p);
    if (type === 0x0a0d0d0a) {
      le = buf.readUInt32LE(p + 8) === 0x1a2b3c4d;
      if (!le && buf.readUInt32BE(p + 8) !== 0x1a2b3c4d) return { ...out, error: `bad byte-order magic at ${p}` };
      ifaces = [];
    }
    const len = u32(p + 4);
    if (len < 12 || len % 4 !== 0 || p + len > buf.length) return { ...out, error: `bad block length ${len} at ${p}` };
    const body = p + 8;
    const bodyEnd = p + len - 4;
    if (type === 1) {
      ifaces.push({ linkType: u16(body), unitsPerSec: ifTsResol(buf, body + 8, bodyEnd, u16) });
    } else if (type === 6 || type === 3) {
      const enhanced = type === 6;
      const ifIndex = enhanced ? u32(body) : 0;
      const iface = ifaces[ifIndex];
      if (!iface) return { ...out, error: `packet for undeclared interface ${ifIndex} at ${p}` };
      const caplenField = enhanced ? u32(body + 12) : bodyEnd - (body + 4);
      const dataOff = enhanced ? body + 20 : body + 4;
      const origLen = enhanced ? u32(body + 16) : u32(body);
      const caplen = Math.min(caplenField, origLen, bodyEnd - dataOff);
      if (caplen < 0 || dataOff + caplenField > bodyEnd) return { ...out, error: `bad packet length at ${p}` };
      const ts = enhanced ? u32(body + 4) * 2 ** 32 + u32(body + 8) : 0;
      out.packets.push({ linkType: iface.linkType, tsUs: Math.floor((ts / iface.unitsPerSec) * 1e6), caplen, origLen, data: buf, off: dataOff });
    }
    p += len;
  }
  return out;
}

/** Units per second of an interface's timestamps (option if_tsresol, default microseconds). */
function ifTsResol(buf: Buffer, p: number, end: number, u16: (o: number) => number): number {
  while (p + 4 <= end) {
    const code = u16(p);
    const len = u16(p + 2);
    if (code === 0) break;
    if (code === 9 && len >= 1 && p + 5 <= end) {
      const v = buf[p + 4];
      return v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
    }
    p += 4 + Math.ceil(len / 4) * 4;
  }
  return 1e6;
}
