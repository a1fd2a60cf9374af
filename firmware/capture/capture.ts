// The supervisor's side of capture: starts the capture thread, receives full segment
// slots, and hands each slot back once the supervisor has sealed it (or dropped it).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createSlotPool, Ctl, SlotPool, SlotState, SegmentReady, CaptureDone, WrappingCounter } from './slots';
import type { CaptureWorkerData } from './worker';
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

export class Capture {
  private readonly pool: SlotPool;
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly worker: Worker;
  readonly kernelRecv = new WrappingCounter();
  readonly kernelDrop = new WrappingCounter();
  readonly kernelIfDrop = new WrappingCounter();
  private finished = false;

  constructor(opts: CaptureOptions, events: CaptureEvents) {
    this.pool = createSlotPool(opts.slots, opts.segmentBytes);
    this.ctl = new Int32Array(this.pool.control);
    this.data = Buffer.from(this.pool.data);
    const wd: CaptureWorkerData = {
      source: opts.source,
      pool: this.pool,
      flushMs: opts.flushMs,
      statsMs: 1000,
      maxPackets: opts.maxPackets,
      waitForSlot: opts.waitForSlot,
    };
    this.worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: wd });
    this.worker.on('message', (m: { type: string } & Record<string, unknown>) => {
      switch (m.type) {
        case 'linktype': events.onLinkType(m.linkType as number); break;
        case 'segment': {
          const seg = m as unknown as SegmentReady;
          const start = seg.slot * this.pool.slotBytes;
          events.onSegment(seg, this.data.subarray(start, start + seg.used));
          break;
        }
        case 'stats':
          this.kernelRecv.update(m.psRecv as number);
          this.kernelDrop.update(m.psDrop as number);
          this.kernelIfDrop.update(m.psIfdrop as number);
          break;
        case 'done': this.finished = true; events.onDone(m as unknown as CaptureDone); break;
        case 'failed': this.finished = true; events.onFailed(m.message as string); break;
      }
    });
    this.worker.on('error', (e) => { if (!this.finished) { this.finished = true; events.onFailed(`capture thread failed: ${e.message}`); } });
    this.worker.on('exit', () => { if (!this.finished) { this.finished = true; events.onFailed('capture thread exited unexpectedly'); } });
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

  kernelDropped(): number {
    return this.kernelDrop.total + this.kernelIfDrop.total;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
