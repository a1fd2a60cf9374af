// The frames most recently handed to the kernel, kept to be written again when a host
// may have lost them without the box being told:
// - after a hangup: a USB gadget tty (ttyGS*) is hung up when the workstation goes away
//   (cable pulled, host port deconfigured); every later write on that fd fails with
//   EIO, and what the kernel still held — its 8 KiB write buffer, the USB requests in
//   flight, what the workstation had received but not yet read — is gone. The writer
//   opens the tty again and starts over with these frames;
// - when a host reads again after a long stall or that hangup: its tty opens cooked and
//   mangles the backlog that pours in first (line-resume.ts).
// The receiver drops the frames it already has by their sequence numbers (counted as
// duplicates), so a host that comes back misses nothing that was still in the window.
// A UART is never hung up and never stalls, so this never fires there.
//
// The window holds references to frames the writer made anyway: no copies.

/**
 * What a host may have lost: the gadget's buffer and requests (16 KiB at high speed),
 * what the host had taken but its reader not yet read when it went away (its URBs and
 * tty buffers, ~20 KiB), and the RESUME_BYTES (32 KiB) the line takes before the window
 * goes out again; with room to spare.
 */
export const REPLAY_WINDOW_BYTES = 131072;

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
