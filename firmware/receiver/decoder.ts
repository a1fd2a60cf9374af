// LineDecoder: bytes of the line in, records of each session out. Resyncs at 0x00,
// counts bad frames by reason, tracks sequence gaps, reassembles fragments, verifies
// checkpoints, and notices a new session when the box reboots.
import { BootRecord, EndRecord, LogRecord, RecordType, StatusRecord, recordTypeName } from '../channel/records';
import {
  countPackedRecords, decodeFrame, decodeRawFrame, DecodedFrame, frameBody, FrameError, parseFragment, unpackRecords,
  FLAG_ENCRYPTED, FLAG_FRAGMENT,
} from '../channel/frame';
import { checkFecParams } from '../channel/fec';
import { ArrivedFrame, FecRepair } from './fec-repair';
import { frameDigest } from '../channel/checkpoint';
import { freeKey, openFramePayload, openSessionKey, ResultsKey, staysClear } from '../channel/frame-seal';
import { BlockSplitter } from './splitter';
import { assembleHeldBoot, HeldFrame, parseBootJson } from './held-boot';
import { SessionState } from './session';
import { lateFrame, verifyCheckpoint } from './verify';
import { decodeCompactResult } from '../channel/result-codec';

export interface RecordSink {
  boot(s: SessionState, boot: BootRecord): void;
  status(s: SessionState, st: StatusRecord): void;
  log(s: SessionState, log: LogRecord): void;
  /** FLOW, DNS and STREAM records, as the module emitted them (FLOW and DNS from JSON or the compact form). */
  result(s: SessionState, type: number, body: Record<string, unknown>): void;
  packet(s: SessionState, pcapRecord: Buffer): void;
  /**
   * One PACKET record, body[start, end) of its frame's body: what packet() gets, without
   * a Buffer per record. Optional: a sink without it gets packet().
   */
  packetIn?(s: SessionState, body: Buffer, start: number, end: number): void;
  /**
   * Every PACKET record of a frame's body at once (each behind its u16 length; the
   * lengths tile the body, and the records are counted): what packetIn gets one by one.
   * Optional: a sink without it gets packetIn() or packet().
   */
  packetsIn?(s: SessionState, body: Buffer): void;
  end(s: SessionState, end: EndRecord): void;
  sessionClosed(s: SessionState): void;
  /** The receiver's own remarks (a session it cannot decrypt…), for log.txt. */
  notice?(s: SessionState, severity: number, msg: string): void;
}

export interface DecoderOptions {
  /** The researcher's key pair, to open sessions whose results are encrypted (--key). */
  resultsKey?: ResultsKey | null;
  /** Ignore FEC repair frames (count them, rebuild nothing): what a receiver without FEC does. */
  ignoreFec?: boolean;
}

/** Why a frame was refused: the frame format's reasons, plus 'auth' for an encrypted frame that fails authentication. */
export type BadFrameReason = FrameError | 'auth';

/** Frames of a session held while waiting for its BOOT; beyond that they are counted lost. */
const MAX_HELD_FRAMES = 16384;

export class LineDecoder {
  private readonly splitter = new BlockSplitter((b) => this.block(b));
  readonly sessions = new Map<string, SessionState>();
  current: SessionState | null = null;
  badFrames = 0;
  readonly badFrameReasons: Partial<Record<BadFrameReason, number>> = {};
  bytesRead = 0;

  constructor(private readonly sink: RecordSink, private readonly opts: DecoderOptions = {}) {}

  push(chunk: Uint8Array): void {
    this.bytesRead += chunk.length;
    this.splitter.push(chunk);
  }

  skippedBytes(): number {
    return this.splitter.skippedBytes;
  }

  /** Noise runs longer than any frame count as bad frames too. */
  totalBadFrames(): number {
    return this.badFrames + this.splitter.overlongBlocks;
  }

  /** End of input: close every open session. */
  finish(): void {
    for (const s of this.sessions.values()) {
      s.fec?.finish();
      if (!s.opened()) {
        s.lostBeforeBoot += s.heldBeforeBoot.length;
        s.heldBeforeBoot = [];
      }
      if (s.closedBy === null && s.opened()) this.close(s, 'end of input');
      if (s.sessionKey) {
        freeKey(s.sessionKey);
        s.sessionKey = null;
      }
    }
  }

  private bad(reason: BadFrameReason): void {
    this.badFrames++;
    this.badFrameReasons[reason] = (this.badFrameReasons[reason] ?? 0) + 1;
  }

  private block(b: Buffer): void {
    const f = decodeFrame(b);
    if (typeof f === 'string') return this.bad(f);
    const id = f.session.toString('hex');
    let s = this.sessions.get(id);
    if (!s) {
      s = new SessionState(id, Buffer.from(f.session));
      this.sessions.set(id, s);
    }
    s.lastSeenMs = Date.now();
    if (s.opened()) return this.frame(s, f);
    // Not synced to this session yet: hold frames until its BOOT says what they are.
    if (f.type !== RecordType.BOOT) return void this.hold(s, f);
    // A BOOT too long for one frame (stream declarations) comes in pieces: held like
    // the rest until its last piece arrives (held-boot.ts); then delivered with them.
    const pieces = (f.flags & FLAG_FRAGMENT) !== 0;
    let boot: BootRecord | null;
    if (pieces) {
      const last = this.hold(s, f);
      const whole = last ? assembleHeldBoot(s.heldBeforeBoot, last) : null;
      if (!whole) return;
      boot = parseBootJson(whole);
    } else boot = this.parseBoot(f);
    if (!boot) return void s.badRecords++;
    if (this.current && this.current !== s && this.current.closedBy === null) this.close(this.current, 'new session');
    this.current = s;
    s.boot = boot;
    s.checkpointKey = Buffer.from(typeof boot.checkpointKey === 'string' ? boot.checkpointKey : '', 'hex');
    this.openKey(s, boot);
    this.startFec(s, boot);
    const held = s.heldBeforeBoot;
    s.heldBeforeBoot = [];
    for (const h of held) this.frame(s, { ...h, session: s.sessionBytes });
    if (!pieces) this.frame(s, f);
  }

  /** Keeps a frame of a session not synced yet (copied: the splitter reuses its buffer); null once too many are held. */
  private hold(s: SessionState, f: DecodedFrame): HeldFrame | null {
    if (s.heldBeforeBoot.length >= MAX_HELD_FRAMES) {
      s.lostBeforeBoot++;
      return null;
    }
    const h = { seq: f.seq, type: f.type, flags: f.flags, raw: Buffer.from(f.raw), payload: Buffer.from(f.payload) };
    s.heldBeforeBoot.push(h);
    return h;
  }

  private parseBoot(f: DecodedFrame): BootRecord | null {
    const body = frameBody(f);
    const recs = body ? unpackRecords(body) : null;
    if (!recs || recs.length === 0) return null;
    return parseBootJson(recs[recs.length - 1]);
  }

  private close(s: SessionState, why: 'end' | 'new session' | 'end of input'): void {
    // Frames held for an FEC rebuild are handed on (gaps final) before the session closes.
    if (why !== 'end') s.fec?.finish();
    s.closedBy = why;
    this.sink.sessionClosed(s);
  }

  /** An encrypted session: open its session key with --key, or say once how to get at the results. */
  private openKey(s: SessionState, boot: BootRecord): void {
    if (!boot.encryption || s.sessionKey || s.keyProblem) return;
    const key = this.opts.resultsKey;
    s.sessionKey = key ? openSessionKey(boot.encryption, key) : null;
    if (s.sessionKey) return;
    s.keyProblem = key ? 'wrong key' : 'no key';
    this.sink.notice?.(s, 3, key
      ? `session ${s.id}: results are encrypted to another researcher key than --key; its records cannot be read: give the .key file whose .pub is in run.json channel.recipient`
      : `session ${s.id}: results are encrypted to the researcher's key; its records cannot be read: run sealtap receive again with --key FILE.key`);
  }

  /** Repair frames on this session: rebuild lost frames and deliver in order (fec-repair.ts). */
  private startFec(s: SessionState, boot: BootRecord): void {
    if (!boot.fec || s.fec || this.opts.ignoreFec) return;
    try {
      checkFecParams(boot.fec, 'BOOT.fec');
    } catch {
      return void s.badRecords++;
    }
    s.fec = new FecRepair({ k: boot.fec.k, m: boot.fec.m }, {
      deliver: (a) => this.deliver(s, a),
      rebuilt: (raw, seq) => {
        const f = decodeRawFrame(raw);
        // The CRC inside the rebuilt frame checks the rebuild itself.
        if (typeof f === 'string' || f.seq !== seq || !f.session.equals(s.sessionBytes)) return void s.badRebuilds++;
        this.frame(s, f, true);
      },
      firstSeen: () => s.seq.first,
      lastSeen: () => s.seq.last(),
    });
  }

  private frame(s: SessionState, f: DecodedFrame, rebuilt = false): void {
    let payload: Buffer | null = f.payload;
    if (s.sessionKey) {
      // In an encrypted session every frame but BOOT/CHECKPOINT/FEC must open with the
      // session key. One that does not (tampered with a valid CRC, or injected in the
      // clear) is a bad frame: never accepted, so it stays missing.
      const plain = f.flags & FLAG_ENCRYPTED ? openFramePayload(s.sessionKey, f) : staysClear(f.type) ? f.payload : null;
      if (!plain) return this.bad('auth');
      payload = plain;
    }
    if (!s.seq.accept(f.seq)) return;
    s.frames++;
    if (rebuilt) s.repairedFrames++;
    if (f.type !== RecordType.CHECKPOINT) s.digests.set(f.seq, frameDigest(f.raw));
    if (s.waitingCheckpoints.length > 0 && f.seq < s.seq.last()) lateFrame(s, f.seq);
    if (f.flags & FLAG_ENCRYPTED) {
      if (s.sessionKey) s.decryptedFrames++;
      else {
        s.encryptedFrames++;
        payload = null;
      }
    }
    // Repair frames are not records: END.records does not count them either.
    if (f.type === RecordType.FEC) s.repairFrames++;
    const a: ArrivedFrame = { f, payload };
    if (s.fec) return s.fec.arrive(a);
    this.deliver(s, a);
  }

  /** A frame's records to the sink (in sequence order when FEC is on). */
  private deliver(s: SessionState, a: ArrivedFrame): void {
    const f = a.f;
    if (a.payload === null || f.type === RecordType.FEC) return;
    const body = frameBody({ ...f, payload: a.payload });
    if (!body) return void s.badRecords++;
    if (f.flags & FLAG_FRAGMENT) return this.fragment(s, f, body);
    if (f.type === RecordType.PACKET && (this.sink.packetsIn || this.sink.packetIn)) {
      // Checked first, as unpackRecords does: a body whose lengths do not tile it gives no record.
      const n = countPackedRecords(body);
      if (n < 0) return void s.badRecords++;
      s.count(recordTypeName[RecordType.PACKET], n);
      if (this.sink.packetsIn) return this.sink.packetsIn(s, body);
      for (let o = 0; o < body.length;) {
        const start = o + 2;
        o = start + body.readUInt16BE(o);
        this.sink.packetIn!(s, body, start, o);
      }
      return;
    }
    const recs = unpackRecords(body);
    if (!recs) return void s.badRecords++;
    for (const r of recs) this.record(s, f.type, r, f.seq);
  }

  private fragment(s: SessionState, f: DecodedFrame, body: Buffer): void {
    const p = parseFragment(body);
    if (!p) return void s.badRecords++;
    let a = s.fragment;
    if (a && (p.offset === 0 || a.type !== f.type || a.total !== p.total || a.got !== p.offset || !this.follows(s, a.lastSeq, f.seq))) {
      s.lostFragmentedRecords++;
      a = s.fragment = null;
    }
    if (!a) {
      if (p.offset !== 0) return; // a piece of a record whose start we lost: counted when that was noticed
      a = s.fragment = { type: f.type, total: p.total, buf: Buffer.allocUnsafe(p.total), got: 0, lastSeq: f.seq };
    }
    p.bytes.copy(a.buf, a.got);
    a.got += p.bytes.length;
    a.lastSeq = f.seq;
    if (a.got === a.total) {
      s.fragment = null;
      this.record(s, f.type, a.buf, f.seq);
    }
  }

  /**
   * True if data frame `seq` comes right after data frame `prev`: consecutive, or with
   * only repair frame positions between them (BOOT.fec geometry), so a receiver that
   * ignores FEC frames still reassembles fragments across them.
   */
  private follows(s: SessionState, prev: number, seq: number): boolean {
    if (seq === prev + 1) return true;
    const fec = s.boot?.fec;
    if (!fec || seq <= prev || seq - prev > fec.m + 1) return false;
    const span = fec.k + fec.m;
    for (let q = prev + 1; q < seq; q++) if (q % span < fec.k) return false;
    return true;
  }

  private record(s: SessionState, type: number, r: Buffer, seq: number): void {
    const name = recordTypeName[type];
    s.count(name);
    if (type === RecordType.PACKET) return this.sink.packet(s, r);
    let body: Record<string, unknown>;
    try {
      body = (decodeCompactResult(type, r) as Record<string, unknown> | null) ?? JSON.parse(r.toString('utf8'));
      if (body === null || typeof body !== 'object') throw new Error('not an object');
    } catch {
      s.badRecords++;
      return;
    }
    // A record whose fields no output can hold is counted as bad, never fatal: the rest
    // of the line still has to be written. (The sinks escape what they print and read
    // numbers without Number()'s TypeError; this is the second layer.)
    try {
      this.dispatch(s, type, body, seq);
    } catch {
      s.badRecords++;
    }
  }

  private dispatch(s: SessionState, type: number, body: Record<string, unknown>, seq: number): void {
    switch (type) {
      case RecordType.BOOT:
        s.bootRecords++;
        s.boot = body as unknown as BootRecord;
        return this.sink.boot(s, s.boot);
      case RecordType.STATUS:
        s.status = body as unknown as StatusRecord;
        return this.sink.status(s, s.status);
      case RecordType.LOG:
        return this.sink.log(s, body as unknown as LogRecord);
      case RecordType.CHECKPOINT:
        return verifyCheckpoint(s, body, seq);
      case RecordType.END:
        s.end = body as unknown as EndRecord;
        try {
          return this.sink.end(s, s.end);
        } finally {
          this.close(s, 'end');
        }
      default:
        return this.sink.result(s, type, body);
    }
  }
}
