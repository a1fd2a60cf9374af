// The supervisor's side of capture: starts the capture thread (or, for a live source
// with source.threads > 1, that many threads in one PACKET_FANOUT group, which share the
// slots), receives full segment slots, and hands each slot back once the supervisor has
// sealed it (or dropped it).
//
// Ordering with several threads: the kernel gives both directions of a flow to the same
// thread, so a flow's packets are in order inside one thread's segments, and segments
// keep the order in which they were filled. Segments of different threads interleave in
// the spool in the order they are sealed, so their time spans overlap: packets are in
// order per flow, not across flows (docs/run-config.md, source.threads).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { allocSlotPool, touchSlotPool, releaseSlotPool, Ctl, SlotPool, SlotState, SegmentReady, CaptureDone, CaptureMessage, WrappingCounter } from './slots';
import type { CaptureWorkerData, SpareMessage } from './worker';
import type { Source } from '../supervisor/config';

export interface CaptureEvents {
  /** Link type of the source, before the first segment. */
  onLinkType(linkType: number): void;
  /** A full slot: call capture.release(seg.slot) once its bytes are no longer needed. */
  onSegment(seg: SegmentReady, bytes: Buffer): void;
  onDone(done: CaptureDone): void;
  onFailed(message: string): void;
}

export interface CaptureOptions {
  source: Source;
  segmentBytes: number;
  /** How many segment buffers the capture thread may fill before the supervisor catches up. */
  slots: number;
  flushMs: number;
  maxPackets: number;
  waitForSlot: boolean;
}

const WORKER_FILE = path.join(__dirname, 'worker.js');

/** How many capture threads a source takes: source.threads for an interface, else one. */
export function captureThreadCount(source: Source): number {
  return source.kind === 'interface' ? source.threads : 1;
}

/**
 * Capture threads started ahead of need (sealtap run starts them before the boot's
 * phases): a thread's start (node's environment for it, then its modules) took
 * 100-200 ms of a core after the boot, while the supervisor waited for it and the
 * other core was idle; started ahead it overlaps the boot. A spare holds nothing
 * secret: it is handed its slots and its source when a Capture takes it. Given the
 * pool's shape, the first spare also touches the slot pool meanwhile, which took
 * 4-9 ms of the supervisor's thread at capture start, and up to 90 where the machine
 * had taken the memory back. Spares do not keep the process alive, and close() ends
 * those not taken.
 */
export class SpareCaptureThreads {
  private readonly spares: Worker[] = [];
  /** Spares that ended (or failed) before they were taken. */
  private readonly gone = new WeakSet<Worker>();
  /** The slot pool the first spare touches, until a Capture takes it. */
  private pool: SlotPool | null = null;
  private toucher: Worker | null = null;

  constructor(n: number, pool: { slots: number; slotBytes: number } | null = null) {
    for (let i = 0; i < n; i++) {
      const w = new Worker(WORKER_FILE, { workerData: null });
      w.unref();
      // Until a Capture takes it, an error must not be unhandled.
      w.on('error', () => this.gone.add(w));
      w.once('exit', () => this.gone.add(w));
      this.spares.push(w);
    }
    if (pool !== null && n > 0) {
      try {
        this.pool = allocSlotPool(pool.slots, pool.slotBytes);
      } catch {
        // The Capture makes its own, and meets the same failure where a run reports it.
        return;
      }
      this.toucher = this.spares[0];
      const m: SpareMessage = { type: 'touch', pool: this.pool };
      this.toucher.postMessage(m);
    }
  }

  /**
   * The pool, if it has this shape, touched or being touched (by its spare, or here if
   * that spare ended first); null otherwise. Taken once.
   */
  takePool(slots: number, slotBytes: number): SlotPool | null {
    const pool = this.pool;
    this.pool = null;
    if (pool === null) return null;
    if (pool.slots !== slots || pool.slotBytes !== slotBytes) {
      releaseSlotPool(pool);
      return null;
    }
    if (this.toucher === null || this.gone.has(this.toucher)) touchSlotPool(pool);
    return pool;
  }

  /** A spare still waiting, or null (none left, or it ended before it was taken). */
  take(): Worker | null {
    const w = this.spares.shift();
    if (w === undefined) return null;
    if (this.gone.has(w)) return null;
    w.ref();
    return w;
  }

  /** The spares not taken yet. */
  waiting(): readonly Worker[] {
    return this.spares.slice();
  }

  close(): void {
    for (const w of this.spares.splice(0)) void w.terminate();
    if (this.pool !== null) releaseSlotPool(this.pool);
    this.pool = null;
  }
}

export class Capture {
  private readonly pool: SlotPool;
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly workers: Worker[] = [];
  private readonly drop: WrappingCounter[] = [];
  private readonly ifDrop: WrappingCounter[] = [];
  private finished = false;

  constructor(opts: CaptureOptions, events: CaptureEvents, spares: SpareCaptureThreads | null = null) {
    // The threads start first: touching the slots (32 MiB or more) takes less time than
    // a thread's start, which it overlaps; they write only once it is done. A pool made
    // ahead is touched already, or being touched by its spare thread.
    const made = spares?.takePool(opts.slots, opts.segmentBytes) ?? null;
    this.pool = made ?? allocSlotPool(opts.slots, opts.segmentBytes);
    this.ctl = new Int32Array(this.pool.control);
    this.data = Buffer.from(this.pool.data);
    const threads = captureThreadCount(opts.source);
    // A group id of this process's own; two boxes on one host do not share a group.
    const fanout = threads > 1 ? { group: 1 + ((process.pid * 7919 + Date.now()) % 0xfffe), members: threads } : null;
    let linkTypes = 0;
    const done: CaptureDone[] = [];
    let exited = 0;
    const fail = (message: string): void => {
      if (this.finished) return;
      this.finished = true;
      this.stop();
      events.onFailed(message);
    };
    try {
      for (let thread = 0; thread < threads; thread++) {
        this.drop.push(new WrappingCounter());
        this.ifDrop.push(new WrappingCounter());
        const wd: CaptureWorkerData = {
          source: opts.source,
          pool: this.pool,
          flushMs: opts.flushMs,
          statsMs: 1000,
          maxPackets: opts.maxPackets,
          waitForSlot: opts.waitForSlot,
          thread,
          fanout,
        };
        const spare = spares?.take() ?? null;
        const worker = spare ?? new Worker(WORKER_FILE, { workerData: wd });
        this.workers.push(worker);
        let ended = false; // this thread sent 'done' or 'failed'
        worker.on('message', (m: CaptureMessage) => {
          switch (m.type) {
            // Capture runs once every thread is ready.
            case 'linktype': if (++linkTypes === threads) events.onLinkType(m.linkType); break;
            case 'segment': {
              const start = m.slot * this.pool.slotBytes;
              events.onSegment(m, this.data.subarray(start, start + m.used));
              break;
            }
            case 'stats':
              this.drop[m.thread].update(m.psDrop);
              this.ifDrop[m.thread].update(m.psIfdrop);
              break;
            case 'done':
              ended = true;
              done.push(m);
              if (done.length === threads && !this.finished) {
                this.finished = true;
                events.onDone({
                  type: 'done',
                  reason: done[0].reason,
                  captured: done.reduce((n, d) => n + d.captured, 0),
                  slotDropped: done.reduce((n, d) => n + d.slotDropped, 0),
                  readError: done.find((d) => d.readError !== null)?.readError ?? null,
                });
              }
              break;
            case 'failed': ended = true; fail(m.message); break;
          }
        });
        worker.on('error', (e) => fail(`capture thread failed: ${e.message}`));
        worker.on('exit', () => {
          // No thread writes to the pool any more: children may have its pages again.
          if (++exited === threads) releaseSlotPool(this.pool);
          if (!ended) fail('capture thread exited unexpectedly');
        });
        if (spare) {
          const m: SpareMessage = { type: 'start', data: wd };
          spare.postMessage(m);
        }
      }
      if (made === null) touchSlotPool(this.pool);
    } catch (e) {
      // A thread that cannot start: the pool is let go with no thread writing to it.
      void Promise.all(this.workers.map((w) => w.terminate())).finally(() => releaseSlotPool(this.pool));
      throw e;
    }
  }

  /** Hands a slot back to the capture thread. */
  release(slot: number): void {
    Atomics.store(this.ctl, Ctl.count + slot, SlotState.free);
    Atomics.add(this.ctl, Ctl.freed, 1);
    Atomics.notify(this.ctl, Ctl.freed);
  }

  /** Slots the capture thread filled that the supervisor has not handed back. */
  busySlots(): number {
    let n = 0;
    for (let i = 0; i < this.pool.slots; i++) if (Atomics.load(this.ctl, Ctl.count + i) === SlotState.full) n++;
    return n;
  }

  /** Asks the capture thread to stop; onDone follows. */
  stop(): void {
    Atomics.store(this.ctl, Ctl.stop, 1);
    Atomics.notify(this.ctl, Ctl.freed);
    Atomics.notify(this.ctl, Ctl.sleep);
  }

  /** Times capture found every slot busy and waited for one (Ctl.waits). */
  slotWaits(): number {
    return Atomics.load(this.ctl, Ctl.waits);
  }

  kernelDropped(): number {
    return this.drop.reduce((n, c) => n + c.total, 0) + this.ifDrop.reduce((n, c) => n + c.total, 0);
  }

  async terminate(): Promise<void> {
    // Each thread's exit event gives the pool back once the last has gone.
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
