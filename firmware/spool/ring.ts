// The spool: a fixed ring of preallocated slot files, one sealed segment per slot.
//
// Why preallocate: the spool must never fail for lack of space in the middle of a
// run. All slot files are written with real zeros in create(), at boot, so every
// block is allocated before capture starts; at run time a segment only overwrites
// blocks the ring already owns. Sparse files or growing files would turn a full disk
// into a write error on the capture path, long after the operator left.
//
// Why a full ring drops instead of overwriting: a slot that still holds unanalysed
// data is the only copy of those packets. Overwriting it would lose them silently
// and in a way nobody can count; refusing the reservation makes the caller drop the
// *new* packets and count them, which is what invariant 5 promises (a counted,
// reported drop, never silent loss).
//
// Publishing is "hidden then published", in place: publish() writes the nonce and
// ciphertext first, and the header (magic, seq, lengths) last, then marks the slot
// unanalysed. The header is the AEAD associated data, so a slot caught half-written
// (old header over a new body, or a zero header) fails authentication or reads as
// empty; an old complete segment left in the slot carries the old seq and is refused
// as 'torn' by openSegment(key, sealed, expectedSeq). Temp-file-and-rename is not
// used because it would need free space outside the preallocated slots. No fsync:
// after a power loss the keys are gone and nothing on the spool is readable anyway.
import * as fs from 'fs';
import * as path from 'path';
import { SEGMENT_HEADER_BYTES, SEGMENT_OVERHEAD, maxBodyBytes, peekSealedLength, peekSegmentSeq } from './segment';
import { SlotLedger } from './ledger';
import { preallocateSlots, reusableSlotBytes, slotFileName } from './slot-files';

export interface SpoolRingOptions {
  /** Directory for the slot files (run.json spool.dir). */
  dir: string;
  /** Total bytes to reserve (run.json spool.bytes); the ring gets floor(bytes / slotBytes) slots. */
  bytes: number;
  /** Bytes per slot: the largest sealed segment (body + SEGMENT_OVERHEAD). */
  slotBytes: number;
}

export const MIN_SLOT_BYTES = 4096;
const MAX_SLOT_BYTES = 0xffff_ffff; // the sealed length is a u32 in the segment header
// One file per slot, created and checked at boot: bounds boot time and directory size.
export const MAX_SLOTS = 1_000_000;

export class SpoolRing {
  readonly dir: string;
  readonly slots: number;
  readonly slotBytes: number;
  private readonly ledger: SlotLedger;
  // Writes complete in publish() call order: each one starts after the previous ended.
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(dir: string, slots: number, slotBytes: number) {
    this.dir = dir;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.ledger = new SlotLedger(slots);
  }

  /**
   * Checks the directory, preallocates the slot files and returns a ring with every
   * slot free. Throws an Error naming run.json spool.* for anything it cannot use.
   * Runs at boot and may take a while for a large spool (it writes every byte once).
   */
  static create(opts: SpoolRingOptions): SpoolRing {
    const { dir, bytes, slotBytes } = opts;
    if (!Number.isInteger(slotBytes) || slotBytes < MIN_SLOT_BYTES || slotBytes > MAX_SLOT_BYTES) {
      throw new Error(`spool slot size ${slotBytes} is out of range: use an integer from ${MIN_SLOT_BYTES} to ${MAX_SLOT_BYTES} bytes`);
    }
    if (!Number.isFinite(bytes) || bytes < 2 * slotBytes) {
      throw new Error(`spool.bytes ${bytes} holds fewer than 2 slots of ${slotBytes} bytes: raise run.json spool.bytes to at least ${2 * slotBytes}`);
    }
    checkDirectory(dir);
    const slots = Math.floor(bytes / slotBytes);
    if (slots > MAX_SLOTS) {
      throw new Error(`spool.bytes ${bytes} makes ${slots} slots of ${slotBytes} bytes, more than ${MAX_SLOTS}: use larger slots or lower run.json spool.bytes`);
    }
    const needed = slots * slotBytes;
    const available = freeBytes(dir) + reusableSlotBytes(dir, slots, slotBytes);
    if (available < needed) {
      throw new Error(`spool.dir ${dir} has ${available} bytes free but spool.bytes needs ${needed}: lower run.json spool.bytes or free space on that filesystem`);
    }
    try {
      preallocateSlots(dir, slots, slotBytes);
    } catch (err) {
      throw new Error(`spool.dir ${dir}: preallocating ${slots} slots of ${slotBytes} bytes failed (${describe(err)}): free space or lower run.json spool.bytes`);
    }
    return new SpoolRing(dir, slots, slotBytes);
  }

  /** Largest segment body a slot can take. */
  get maxBodyBytes(): number {
    return maxBodyBytes(this.slotBytes);
  }

  /**
   * Claims the slot for the next segment. null when that slot still holds unanalysed
   * data (or the ring is closed): the caller drops the segment's packets and counts
   * them. Never touches the disk.
   */
  reserve(): { slot: number; seq: number } | null {
    return this.closed ? null : this.ledger.reserve();
  }

  /**
   * Writes a sealed segment into its reserved slot (body region first, header last)
   * and then marks it unanalysed; resolves once readers may read it. `sealed` must
   * stay untouched until then. Throws at once (and frees the slot) for a caller bug:
   * slot not reserved, segment too large, or a header seq that is not the reserved
   * one. Rejects (and frees the slot, leaving its seq as a hole to count) if the
   * write fails.
   */
  publish(slot: number, sealed: Buffer): Promise<void> {
    const seq = this.ledger.reservedSeq(slot);
    const problem = this.checkSealed(seq, sealed);
    if (problem !== null) {
      this.ledger.abandoned(slot);
      throw new Error(problem);
    }
    if (this.closed) {
      this.ledger.abandoned(slot);
      return Promise.reject(new Error(`spool is closed: segment ${seq} was not written`));
    }
    const file = path.join(this.dir, slotFileName(slot));
    const done = this.queue.then(() => writeHiddenThenPublished(file, sealed)).then(
      () => this.ledger.published(slot),
      (err: unknown) => {
        this.ledger.abandoned(slot);
        throw new Error(`spool write of segment ${seq} to ${file} failed (${describe(err)}): check the spool disk`);
      },
    );
    // The queue waits for this write whether it succeeds or not.
    this.queue = done.then(noop, noop);
    return done;
  }

  /** Gives a reserved slot back unwritten (e.g. sealing failed); its seq becomes a hole. */
  abandon(slot: number): void {
    this.ledger.abandoned(slot);
  }

  /** Marks segment seq analysed so its slot can be reused; false if it was not unanalysed. */
  markAnalysed(seq: number): boolean {
    return this.ledger.markAnalysed(seq);
  }

  /** The earliest segment still readable (analysed or not); analysis restarts re-read from here. */
  oldestRetainedSeq(): number {
    return this.ledger.oldestRetainedSeq();
  }

  /** The seq the next successful reserve() will return. */
  nextSeq(): number {
    return this.ledger.nextSequence();
  }

  isRetained(seq: number): boolean {
    return this.ledger.isRetained(seq);
  }

  /** 0..1: fraction of slots holding (or being written with) unanalysed data. */
  fill(): number {
    return this.ledger.fill();
  }

  /** Path of the slot file that holds segment seq (the analysis child opens it read-only). */
  slotPath(seq: number): string {
    return path.join(this.dir, slotFileName(seq % this.slots));
  }

  /** Waits for pending writes, then refuses further reservations. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private checkSealed(seq: number, sealed: Buffer): string | null {
    if (sealed.length < SEGMENT_OVERHEAD) return `segment ${seq} is ${sealed.length} bytes, shorter than any sealed segment: pass the bytes sealSegment wrote`;
    if (sealed.length > this.slotBytes) return `segment ${seq} is ${sealed.length} bytes but spool slots hold ${this.slotBytes}: keep segment bodies within ring.maxBodyBytes`;
    if (peekSealedLength(sealed) !== sealed.length) return `segment ${seq}: buffer length ${sealed.length} does not match its header: pass out.subarray(0, sealSegment(...))`;
    const headerSeq = peekSegmentSeq(sealed);
    if (headerSeq !== seq) return `segment header carries seq ${headerSeq} but the slot was reserved for seq ${seq}: seal with the seq reserve() returned`;
    return null;
  }
}

/** fs.write's positional form: what the slot writes call (a test hands in short writes). */
export type PositionalWrite = (fd: number, buf: Buffer, offset: number, length: number, position: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void) => void;

// With callbacks rather than fs.promises: a FileHandle, its close promise and an await
// per step cost the supervisor's thread about twice as much per segment (measured
// apart: 65-120 against 92-244 us), and that thread's time per segment is what bounds
// capture under a small CPU budget (docs/benchmarks.md, capture).
/** @internal Exported for the tests of short writes; the ring is its only caller. */
export function writeHiddenThenPublished(file: string, sealed: Buffer, write: PositionalWrite = fs.write): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r+', (err, fd) => {
      if (err) return reject(err);
      const finish = (e: Error | null): void => fs.close(fd, (closeErr) => {
        const failed = e ?? closeErr;
        if (failed) reject(failed);
        else resolve();
      });
      writeAll(write, fd, sealed, SEGMENT_HEADER_BYTES, sealed.length, (e) => {
        if (e) finish(e);
        else writeAll(write, fd, sealed, 0, SEGMENT_HEADER_BYTES, finish);
      });
    });
  });
}

// Writes sealed[from, to) at the same file offset, then calls done. A short write goes
// on from where it stopped; a write of nothing would never end, so it fails.
function writeAll(write: PositionalWrite, fd: number, sealed: Buffer, from: number, to: number, done: (err: Error | null) => void): void {
  if (from >= to) return done(null);
  write(fd, sealed, from, to - from, from, (err, n) => {
    if (err) done(err);
    else if (n <= 0) done(new Error(`wrote nothing at offset ${from} of ${to}`));
    else writeAll(write, fd, sealed, from + n, to, done);
  });
}

function checkDirectory(dir: string): void {
  if (typeof dir !== 'string' || dir === '') throw new Error('spool.dir is empty: set run.json spool.dir to a writable directory');
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    throw new Error(`spool.dir ${dir} does not exist (${describe(err)}): create it or check run.json spool.dir`);
  }
  if (!st.isDirectory()) throw new Error(`spool.dir ${dir} is not a directory: check run.json spool.dir`);
  // access(W_OK) says yes to root even on a read-only mount, so actually create a file.
  const probe = path.join(dir, `.sealtap-write-probe-${process.pid}`);
  try {
    fs.closeSync(fs.openSync(probe, 'w', 0o600));
    fs.unlinkSync(probe);
  } catch (err) {
    throw new Error(`spool.dir ${dir} is not writable: ${describe(err)}, check run.json spool.dir`);
  }
}

function freeBytes(dir: string): number {
  const st = fs.statfsSync(dir);
  return st.bavail * st.bsize;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e && e.code ? `${e.code}: ${e.message}` : String(err);
}

function noop(): void {}
