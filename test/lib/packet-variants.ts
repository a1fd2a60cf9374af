// Packets for the tests of the packet loops in C (packets-common, flows-run): read from
// capture files, changed one field at a time, at odd and stepped times, and laid out as
// the records of a segment body.
import { readCaptureFile } from './readCaptureFile';

export interface Packet { data: Buffer; origLen: number; tsUs: number; linkType: number; where: string }

export function packetsOf(files: string[]): Packet[] {
  const out: Packet[] = [];
  for (const f of files) {
    readCaptureFile(f).packets.forEach((p, i) => {
      out.push({ data: Buffer.from(p.data.subarray(p.off, p.off + p.caplen)), origLen: p.origLen, tsUs: p.tsUs, linkType: p.linkType, where: `${f.split('/').pop()} packet ${i + 1}` });
    });
  }
  return out;
}

/** Ethernet + IPv4 (20) + TCP (20) or UDP: the packets the C path is for. */
export function isCommonShape(d: Buffer): boolean {
  if (d.length < 42 || d.readUInt16BE(12) !== 0x0800 || d[14] !== 0x45) return false;
  const proto = d[23];
  return (proto === 17 && d.length >= 42) || (proto === 6 && d.length >= 54 && d[46] >> 4 === 5);
}

/** Variants of a common packet with one field changed each (raw bytes; the checksums left as they come). */
export function variants(d: Buffer, next: () => number): Buffer[] {
  const out: Buffer[] = [];
  const with_ = (f: (b: Buffer) => void, len = d.length): void => {
    const b = Buffer.alloc(len);
    d.copy(b, 0, 0, Math.min(len, d.length));
    f(b);
    out.push(b);
  };
  const rnd = (n: number): number => Math.floor(next() * n);
  const tcp = d[23] === 6;
  with_((b) => { b[22] = rnd(256); });                                  // TTL across the bucket edges
  with_((b) => { b[15] = rnd(256); b.writeUInt16BE(rnd(65536), 18); }); // TOS, id
  with_((b) => { b.writeUInt16BE(rnd(d.length + 40), 16); });           // total length: inside, past, 0
  with_((b) => { b.writeUInt16BE(0, 16); });
  with_((b) => { b.writeUInt16BE(rnd(65536), 24); });                   // IP checksum
  with_((b) => { b.writeUInt16BE(rnd(65536), 34); b.writeUInt16BE(rnd(65536), 36); }); // ports
  with_((b) => { b.writeUInt32BE(rnd(2 ** 32), 26); });                 // a new source address
  with_(() => {}, 14 + 20 + (tcp ? 20 : 8));                              // payload cut by the snap length
  with_(() => {}, d.length + 1 + rnd(60));                               // more payload (zeros)
  if (tcp) {
    with_((b) => { b[47] ^= 0x10; });                                    // ACK flag
    with_((b) => { b.writeUInt16BE(rnd(65536), 50); b.writeUInt32BE(rnd(2 ** 32), 38); b.writeUInt32BE(rnd(2 ** 32), 42); }); // checksum, seq, ack
  } else {
    with_((b) => { b.writeUInt16BE(0, 40); });                           // no UDP checksum
    with_((b) => { b.writeUInt16BE(rnd(65536), 40); });
    with_((b) => { b.writeUInt16BE(rnd(d.length), 38); });               // UDP length: short, inside, past
    with_((b) => { b.writeUInt16BE(8, 38); });
  }
  return out;
}

/** TCP options to put in a packet: common ones, unknown ones, padding, and malformed lengths. */
export const OPTION_SETS: number[][] = [
  [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],                        // NOP NOP timestamp
  [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0],                      // MSS, NOP, wscale, SACK permitted, EOL
  [1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200],                    // two SACK edges
  [5, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 1], // two SACK blocks
  [30, 6, 1, 2, 3, 4, 1, 1],                                    // an unknown option (MPTCP-like)
  [0, 9, 9, 9],                                                 // EOL, then garbage that becomes padding
  [8, 40, 1, 2],                                                // a length past the header
  [8, 1, 0, 0],                                                 // a length under 2
];

/** A TCP packet of the common shape with `opts` (padded to 4 bytes) after its header, payload dropped. */
export function withOptions(d: Buffer, opts: number[]): Buffer {
  const o = Buffer.alloc((opts.length + 3) & ~3);
  Buffer.from(opts).copy(o);
  const b = Buffer.concat([d.subarray(0, 54), o]);
  b[46] = ((20 + o.length) / 4) << 4 | (b[46] & 0x0f);
  b.writeUInt16BE(40 + o.length, 16);
  return b;
}

/** The packets as one segment body: each a pcap record (16-byte little-endian header, then its bytes). */
export function segmentBody(ps: Packet[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of ps) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.min(Math.floor(p.tsUs / 1e6), 0xffffffff), 0);
    h.writeUInt32LE(p.tsUs % 1e6, 4);
    h.writeUInt32LE(p.data.length, 8);
    h.writeUInt32LE(Math.min(p.origLen, 0xffffffff), 12);
    parts.push(h, p.data);
  }
  return Buffer.concat(parts);
}

/** Changes the loop in C must leave to the JavaScript loop, or take with care: IPv4 options, fragments, lengths, a new destination, tunnel ports, an original length under the captured one. */
export function loopVariants(p: Packet, next: () => number): Packet[] {
  const d = p.data;
  const out: Packet[] = [];
  const with_ = (f: (b: Buffer) => void, origLen = d.length): void => {
    const b = Buffer.from(d);
    f(b);
    out.push({ ...p, data: b, origLen, where: `${p.where}, changed for the loop` });
  };
  const rnd = (n: number): number => Math.floor(next() * n);
  // Four bytes of IPv4 options (NOPs, then end of list).
  const opts = Buffer.concat([d.subarray(0, 34), Buffer.from([1, 1, 1, 0]), d.subarray(34)]);
  opts[14] = 0x46;
  opts.writeUInt16BE(d.readUInt16BE(16) + 4, 16);
  out.push({ ...p, data: opts, origLen: opts.length, where: `${p.where} with IPv4 options` });
  with_((b) => { b.writeUInt16BE(1 + rnd(0x1fff), 20); });             // a later fragment
  with_((b) => { b.writeUInt16BE(0x2000, 20); });                       // a first fragment
  with_((b) => { b.writeUInt16BE(rnd(20), 16); });                      // a total length under the header's
  with_((b) => { b.writeUInt32BE(rnd(2 ** 32), 30); });                 // a new destination address
  with_((b) => { b.writeUInt32BE(rnd(2 ** 32), 0); });                  // a new destination MAC
  with_(() => {}, 14 + rnd(d.length - 14));                            // an original length under the captured one
  if (d[23] === 17) {
    with_((b) => { b.writeUInt16BE(4789, 36); });                       // VXLAN's port
    with_((b) => { b.writeUInt16BE(6081, 36); });                       // Geneve's
  }
  return out;
}

/** IMIX packets whose times step back and forth by less and more than the clock's two ticks. */
export function steppedTimes(ps: Packet[]): Packet[] {
  const steps = [0, 0.6, 1.2, -0.4, 2.1, 1.5, 0.5, 3.9, 1.8, 2.2, 0.2, -1.5, 5, 3.4, 3.6];
  return ps.slice(0, 280).map((p, i) => ({ ...p, tsUs: p.tsUs + 10e6 + Math.round((steps[i % steps.length] + 7 * Math.floor(i / steps.length)) * 1e6), where: `${p.where} at a stepped time` }));
}

/** IMIX packets at times before the secret shift's origin (written as 0) and at the last pcap second. */
export function oddTimes(ps: Packet[]): Packet[] {
  return ps.slice(0, 40).map((p, i) => ({ ...p, tsUs: i < 20 ? i * 997 : 0xffffffff * 1e6 + i, where: `${p.where} at an odd time` }));
}


/**
 * The first 300 common packets of `ps`, each followed by its changes (variants: once;
 * loopVariants: twice; `more`, for the caller's own: as it lays them out), so a loop in
 * C meets each change with the original's values known.
 */
export function changedPackets(ps: Packet[], random: () => number, more: (p: Packet) => Packet[] = () => []): Packet[] {
  const next = (): number => random() / 2 ** 32;
  const changed: Packet[] = [];
  for (const p of ps.slice(0, 300)) {
    if (!isCommonShape(p.data)) continue;
    for (const d of variants(p.data, next)) changed.push(p, { ...p, data: d, origLen: d.length, where: `${p.where}, changed` });
    for (const q of loopVariants(p, next)) changed.push(p, q, q);
    changed.push(...more(p));
  }
  return changed;
}

/** One segment per capture file of `corpus` (packetsOf), each with its file's link type. */
export function corpusSegments(corpus: Packet[]): { linkType: number; body: Buffer }[] {
  const out: { linkType: number; body: Buffer }[] = [];
  let from = 0;
  for (let i = 1; i <= corpus.length; i++) {
    if (i < corpus.length && corpus[i].linkType === corpus[from].linkType && corpus[i].where.split(' packet ')[0] === corpus[from].where.split(' packet ')[0]) continue;
    out.push({ linkType: corpus[from].linkType, body: segmentBody(corpus.slice(from, i)) });
    from = i;
  }
  return out;
}

/** A key readable only inside use(), for the collectors of these tests. */
const hashKey = Buffer.alloc(32, 0x33);
export const keyUser = { use: <T>(fn: (k: Buffer) => T): T => fn(hashKey) };
