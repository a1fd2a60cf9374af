// Classic pcap files streamed in fixed chunks, for the anonymization benchmark: the
// reader hands out each record in place inside its chunk and the writer appends
// records to a chunk written out when full, so memory stays the same for a trace of
// any length (the peak-RSS run reads 10M packets, several GB, this way).
import * as fs from 'fs';
import { copyBytes, viewOf } from '../../firmware/analysis/builtin/packets/byteCopy';

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const PCAP_MAGIC_US = 0xa1b2c3d4;
/** Largest record the reader accepts; larger caplens mean a corrupt file. */
const MAX_CAPLEN = 262144;
/** 8 MiB: big enough that a read is one syscall per ~20k IMIX packets, small next to the trace. */
const CHUNK = 8 << 20;

/** Buffer.readUInt32LE without its argument checks: offsets here are always inside the chunk. */
function u32le(b: Buffer, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 0x1000000;
}

export class PcapChunkReader {
  readonly linkType: number;
  /** Current record, valid until the next next(): its bytes are chunk[dataOff, dataOff + caplen). */
  chunk = Buffer.allocUnsafe(CHUNK);
  dataOff = 0;
  caplen = 0;
  origLen = 0;
  tsUs = 0;
  private fd: number;
  private pos = 0;
  private fill = 0;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'r');
    const h = Buffer.alloc(GLOBAL_HEADER);
    if (fs.readSync(this.fd, h, 0, GLOBAL_HEADER, null) !== GLOBAL_HEADER) throw new Error(`${path}: shorter than a pcap header: regenerate it with tools/samplegen`);
    // Only the classic little-endian microsecond format: the one samplegen writes.
    if (h.readUInt32LE(0) !== PCAP_MAGIC_US) throw new Error(`${path}: not a little-endian microsecond pcap file: regenerate it with tools/samplegen`);
    this.linkType = h.readUInt32LE(20);
  }

  /** Moves to the next record; false at the end of the file. */
  next(): boolean {
    if (this.fill - this.pos < RECORD_HEADER && !this.refill(RECORD_HEADER)) return false;
    const c = this.chunk;
    const caplen = u32le(c, this.pos + 8);
    if (caplen > MAX_CAPLEN) throw new Error(`${this.path}: record with caplen ${caplen} (over ${MAX_CAPLEN}): the file is corrupt`);
    if (this.fill - this.pos < RECORD_HEADER + caplen && !this.refill(RECORD_HEADER + caplen)) return false;
    const p = this.pos;
    this.tsUs = u32le(c, p) * 1e6 + u32le(c, p + 4);
    this.caplen = caplen;
    this.origLen = u32le(c, p + 12);
    this.dataOff = p + RECORD_HEADER;
    this.pos = this.dataOff + caplen;
    return true;
  }

  /** Keeps the unread tail at the chunk's start and reads after it until `need` bytes are there. */
  private refill(need: number): boolean {
    const rest = this.fill - this.pos;
    this.chunk.copy(this.chunk, 0, this.pos, this.fill);
    this.pos = 0;
    this.fill = rest;
    while (this.fill < need) {
      const n = fs.readSync(this.fd, this.chunk, this.fill, this.chunk.length - this.fill, null);
      if (n === 0) return false; // a torn last record is ignored, like libpcap does
      this.fill += n;
    }
    return true;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export class PcapChunkWriter {
  records = 0;
  bytes = GLOBAL_HEADER;
  private readonly chunk = Buffer.allocUnsafe(CHUNK);
  private readonly chunkView = viewOf(this.chunk);
  /** The buffer records come from (the rewriter's, the same every time) and its view. */
  private viewedRec: Buffer | null = null;
  private recView = this.chunkView;
  private used = 0;
  private fd: number;

  constructor(path: string, linkType: number) {
    this.fd = fs.openSync(path, 'w');
    const h = this.chunk;
    h.fill(0, 0, GLOBAL_HEADER);
    h.writeUInt32LE(PCAP_MAGIC_US, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(MAX_CAPLEN, 16);
    h.writeUInt32LE(linkType >>> 0, 20);
    this.used = GLOBAL_HEADER;
  }

  /** Appends one pcap record (16-byte header + bytes) copied from rec[0, length). */
  write(rec: Buffer, length: number): void {
    if (this.used + length > this.chunk.length) this.flush();
    if (rec !== this.viewedRec) {
      this.viewedRec = rec;
      this.recView = viewOf(rec);
    }
    // Header-only records are short: copyBytes moves them without Buffer.copy's overhead.
    copyBytes(rec, this.recView, 0, length, this.chunk, this.chunkView, this.used);
    this.used += length;
    this.bytes += length;
    this.records++;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.chunk, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}
