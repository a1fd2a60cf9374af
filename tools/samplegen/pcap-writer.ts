/**
 * Classic pcap (microsecond timestamps, little-endian, LINKTYPE_ETHERNET) written in
 * large chunks: callers either hand over a frame or build it in place in the chunk
 * (reserve + commit), which is what makes a million-packet file take seconds.
 */
import * as fs from 'fs';

export const LINKTYPE_ETHERNET = 1;
const CHUNK = 8 * 1024 * 1024;
const RECORD_HEADER = 16;

export class PcapWriter {
  private readonly fd: number;
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private pendingAt = -1;

  constructor(file: string, snaplen = 65535) {
    this.fd = fs.openSync(file, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    h.copy(this.chunk, 0);
    this.used = 24;
  }

  /** Makes room for a frame of up to maxLen bytes; returns the chunk and where the frame starts. */
  reserve(maxLen: number): { buf: Buffer; at: number } {
    if (this.used + RECORD_HEADER + maxLen > this.chunk.length) this.flush();
    this.pendingAt = this.used + RECORD_HEADER;
    return { buf: this.chunk, at: this.pendingAt };
  }

  /** Writes the record header of the frame built at the reserved place. */
  commit(timestampUs: number, len: number): void {
    const at = this.pendingAt - RECORD_HEADER;
    const sec = Math.floor(timestampUs / 1e6);
    this.chunk.writeUInt32LE(sec, at);
    this.chunk.writeUInt32LE(timestampUs - sec * 1e6, at + 4);
    this.chunk.writeUInt32LE(len, at + 8);
    this.chunk.writeUInt32LE(len, at + 12);
    this.used = this.pendingAt + len;
    this.pendingAt = -1;
  }

  write(timestampUs: number, frame: Buffer): void {
    if (RECORD_HEADER + frame.length > CHUNK) throw new Error(`frame of ${frame.length} bytes is larger than the writer's chunk`);
    const { buf, at } = this.reserve(frame.length);
    frame.copy(buf, at);
    this.commit(timestampUs, frame.length);
  }

  private flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.chunk, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}
