// Tells the line writer when a host has come back to a line that nobody read for a
// while, so that the recent frames go out again (replay-window.ts).
//
// Why: a USB host's first bytes are not safe. Linux's cdc-acm starts reading from the
// gadget the moment its tty is opened, and a tty that was re-enumerated opens cooked
// (echo, canonical lines, ^C/^Z/^\ that flush the input, ^S/^Q eaten, CR turned into
// NL) whatever mode the workstation's program set the last time. Everything the gadget
// held when the host went away (u_serial's 8 KiB buffer and its requests) pours into
// that cooked tty before the program's own tcsetattr makes it raw, and most of it is
// lost there, without the box being told. Measured in the USB test board: 13-16 KiB,
// 22-41 frames, per re-attach, whether the host's driver was unbound, the device
// deconfigured or its port powered off (docs/image.md).
//
// The box never reads the line, so it cannot hear when the host is back; what it can
// see is its own writes: EAGAIN for a long time (nobody reading), then the line taking
// bytes again. Once it has taken more than a gadget holds, the host has been reading
// past its first bytes, and whatever of them was lost is still in the replay window.
// A hangup (EIO: the host deconfigured the gadget or the cable was pulled) arms the
// same, since the host that comes back finds the re-sent window waiting in the gadget.
//
// On a UART this never fires: with no flow control it never refuses writes for long.

/** A line that took nothing for this long had nobody reading it (a few hundred times the 20 ms retry of a full line). */
export const LINE_STALL_MS = 1000;
/**
 * Bytes the line must take after a stall before the window goes out again: more than a
 * gadget holds (u_serial's 8 KiB buffer plus 16 requests of one packet: 8 KiB at high
 * speed, 16 KiB at super speed) and than a host buffers before its reader runs.
 */
export const RESUME_BYTES = 32768;

export class LineResume {
  /** When the current run of full-line writes began; null while the line takes bytes. */
  private fullSince: number | null = null;
  /** Armed: bytes the line must still take before the window goes out again. */
  private toTake: number | null = null;

  constructor(private readonly now: () => number, private readonly stallMs = LINE_STALL_MS, private readonly resumeBytes = RESUME_BYTES) {}

  /** A write found the line full (EAGAIN). */
  full(): void {
    if (this.fullSince === null) this.fullSince = this.now();
  }

  /** The line was hung up and opened again: a host that comes back meets the gadget's backlog. */
  hungUp(): void {
    this.fullSince = null;
    this.toTake = this.resumeBytes;
  }

  /** A write put `n` bytes on the line. True when the window should go out again now. */
  took(n: number): boolean {
    if (this.fullSince !== null && this.now() - this.fullSince >= this.stallMs) this.toTake = this.resumeBytes;
    this.fullSince = null;
    if (this.toTake === null) return false;
    this.toTake -= n;
    if (this.toTake > 0) return false;
    this.toTake = null;
    return true;
  }
}
