// The frames most recently handed to the kernel, kept to be written again after the line
// was hung up. A USB gadget tty (ttyGS*) is hung up when the workstation goes away
// (cable pulled, host port deconfigured): every later write on that fd fails with EIO,
// and what the kernel still held — its 8 KiB write buffer, the USB requests in flight,
// what the workstation had received but not yet read — is gone without the box being
// told how much. The writer then opens the tty again and starts over with these frames:
// the receiver drops the ones it already has by their sequence numbers (counted as
// duplicates), so a host that comes back misses nothing that was still in the window.
// A UART is never hung up, so this never fires there.
//
// The window holds references to frames the writer made anyway: no copies.

/** Kernel write buffer, requests in flight and the host's unread input, with room to spare. */
export const REPLAY_WINDOW_BYTES = 65536;

const DELIMITER = Buffer.from([0]);

export class ReplayWindow {
  private frames: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limit = REPLAY_WINDOW_BYTES) {}

  /** One more chunk of whole frames about to be written. */
  remember(chunk: Buffer): void {
    this.frames.push(chunk);
    this.bytes += chunk.length;
    // Keep the newest chunk even if it alone exceeds the limit: it is being written.
    while (this.frames.length > 1 && this.bytes - this.frames[0].length >= this.limit) {
      this.bytes -= (this.frames.shift() as Buffer).length;
    }
  }

  /** Bytes to write on the reopened line: a delimiter (the last frame may have been cut), then the window. */
  replay(): Buffer {
    return Buffer.concat([DELIMITER, ...this.frames]);
  }

  size(): number {
    return this.bytes;
  }
}
