// Moves full capture slots into the sealed spool, off the capture thread: seal with the
// spool subkey, write hidden then publish, then tell the analysis. When the ring has no
// room (all slots hold unanalysed data) it drops and counts the segment's packets, or,
// for a file replay with spool.onFull "wait", holds the slot until analysis frees one,
// which pauses the replay (the capture thread waits for a free slot).
//
// At most MAX_IN_FLIGHT sealed segments are being written at once, from reused
// buffers: a disk slower than capture holds the full capture slots (which capture then
// waits for, or drops into and counts), never a growing pile of sealed copies in RAM
// (one per ring slot: 256 MB with the default spool on a busy machine).
import { sealSegment, sealedSize, SegmentAead } from '../spool/segment';
import type { SpoolRing } from '../spool/ring';
import type { SecretKey } from '../keys/secret-key';
import type { SegmentReady } from '../capture/slots';
import type { RunCounters } from './counters';

const MAX_IN_FLIGHT = 2;

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
    /** Chosen at boot by chooseSegmentAead. */
    private readonly aead: SegmentAead,
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
    this.counters.capturedBytes += seg.used - 16 * seg.count; // minus each pcap record header
    this.held.push({ seg, bytes });
    this.drain();
  }

  /** Analysis freed a slot: retry what is held. */
  retry(): void {
    this.drain();
  }

  /** Seals and writes held segments in order while fewer than MAX_IN_FLIGHT are being written. */
  private drain(): void {
    while (this.held.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const h = this.held[0];
      if (!this.store(h.seg, h.bytes)) {
        if (this.wait) break; // the replay waits for analysis to free a ring slot
        this.counters.spoolDropped += h.seg.count;
        this.events.dropped(h.seg.count, 'spool full of unanalysed data');
        this.events.release(h.seg.slot);
      }
      this.held.shift();
    }
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
    const size = sealedSize(bytes.length);
    const whole = this.takeBuffer();
    const sealed = whole.subarray(0, size);
    try {
      sealSegment(this.key, {
        aead: this.aead,
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
      this.giveBack(whole);
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
        this.giveBack(whole);
        this.inFlight--;
        this.counters.spooled += seg.count;
        this.counters.segmentsSealed++;
        this.events.published(r.seq);
        this.drain();
      },
      (err: Error) => {
        this.giveBack(whole);
        this.inFlight--;
        this.counters.spoolDropped += seg.count;
        this.events.dropped(seg.count, err.message);
        this.drain();
      },
    );
    return true;
  }

  /**
   * Sealing buffers, reused: a new one per segment would wait for the garbage collector.
   * Each is a whole slot long, so any segment fits: sized to the segment that needed it,
   * a buffer was too short for the next, larger one about half the time, and each new
   * 4 MiB cost 1024 page faults with zeroing inside the cipher (9% of sealtap's samples
   * in a profile at 35,000 packets/s of 1518-byte frames).
   */
  private readonly spare: Buffer[] = [];

  private takeBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.ring.slotBytes);
  }

  private giveBack(b: Buffer): void {
    if (this.spare.length < MAX_IN_FLIGHT) this.spare.push(b);
  }

  private checkIdle(): void {
    if (this.pending() > 0) return;
    const w = this.idleWaiters.splice(0);
    for (const f of w) f();
  }
}
