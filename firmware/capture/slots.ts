// Shared memory between the capture thread and the supervisor thread.
// Capture fills preallocated segment buffers; the supervisor seals and writes them,
// then hands them back. Nothing per packet crosses the thread boundary: only one
// message per full segment. What fails if you change this: the capture thread must
// never wait on disk or crypto, so these buffers are its only elastic room.
import { batchBinding } from './batch-binding';

/** Slot states in the control array. */
export const SlotState = { free: 0, filling: 1, full: 2 } as const;

/** Control array cells (Int32), after the per-slot states. */
export const Ctl = {
  /** Set to 1 by the supervisor to ask the capture thread to stop. */
  stop: 0,
  /** Bumped (and notified) whenever a slot is returned; the file replay waits on it. */
  freed: 1,
  /** Scratch cell used only for sleeping (original-speed replay). */
  sleep: 2,
  /** Capture threads of a fanout group that have joined it (they wait for all). */
  joined: 3,
  /**
   * Times a capture thread found every slot busy and waited for one: meanwhile packets
   * waited in the kernel's ring (a live source) or the file replay paused.
   */
  waits: 4,
  /** Set to 1 once the supervisor has touched the slots' pages: capture threads wait for it before they write. */
  ready: 5,
  count: 6,
} as const;

export interface SlotPool {
  slotBytes: number;
  slots: number;
  /** slots × slotBytes bytes. */
  data: SharedArrayBuffer;
  /** Ctl.count cells, then one state per slot. */
  control: SharedArrayBuffer;
}

export function createSlotPool(slots: number, slotBytes: number): SlotPool {
  const pool = allocSlotPool(slots, slotBytes);
  touchSlotPool(pool);
  return pool;
}

/**
 * The pool's memory, not yet touched: capture threads may start (their start takes
 * longer than touching it) but write to it only after touchSlotPool (Ctl.ready).
 */
export function allocSlotPool(slots: number, slotBytes: number): SlotPool {
  const data = new SharedArrayBuffer(slots * slotBytes);
  // The capture thread should take no page fault on its slots. Kept from children: a
  // fork (every child process starts with one) would write-protect these pages until
  // the child execs, and the capture thread's next write to each would fault. Then
  // every page is touched (touchSlotPool), before capture starts, instead of on the
  // capture thread's first write while the kernel's ring fills. releaseSlotPool undoes
  // the first before the pool is let go.
  const err = batchBinding.keepFromChildren(Buffer.from(data), true);
  if (err !== 0) throw new Error(`cannot keep the capture slots from child processes (madvise errno ${err})`);
  return {
    slotBytes,
    slots,
    data,
    control: new SharedArrayBuffer((Ctl.count + slots) * 4),
  };
}

/**
 * Maps every page of the pool in, then lets the capture threads write to it. The kernel
 * does it in one call (MADV_POPULATE_WRITE): filling 32 MiB of shared memory from
 * JavaScript took 26-48 ms of the supervisor's thread, a page fault per page and a
 * write per byte, while the capture thread started; the call took 5-7 ms. A kernel
 * without that call gets every page written instead.
 */
export function touchSlotPool(pool: SlotPool): void {
  if (batchBinding.prefault(Buffer.from(pool.data)) !== 0) new Uint8Array(pool.data).fill(0);
  const ctl = new Int32Array(pool.control);
  Atomics.store(ctl, Ctl.ready, 1);
  Atomics.notify(ctl, Ctl.ready);
}

/**
 * Lets children have the pool's pages again, once no thread writes to it any more. The
 * kernel keeps the flag on the pages after the pool is freed, and memory the allocator
 * hands out again (a child's arguments, say) would be missing in the next child.
 */
export function releaseSlotPool(pool: SlotPool): void {
  batchBinding.keepFromChildren(Buffer.from(pool.data), false);
}

/** What the capture thread tells the supervisor about one full segment. */
export interface SegmentReady {
  type: 'segment';
  slot: number;
  /** Bytes of pcap records in the slot. */
  used: number;
  count: number;
  firstSec: number;
  firstUsec: number;
  lastSec: number;
  lastUsec: number;
}

export interface KernelStats {
  type: 'stats';
  /** The capture thread (each has its own socket and counters). */
  thread: number;
  /** Raw 32-bit counters from pcap_stats; they wrap. */
  psRecv: number;
  psDrop: number;
  psIfdrop: number;
}

export interface CaptureDone {
  type: 'done';
  /** Why capture ended: "stopped" or "end of file". */
  reason: string;
  /** Packets handed to a slot. */
  captured: number;
  /** Packets dropped because every slot was busy (live sources only). */
  slotDropped: number;
  /** Set when libpcap reported an error while reading (e.g. a truncated file). */
  readError: string | null;
}

export interface CaptureFailed {
  type: 'failed';
  message: string;
}

/** The source's pcap LINKTYPE_ number, sent once before the first segment. */
export interface LinkTypeKnown {
  type: 'linktype';
  linkType: number;
}

export type CaptureMessage = LinkTypeKnown | SegmentReady | KernelStats | CaptureDone | CaptureFailed;

/** Counts a 32-bit counter that wraps around into a running total. */
export class WrappingCounter {
  private last = 0;
  total = 0;

  update(raw: number): number {
    const now = raw >>> 0;
    this.total += (now - this.last + 0x1_0000_0000) % 0x1_0000_0000;
    this.last = now;
    return this.total;
  }
}
