// A file written through a 64 KiB buffer: the receiver writes one small record at a time
// and a syscall per record made reading a recording I/O bound. flush() after each chunk
// of input keeps the files current for anyone watching them.
import * as fs from 'node:fs';

const BUFFER_BYTES = 64 * 1024;

export class BufferedFile {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'w');
  }

  write(data: Buffer | string): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    this.writeRange(b, 0, b.length);
  }

  /** Writes b[start, end). */
  writeRange(b: Buffer, start: number, end: number): void {
    const len = end - start;
    this.bytes += len;
    if (this.used + len > BUFFER_BYTES) this.flush();
    if (len >= BUFFER_BYTES) {
      let off = start;
      while (off < end) off += fs.writeSync(this.fd, b, off, end - off);
      return;
    }
    b.copy(this.buf, this.used, start, end);
    this.used += len;
  }

  /**
   * Lets `fill` write straight into the buffer: it gets the buffer and the bytes used,
   * and returns the bytes used after it wrote (never fewer, never more than the buffer).
   */
  fillWith(fill: (buf: Buffer, used: number) => number): void {
    const used = fill(this.buf, this.used);
    if (!(used >= this.used && used <= this.buf.length)) throw new RangeError(`a fill of ${this.path} claimed ${used} bytes used of ${this.buf.length} (${this.used} before it)`);
    this.bytes += used - this.used;
    this.used = used;
  }

  /** Bytes waiting in the buffer. */
  buffered(): number {
    return this.used;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}
