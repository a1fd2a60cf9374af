// FrameSequencer: turns outbox records into numbered frames, keeps the hash chain and
// emits signed CHECKPOINT frames, and produces END last. One per session.
import { RecordType, recordTypeName } from './records';
import { Outbox, RunPacker } from './outbox';
import { addon } from '../capture/addon';
import {
  bodyLimits, buildFrame, compressBody, fragmentRecord, frameToWire, packRecords,
  FLAG_FEC, FLAG_FRAGMENT, MAX_PAYLOAD_BYTES, MAX_RAW_FRAME_BYTES, TARGET_BODY_BYTES,
} from './frame';
import { FecParams, RepairEncoder } from './fec';
import { chainHash, checkpointMessage, CheckpointRecord, frameDigest, ZERO_HASH } from './checkpoint';
import { FrameSealer, staysClear } from './frame-seal';

/**
 * With encryption the sequence number is part of the nonce and must never repeat: the
 * session stops sending this close to the u32 wrap (room left for CHECKPOINT and END).
 * Whatever is still queued then is dropped and counted at close.
 */
const LAST_ENCRYPTED_SEQ = 0xffffffff - 256;

export class FrameSequencer {
  private seq = 0;
  private frames = 0;
  private readonly counts: Record<string, number> = {};
  private digests: Buffer[] = [];
  private firstUncovered = 0;
  private prevHash: Buffer = ZERO_HASH;
  private end: Buffer | null = null;
  private endSent = false;
  private finalCheckpointSent = false;
  private readonly repairs: RepairEncoder | null;
  private repairCount = 0;
  private readonly maxRecord: number;
  private readonly chunk: number;
  /**
   * Reused for each frame's packed body and, when no repair frame keeps it, its raw
   * frame: both are consumed (copied, hashed, COBS-encoded) before frame() returns. A
   * new 4 KiB Buffer each per frame was most of the supervisor's garbage on a packets
   * line (docs/benchmarks.md).
   */
  private readonly bodyScratch = Buffer.allocUnsafe(MAX_PAYLOAD_BYTES);
  private readonly rawScratch = Buffer.allocUnsafe(MAX_RAW_FRAME_BYTES);

  constructor(
    private readonly session: Buffer,
    private readonly signer: { sign(msg: Buffer): Buffer },
    private readonly checkpointEveryFrames: number,
    /** Encrypts every frame but BOOT/CHECKPOINT/FEC to the researcher's key; null = clear. */
    private readonly sealer: FrameSealer | null = null,
    /** Reed-Solomon repair frames after every k data frames (fec.ts); null = none. */
    fec: FecParams | null = null,
    /** Deflate each frame's body when that shortens it (writer.ts decides per line). */
    private readonly deflate = true,
    /** Body size to aim for (writer.ts decides per line: 1 KiB on a tty, 4 KiB on a file or pipe). */
    private readonly bodyBytes = TARGET_BODY_BYTES,
  ) {
    this.repairs = fec ? new RepairEncoder(fec) : null;
    ({ maxRecord: this.maxRecord, chunk: this.chunk } = bodyLimits(bodyBytes));
  }

  /** FEC repair frames sent (not records: END.records does not count them). */
  repairFramesSent(): number {
    return this.repairCount;
  }

  framesSent(): number {
    return this.frames;
  }

  checkpointsSent(): number {
    return this.counts.CHECKPOINT ?? 0;
  }

  recordsSent(): Record<string, number> {
    return { ...this.counts };
  }

  /** Frames sent since the last CHECKPOINT (not yet covered by a signature). */
  uncovered(): number {
    return this.digests.length;
  }

  /** END goes out after everything in the outbox and after a final CHECKPOINT. */
  setEnd(body: Buffer): void {
    this.end = body;
  }

  endWritten(): boolean {
    return this.endSent;
  }

  /**
   * Wire bytes of the next frame(s) to write, or null if there is nothing to send.
   * `timeForCheckpoint` asks for a CHECKPOINT now if any frame is uncovered.
   */
  next(outbox: Outbox, timeForCheckpoint: boolean): Buffer | null {
    if (this.sealer && this.seq >= LAST_ENCRYPTED_SEQ) return null;
    const n = this.digests.length;
    if (!this.finalCheckpointSent && n > 0 && (n >= this.checkpointEveryFrames || timeForCheckpoint)) return this.checkpointFrame();
    const type = outbox.nextType();
    if (type >= 0) return this.takenFrames(type, outbox);
    if (this.end && !this.endSent) {
      // One final CHECKPOINT: the repair frames it may complete a group with are, like END,
      // not covered (another checkpoint for them would not match END's count).
      if (n > 0 && !this.finalCheckpointSent) {
        this.finalCheckpointSent = true;
        return this.checkpointFrame();
      }
      this.endSent = true;
      const end = this.recordFrames(RecordType.END, [this.end]);
      // The session's last, short FEC group: its repair frames follow END.
      const tail = this.repairs?.flush();
      return tail ? Buffer.concat([end, ...tail.map((b) => this.repairFrame(b))]) : end;
    }
    return null;
  }

  /**
   * The next batch of `type` from the outbox, packed as it is taken (each record's u16
   * length, then its bytes, straight into the body): no list of records in between. A
   * record too long for one body comes alone (the outbox takes it alone) and goes in
   * fragments.
   */
  private takenFrames(type: number, outbox: Outbox): Buffer {
    this.packed = 0;
    this.tooLong = null;
    const n = outbox.take(type, this.bodyBytes, this.packTaken, type === RecordType.PACKET ? this.runPacker : undefined);
    const name = recordTypeName[type];
    this.counts[name] = (this.counts[name] ?? 0) + n;
    const long = this.tooLong as Buffer | null;
    if (long !== null) {
      this.tooLong = null;
      return this.fragmentFrames(type, long);
    }
    return this.frame(type, this.bodyScratch.subarray(0, this.packed), 0);
  }

  /** Bytes of bodyScratch packed by packTaken so far. */
  private packed = 0;
  /** The record of this take that needs fragments (always the only one). */
  private tooLong: Buffer | null = null;
  private readonly packTaken = (buf: Buffer, start: number, end: number): void => {
    const len = end - start;
    if (len > this.maxRecord) {
      this.tooLong = buf.subarray(start, end);
      return;
    }
    const body = this.bodyScratch;
    const o = this.packed;
    body[o] = len >>> 8;
    body[o + 1] = len & 0xff;
    buf.copy(body, o + 2, start, end);
    this.packed = o + 2 + len;
  };

  /**
   * packTaken for many records of a run at once, by the capture addon (packRecords): a
   * call into C per frame instead of a visit, a length and a Buffer copy per record.
   */
  private readonly runPacker: RunPacker = {
    done: new Int32Array(3),
    pack: (run: Buffer, off: number, count: number, room: number): void => {
      addon().packRecords(run, off, count, this.bodyScratch, this.packed, room, this.runPacker.done);
      this.packed += this.runPacker.done[2];
    },
  };

  private recordFrames(type: number, records: Buffer[]): Buffer {
    const name = recordTypeName[type];
    this.counts[name] = (this.counts[name] ?? 0) + records.length;
    if (records.length === 1 && records[0].length > this.maxRecord) return this.fragmentFrames(type, records[0]);
    return this.frame(type, packRecords(records, this.maxRecord, this.bodyScratch), 0);
  }

  private fragmentFrames(type: number, record: Buffer): Buffer {
    return Buffer.concat(fragmentRecord(record, this.chunk).map((body) => this.frame(type, body, FLAG_FRAGMENT)));
  }

  private checkpointFrame(): Buffer {
    const hash = chainHash(this.prevHash, this.digests);
    const firstSeq = this.firstUncovered;
    const lastSeq = this.firstUncovered + this.digests.length - 1;
    const sig = this.signer.sign(checkpointMessage(this.session, firstSeq, lastSeq, this.prevHash, hash));
    const cp: CheckpointRecord = { firstSeq, lastSeq, prev: this.prevHash.toString('hex'), hash: hash.toString('hex'), sig: sig.toString('hex') };
    this.prevHash = hash;
    this.digests = [];
    this.counts.CHECKPOINT = (this.counts.CHECKPOINT ?? 0) + 1;
    const cpSeq = this.seq;
    const wire = this.frame(RecordType.CHECKPOINT, packRecords([Buffer.from(JSON.stringify(cp))]), 0, false);
    // Not this.seq: repair frames may have followed the CHECKPOINT in the same call, and
    // they are the first frames the next checkpoint covers.
    this.firstUncovered = (cpSeq + 1) >>> 0;
    return wire;
  }

  private frame(type: number, body: Buffer, extraFlags: number, chained = true): Buffer {
    const { payload, flags } = this.deflate ? compressBody(body) : { payload: body, flags: 0 };
    const fields = { flags: flags | extraFlags, type, session: this.session, seq: this.seq };
    // Deflate before encryption: ciphertext does not compress.
    // Repair frames are computed from the data frames of a group, so raw frames are kept then.
    const raw = this.sealer && !staysClear(type) ? this.sealer.sealFrame(fields, payload) : buildFrame({ flags: fields.flags, type, session: this.session, seq: fields.seq, payload }, this.repairs ? undefined : this.rawScratch);
    this.seq = (this.seq + 1) >>> 0;
    this.frames++;
    if (chained) this.digests.push(frameDigest(raw));
    const wire = frameToWire(raw);
    if (!this.repairs || type === RecordType.FEC) return wire;
    // The k-th data frame of a group: its m repair frames go right after it.
    const bodies = this.repairs.add(fields.seq, raw);
    return bodies ? Buffer.concat([wire, ...bodies.map((b) => this.repairFrame(b))]) : wire;
  }

  /** A repair frame: clear (its parity is over frames as sent), covered by the next CHECKPOINT like any frame. */
  private repairFrame(body: Buffer): Buffer {
    this.repairCount++;
    return this.frame(RecordType.FEC, body, FLAG_FEC);
  }
}
