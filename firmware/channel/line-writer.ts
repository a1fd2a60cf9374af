// Puts the channel's wire bytes on the line without ever blocking the event loop: one
// fs.write at a time on the line's O_NONBLOCK descriptor, no faster than the pacer
// allows. A full line (EAGAIN: nobody reads, or the UART is behind) and a failing one
// (EIO when a USB host goes away) are tried again later; the bytes wait meanwhile, and
// behind them the outbox, which counts and drops by priority. A line read again after a
// long stall or a hangup gets its recent frames again (line-resume.ts says why).
import * as fs from 'node:fs';
import type { Pacer } from './pacer';
import { LineResume } from './line-resume';

/** A full line is tried again after this long: about two frames at 115200 baud. */
const LINE_FULL_RETRY_MS = 20;
/** A line whose writes fail is tried again after this long (an unplugged USB host may come back). */
const WRITE_ERROR_RETRY_MS = 500;

/** What the writer is doing: exactly one of these at a time. */
export type WriteState =
  /** Nothing to write; wake() when frames may be waiting. */
  | { kind: 'idle' }
  /** A pump is due on the next turn of the event loop. */
  | { kind: 'scheduled'; immediate: NodeJS.Immediate }
  /** Waiting for the pacer, for room on a full line, or after a failed write. */
  | { kind: 'waiting'; timer: NodeJS.Timeout; for: 'pace' | 'line full' | 'write error' }
  /** One fs.write in flight. */
  | { kind: 'writing' }
  /** One fs.write in flight, and then closed. */
  | { kind: 'closing'; closed: () => void }
  | { kind: 'closed' };

/** What the channel does around the writes of a line it may open again. */
export interface LineHooks {
  /** New bytes were taken from the outbox to be written. */
  taken?(bytes: Buffer): void;
  /**
   * A write failed with EIO (the tty hung up). Returns the descriptor of the line
   * opened again and the bytes to write first, or null while it is not back.
   */
  hungUp?(): { fd: number; bytes: Buffer } | null;
  /**
   * The line is read again after a long stall or a hangup, and has taken more than a
   * USB gadget holds (line-resume.ts). Returns the bytes to write next instead of the
   * rest of the current ones, which it must cover.
   */
  resumed?(): Buffer;
}

export class LineWriter {
  private state: WriteState = { kind: 'idle' };
  /** Wire bytes being written, and how far. */
  private pending: Buffer | null;
  private pendingOff = 0;
  private idleWaiters: Array<() => void> = [];
  bytesWritten = 0;
  /** Writes that failed with something other than EAGAIN. */
  writeErrors = 0;
  /** Writes the line had no room for (EAGAIN). */
  lineFull = 0;
  private readonly resume: LineResume | null;
  /**
   * Frames gathered for one write are copied into this buffer, reused from write to
   * write, when no hook keeps the bytes (a recording file or pipe, no replay window). A
   * new 1 MiB per write was a fresh mapping and 256 page faults each time on a packets
   * line (docs/benchmarks.md).
   */
  private batch: Buffer | null = null;
  private readonly reuseBatch: boolean;

  /**
   * `nextFrame` hands out the next frame's wire bytes, null when none waits; `first`
   * goes out before any frame (the leading delimiter).
   */
  constructor(private fd: number, private readonly pacer: Pacer, private readonly nextFrame: () => Buffer | null, first: Buffer, private readonly hooks: LineHooks = {}, now: () => number = Date.now) {
    this.pending = first;
    this.resume = hooks.resumed ? new LineResume(now) : null;
    this.reuseBatch = !hooks.taken && !hooks.hungUp && !hooks.resumed;
  }

  /** Frames may be waiting: write them unless the writer is already busy. */
  wake(): void {
    if (this.state.kind !== 'idle') return;
    this.state = { kind: 'scheduled', immediate: setImmediate(() => this.pump()) };
  }

  /** Bytes taken from the outbox and not yet on the line. */
  unwrittenBytes(): number {
    return this.pending ? this.pending.length - this.pendingOff : 0;
  }

  /** Resolves true once nothing is left to write, false at `deadline` (by `now`). */
  whenIdle(deadline: number, now: () => number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(t);
        resolve(ok);
      };
      const t = setTimeout(() => done(false), Math.max(0, deadline - now()));
      this.idleWaiters.push(() => done(true));
      this.wake();
      if (this.state.kind === 'closed') done(true);
    });
  }

  /** Stops writing; waits for a write in flight. */
  close(): Promise<void> {
    const s = this.state;
    if (s.kind === 'writing') return new Promise((r) => { this.state = { kind: 'closing', closed: r }; });
    if (s.kind === 'scheduled') clearImmediate(s.immediate);
    if (s.kind === 'waiting') clearTimeout(s.timer);
    this.state = { kind: 'closed' };
    return Promise.resolve();
  }

  /** The rest of the current write, or new frames gathered up to the pacer's batch; null when nothing waits. */
  private takeBytes(): Buffer | null {
    if (this.pending && this.pendingOff < this.pending.length) return this.pending;
    this.pending = null;
    this.pendingOff = 0;
    const parts: Buffer[] = [];
    let n = 0;
    while (n < this.pacer.batchBytes) {
      const f = this.nextFrame();
      if (!f) break;
      parts.push(f);
      n += f.length;
    }
    if (parts.length === 0) return null;
    this.pending = parts.length === 1 ? parts[0] : this.gather(parts, n);
    this.hooks.taken?.(this.pending);
    return this.pending;
  }

  /** parts (n bytes in all) in one Buffer: the reused batch buffer when that is allowed. */
  private gather(parts: Buffer[], n: number): Buffer {
    if (!this.reuseBatch) return Buffer.concat(parts, n);
    if (this.batch === null || this.batch.length < n) this.batch = Buffer.allocUnsafeSlow(Math.max(n, this.pacer.batchBytes * 2));
    let o = 0;
    for (const p of parts) o += p.copy(this.batch, o);
    return this.batch.subarray(0, n);
  }

  private pump(): void {
    this.state = { kind: 'idle' };
    const buf = this.takeBytes();
    if (!buf) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
      return;
    }
    const len = this.pacer.allowance(buf.length - this.pendingOff);
    if (len === 0) return this.waitFor('pace', this.pacer.msUntilRoom());
    this.state = { kind: 'writing' };
    fs.write(this.fd, buf, this.pendingOff, len, null, (err, n) => {
      const closing = this.state.kind === 'closing' ? this.state.closed : null;
      const full = err !== null && (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK');
      if (!err) {
        this.pendingOff += n;
        this.bytesWritten += n;
        this.pacer.spent(n);
        if (this.resume?.took(n) && this.hooks.resumed) {
          this.pending = this.hooks.resumed();
          this.pendingOff = 0;
        }
      } else if (full) {
        this.lineFull++;
        this.resume?.full();
      } else {
        this.writeErrors++;
      }
      if (closing) {
        this.state = { kind: 'closed' };
        return closing();
      }
      this.state = { kind: 'idle' };
      if (!err) return this.wake();
      if (full) return this.waitFor('line full', LINE_FULL_RETRY_MS);
      const back = err.code === 'EIO' ? this.hooks.hungUp?.() : null;
      if (!back) return this.waitFor('write error', WRITE_ERROR_RETRY_MS);
      this.fd = back.fd;
      this.pending = back.bytes;
      this.pendingOff = 0;
      this.resume?.hungUp();
      this.wake();
    });
  }

  private waitFor(why: 'pace' | 'line full' | 'write error', ms: number): void {
    this.state = { kind: 'waiting', for: why, timer: setTimeout(() => this.pump(), ms) };
  }
}
