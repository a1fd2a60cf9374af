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

  constructor(private readonly onBlock: (block: Buffer) => void) {}

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0) {
        if (!this.synced) this.synced = true;
        else if (this.overlong) this.overlongBlocks++;
        else if (this.len > 0) this.onBlock(Buffer.from(this.buf.subarray(0, this.len)));
        this.len = 0;
        this.overlong = false;
        continue;
      }
      if (!this.synced) {
        this.skippedBytes++;
        continue;
      }
      if (this.len >= MAX_BLOCK_BYTES) {
        this.overlong = true;
        continue;
      }
      this.buf[this.len++] = b;
    }
  }

  /** Bytes of an unfinished block at the end of the input (a frame cut off by the end of a recording). */
  pendingBytes(): number {
    return this.len;
  }
}
