// How fast the channel hands bytes to its line. A tty drains at baud/10 bytes per
// second: the writer takes frames out of the outbox only as fast as that (a token
// bucket), so the backlog waits in the outbox, where it is counted and dropped by
// priority, and never in the kernel's tty buffer, where nothing can count it. A
// recording file or a pipe takes bytes as fast as they come and is not paced.

/**
 * Pacing granularity of a tty: the bucket holds at most this much line time, so the
 * kernel buffer never holds more than ~10 ms of it. Larger lets a burst sit in the
 * kernel (out of the outbox's count); smaller costs a syscall per few bytes.
 */
const PACE_TICK_MS = 10;

export interface Pacer {
  /** Wire bytes to gather for one write: a tty takes one frame at a time, a file up to this many bytes of frames. */
  readonly batchBytes: number;
  /** How many of `want` bytes may be written now; 0 means wait msUntilRoom(). */
  allowance(want: number): number;
  /** `n` bytes went to the line. */
  spent(n: number): void;
  /** Milliseconds until at least one byte may be written. */
  msUntilRoom(): number;
  /** How long the line takes to carry `bytes` (0 for a line that is not paced). */
  lineTimeMs(bytes: number): number;
}

/** A tty: tokens (bytes) refill at line rate up to one tick's worth. */
export class TokenBucket implements Pacer {
  readonly batchBytes = 1;
  private tokens = 0;
  private refilledAt: number;
  private readonly capacity: number;

  constructor(private readonly bytesPerMs: number, private readonly now: () => number) {
    this.refilledAt = now();
    this.capacity = Math.max(64, bytesPerMs * PACE_TICK_MS);
  }

  allowance(want: number): number {
    this.refill();
    return this.tokens < 1 ? 0 : Math.min(want, Math.floor(this.tokens));
  }

  spent(n: number): void {
    this.tokens -= n;
  }

  msUntilRoom(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - this.tokens) / this.bytesPerMs));
  }

  lineTimeMs(bytes: number): number {
    return bytes / this.bytesPerMs;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.tokens + (t - this.refilledAt) * this.bytesPerMs, this.capacity);
    this.refilledAt = t;
  }
}

/**
 * A recording file or a pipe: every write may be as large as the batch. One write is in
 * flight at a time, so a turn of the event loop writes at most one batch: at 64 KiB,
 * two analysis shards' records outran it and the outbox spilled to disk (the
 * supervisor's CPU 3.3 against 2.7 s, its RSS 225 against 175 MB for 1M packets).
 */
export const unpaced: Pacer = {
  batchBytes: 1 << 20,
  allowance: (want) => want,
  spent: () => {},
  msUntilRoom: () => 0,
  lineTimeMs: () => 0,
};

/** The pacer a line of this kind needs. */
export function pacerFor(kind: 'tty' | 'file', baud: number, now: () => number): Pacer {
  return kind === 'tty' ? new TokenBucket(baud / 10 / 1000, now) : unpaced;
}
