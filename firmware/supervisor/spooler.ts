// Moves full capture slots into the sealed spool, off the capture thread: seal with the
// spool subkey, write hidden then publish, then tell the analysis. When the ring has no
// room (all slots hold unanalysed data) it drops and counts the segment's packets, or,
// for a file replay with spool.onFull "wait", holds the slot until analysis frees one,
// which pauses the replay (the capture thread waits for a free slot).
import { sealSegment, sealedSize } from '../spool/segment';
import type { SpoolRing } from '../spool/ring';
import type { SecretKey } from '../keys/secret-key';
import type { SegmentReady } from '../capture/slots';
import type { RunCounters } from './counters';

interface Held {
  seg: SegmentReady;
  bytes: Buffer;
}

export interface SpoolerEvents {
  /** Segment seq is on the spool and may be read. */
  published(seq: number): void;
  /** The capture slot's bytes are no longer needed. */
  release(slot: number): void;
  dropped(packets: number, why: string): void;
  failed(message: string): void;
}

export class Spooler {
  private readonly held: Held[] = [];
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly ring: SpoolRing,
    private readonly key: SecretKey,
    private readonly runId: Buffer,
    private linkType: number,
    private readonly wait: boolean,
    private readonly counters: RunCounters,
    private readonly events: SpoolerEvents,
  ) {}

  setLinkType(lt: number): void {
    this.linkType = lt;
  }

  /** A full capture slot arrived. */
  accept(seg: SegmentReady, bytes: Buffer): void {
    this.counters.captured += seg.count;
    if (this.held.length > 0 || !this.store(seg, bytes)) {
      if (this.wait) this.held.push({ seg, bytes });
      else {
        this.counters.spoolDropped += seg.count;
        this.events.dropped(seg.count, 'spool full of unanalysed data');
        this.events.release(seg.slot);
      }
    }
  }

  /** Analysis freed a slot: retry what is held. */
  retry(): void {
    while (this.held.length > 0 && this.store(this.held[0].seg, this.held[0].bytes)) this.held.shift();
    this.checkIdle();
  }

  /** Segments accepted but not yet on the spool. */
  pending(): number {
    return this.held.length + this.inFlight;
  }

  /** Resolves when every accepted segment is on the spool (or dropped). */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Drops whatever is still held (a stop that cannot wait for analysis). */
  dropHeld(why: string): void {
    for (const h of this.held.splice(0)) {
      this.counters.spoolDropped += h.seg.count;
      this.events.dropped(h.seg.count, why);
      this.events.release(h.seg.slot);
    }
    this.checkIdle();
  }

  private store(seg: SegmentReady, bytes: Buffer): boolean {
    const r = this.ring.reserve();
    if (r === null) return false;
    const sealed = Buffer.allocUnsafe(sealedSize(bytes.length));
    try {
      sealSegment(this.key, {
        linkType: this.linkType,
        runId: this.runId,
        seq: r.seq,
        firstTsSec: seg.firstSec,
        firstTsUsec: seg.firstUsec,
        lastTsSec: seg.lastSec,
        lastTsUsec: seg.lastUsec,
        packetCount: seg.count,
      }, bytes, sealed);
    } catch (e) {
      this.ring.abandon(r.slot);
      this.events.release(seg.slot);
      this.counters.spoolDropped += seg.count;
      this.events.failed(`sealing segment ${r.seq} failed: ${(e as Error).message}`);
      return true;
    }
    // The plaintext is sealed: the capture slot can be refilled now.
    this.events.release(seg.slot);
    this.inFlight++;
    this.ring.publish(r.slot, sealed).then(
      () => {
        this.inFlight--;
        this.counters.spooled += seg.count;
        this.counters.segmentsSealed++;
        this.events.published(r.seq);
        this.checkIdle();
      },
      (err: Error) => {
        this.inFlight--;
        this.counters.spoolDropped += seg.count;
        this.events.dropped(seg.count, err.message);
        this.checkIdle();
      },
    );
    return true;
  }

  private checkIdle(): void {
    if (this.pending() > 0) return;
    const w = this.idleWaiters.splice(0);
    for (const f of w) f();
  }
}
