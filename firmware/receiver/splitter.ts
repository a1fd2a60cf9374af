// Splits the bytes of the line into COBS blocks at 0x00 delimiters. Bytes before the
// first delimiter are the tail of a frame we joined late: skipped, not counted as bad.
import { cobsMaxEncodedLength } from '../channel/cobs';
import { CRC_BYTES, HEADER_BYTES, MAX_PAYLOAD_BYTES } from '../channel/frame';

/** No valid frame is longer than this on the line; longer runs are noise. */
export const MAX_BLOCK_BYTES = cobsMaxEncodedLength(HEADER_BYTES + MAX_PAYLOAD_BYTES + CRC_BYTES);

export class BlockSplitter {
  private buf = Buffer.allocUnsafe(MAX_BLOCK_BYTES);
  private len = 0;
  private synced = false;
  private overlong = false;
  /** Bytes skipped before the first delimiter. */
  skippedBytes = 0;
  /** Runs between delimiters longer than any frame (noise, or a lost delimiter). */
  overlongBlocks = 0;

  /**
   * onBlock gets each block as a view that is valid only until it returns (of the chunk
   * pushed, or of the splitter's own buffer for a block split across chunks): a caller
   * that keeps a block copies it. The decoder decodes it at once into a new buffer, and
   * a copy per block here was a tenth of the receiver's time.
   */
  constructor(private readonly onBlock: (block: Buffer) => void) {}

  push(chunk: Uint8Array): void {
    const c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    while (i < c.length) {
      const z = c.indexOf(0, i);
      const end = z < 0 ? c.length : z;
      if (this.synced && this.len === 0 && z >= 0 && z - i <= MAX_BLOCK_BYTES) {
        // A whole block inside this chunk (the usual case): handed on in place.
        if (z > i) this.onBlock(c.subarray(i, z));
        i = z + 1;
        continue;
      }
      // [i, end) continues the current block.
      if (!this.synced) {
        this.skippedBytes += end - i;
      } else if (!this.overlong) {
        const take = Math.min(end - i, MAX_BLOCK_BYTES - this.len);
        c.copy(this.buf, this.len, i, i + take);
        this.len += take;
        if (take < end - i) this.overlong = true;
      }
      if (z < 0) return;
      if (!this.synced) this.synced = true;
      else if (this.overlong) this.overlongBlocks++;
      else if (this.len > 0) this.onBlock(this.buf.subarray(0, this.len));
      this.len = 0;
      this.overlong = false;
      i = z + 1;
    }
  }

  /** Bytes of an unfinished block at the end of the input (a frame cut off by the end of a recording). */
  pendingBytes(): number {
    return this.len;
  }
}
