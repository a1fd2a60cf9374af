// openChannel: the box's side of the results line. Records go into the bounded outbox;
// the framer takes them out only as fast as the line drains (pacer.ts: baud/10 bytes/s
// on a tty), so the backlog sits in the outbox — where it is counted and dropped by
// priority — and never in the kernel's tty buffer. Nothing here ever blocks the event
// loop (line-writer.ts). BOOT goes first and again every bootEveryMs (boot-announce.ts);
// close() drains for a bounded time and ends with CHECKPOINT and END.
import * as fs from 'node:fs';
import { BootRecord, EndRecord, RecordType, recordTypeName } from './records';
import { MemoryOutbox, Outbox } from './outbox';
import { SpoolOutbox, SpoolOutboxOptions } from './spool-outbox';
import { openWriteOnlyTty, reopenWriteOnlyTty, WriteOnlyLine } from './tty';
import { FrameSequencer } from './sequencer';
import { FrameSealer } from './frame-seal';
import { checkFecParams, DEFAULT_TTY_FEC, FecParams } from './fec';
import { encodeCompactResult } from './result-codec';
import { LARGE_BODY_BYTES, TARGET_BODY_BYTES } from './frame';
import { ReplayWindow } from './replay-window';
import { pacerFor } from './pacer';
import { LineWriter } from './line-writer';
import { BootAnnouncer } from './boot-announce';

export interface ChannelSigner {
  publicKey: Buffer;
  sign(msg: Buffer): Buffer;
}

export interface ChannelOptions {
  path: string;
  baud: number;
  outboxBytes: number;
  bootEveryMs: number;
  /** 8 random bytes, new every boot. */
  session: Buffer;
  boot: BootRecord;
  /** Signs CHECKPOINT records with the per-boot Ed25519 key (the supervisor keeps the key). */
  signer: ChannelSigner;
  /**
   * The researcher's X25519 public key (32 bytes, run.json channel.recipient): every
   * frame but BOOT, CHECKPOINT and FEC is encrypted to a per-boot session key sealed to
   * it (frame-seal.ts). Absent or null: results go out in the clear.
   */
  recipient?: Buffer | null;
  /**
   * Reed-Solomon repair frames (fec.ts): m after every k data frames. Absent: on for a
   * tty (DEFAULT_TTY_FEC), off for a recording file, whose bytes are not lost on the way.
   */
  fec?: FecParams | false;
  /**
   * Keep the backlog of results sealed on the spool (spool-outbox.ts) beyond
   * memoryBytes in RAM; absent: everything waits in memory, bounded by outboxBytes.
   */
  spill?: Omit<SpoolOutboxOptions, 'totalBytes'>;
  /**
   * Deflate each frame's body when that shortens it. Absent: on for a tty, whose baud
   * rate, not the box's CPU, limits what gets out, so every byte saved is a record
   * more; off for a pipe or a recording file, which take bytes faster than deflate
   * makes them (about 40 us per 1 KiB frame: docs/benchmarks.md).
   */
  deflate?: boolean;
  /**
   * Frame body size to aim for (frame.ts). Absent: 1 KiB on a tty and on any line with
   * FEC, LARGE_BODY_BYTES (4080) on a recording file or pipe.
   */
  frameBodyBytes?: number;
  now?: () => number;
  /** A CHECKPOINT after this many frames… */
  checkpointEveryFrames?: number;
  /** …or after this long with frames not yet covered. */
  checkpointEveryMs?: number;
}

export interface ChannelStats {
  backlogBytes: number;
  framesSent: number;
  bytesWritten: number;
  recordsSent: Record<string, number>;
  dropped: Record<string, number>;
  /** Writes that failed with something other than EAGAIN (e.g. EIO when a USB host goes away). */
  writeErrors: number;
  /** Writes the line had no room for (EAGAIN), each retried later: a line nobody reads counts up here. */
  lineFull: number;
  /** Times the tty was opened again after a hangup (replay-window.ts), its recent frames written again. */
  lineReopens: number;
  /** Times the recent frames were written again to a host reading after a long stall or a hangup (line-resume.ts). */
  lineResends: number;
  /** FEC repair frames among framesSent. */
  repairFramesSent: number;
  /** Results waiting sealed on the spool (part of backlogBytes). */
  spilledBytes: number;
}

export interface Channel {
  /** Queues one record; false if it was dropped (counted in stats().dropped). */
  send(type: RecordType, body: object | Buffer): boolean;
  /**
   * Queues `count` PACKET records lying back to back in `run` (pcap records, as the
   * egress guard passed them) as one entry; returns how many were queued (the rest
   * dropped and counted, as send() would).
   */
  sendPackets(run: Buffer, count: number): number;
  /**
   * What the supervisor learns after the channel opened (the link type, once capture
   * knows it): every BOOT from now on carries it, and one goes out now. False if that
   * one was dropped.
   */
  updateBoot(fields: Partial<BootRecord>): boolean;
  stats(): ChannelStats;
  /** Drains for at most drainMs, sends END (with the channel's own record and drop counts), closes the line. */
  close(end: EndRecord, drainMs: number): Promise<{ drained: boolean; leftBytes: number }>;
}

/** Line time kept at close for the final CHECKPOINT and END: two frames. */
const CLOSING_FRAMES_BYTES = 2400;

export function openChannel(opts: ChannelOptions): Channel {
  const now = opts.now ?? (() => Date.now());
  if (opts.session.length !== 8) throw new Error(`channel session id must be 8 bytes, got ${opts.session.length}`);
  if (!(opts.bootEveryMs > 0)) throw new Error(`channel bootEveryMs ${opts.bootEveryMs} must be positive`);
  if (opts.fec) checkFecParams(opts.fec, 'channel.fec');
  // The session key exists only inside the sealer (secure memory) and is wiped at close.
  const sealer = opts.recipient ? new FrameSealer(opts.recipient) : null;
  let line: WriteOnlyLine;
  try {
    line = openWriteOnlyTty(opts.path, opts.baud);
  } catch (e) {
    sealer?.wipe();
    throw e;
  }
  const fec: FecParams | null = opts.fec === false ? null : opts.fec ?? (line.kind === 'tty' ? DEFAULT_TTY_FEC : null);
  let spool: SpoolOutbox | null = null;
  try {
    spool = opts.spill ? new SpoolOutbox({ ...opts.spill, totalBytes: opts.outboxBytes }) : null;
  } catch (e) {
    sealer?.wipe();
    fs.closeSync(line.fd);
    throw new Error(`cannot keep the outbox on the spool in ${opts.spill?.dir}: ${(e as Error).message}`);
  }
  const outbox: Outbox = spool ?? new MemoryOutbox(opts.outboxBytes);
  const deflate = opts.deflate ?? line.kind === 'tty';
  // 1 KiB bodies where bytes may be lost (a tty; any line with FEC, whose repair frames
  // must carry a whole frame), 4 KiB on a recording file: a quarter of the frames, so a
  // quarter of the per-frame work on both ends (docs/channel.md, docs/benchmarks.md).
  const bodyBytes = opts.frameBodyBytes ?? (line.kind === 'tty' || fec ? TARGET_BODY_BYTES : LARGE_BODY_BYTES);
  const seq = new FrameSequencer(opts.session, opts.signer, opts.checkpointEveryFrames ?? 64, sealer, fec, deflate, bodyBytes);
  const checkpointEveryMs = opts.checkpointEveryMs ?? 5000;
  const pacer = pacerFor(line.kind, opts.baud, now);
  const boot = new BootAnnouncer(opts.boot, {
    session: opts.session.toString('hex'),
    link: { kind: line.kind, baud: line.kind === 'tty' ? opts.baud : null },
    checkpointKey: opts.signer.publicKey.toString('hex'),
    encryption: sealer ? sealer.boot : null,
    fec: fec ? { k: fec.k, m: fec.m } : null,
  }, now);
  /** Records refused because they came after close() or are the channel's own. */
  const closeDrops: Record<string, number> = {};
  let accepting = true;
  let lastCheckpointAt = now();

  // The next frame, with a CHECKPOINT when one is due by time (the sequencer adds one
  // every checkpointEveryFrames frames by itself).
  const nextFrame = (): Buffer | null => {
    const before = seq.checkpointsSent();
    const f = seq.next(outbox, now() - lastCheckpointAt >= checkpointEveryMs);
    if (seq.checkpointsSent() !== before) lastCheckpointAt = now();
    return f;
  };
  // A tty that hangs up (a USB host unplugged: EIO on every write) is opened again once
  // it is back, and its most recent frames go out again (replay-window.ts says why).
  const replay = line.kind === 'tty' ? new ReplayWindow() : null;
  let lineReopens = 0;
  let lineResends = 0;
  const reopenAfterHangup = (): { fd: number; bytes: Buffer } | null => {
    if (!replay) return null;
    let fresh: WriteOnlyLine;
    try {
      fresh = reopenWriteOnlyTty(line);
    } catch {
      return null; // not back yet: the next write fails again and retries
    }
    fs.closeSync(line.fd);
    line = fresh;
    lineReopens++;
    return { fd: line.fd, bytes: replay.replay() };
  };
  // A leading delimiter lets a receiver that saw noise before us start clean.
  const writer = new LineWriter(line.fd, pacer, nextFrame, Buffer.from([0]), replay ? {
    taken: (bytes) => replay.remember(bytes),
    hungUp: reopenAfterHangup,
    resumed: () => {
      lineResends++;
      return replay.replay();
    },
  } : {}, now);
  const encode = (body: object | Buffer): Buffer => (Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)));

  outbox.push(RecordType.BOOT, encode(boot.record()));
  const bootTimer = setInterval(() => { if (accepting) send(RecordType.BOOT, boot.record()); }, opts.bootEveryMs);
  // Frames not yet covered by a CHECKPOINT get one within checkpointEveryMs, even when
  // nothing else is sent.
  const checkpointTimer = setInterval(() => {
    if (seq.uncovered() > 0 && now() - lastCheckpointAt >= checkpointEveryMs) writer.wake();
  }, Math.min(checkpointEveryMs, 1000));
  bootTimer.unref();
  checkpointTimer.unref();
  writer.wake();

  function send(type: RecordType, body: object | Buffer): boolean {
    if (!accepting || type === RecordType.END || type === RecordType.CHECKPOINT || type === RecordType.FEC) {
      // END and CHECKPOINT come from the channel itself; after close() nothing is accepted.
      const name = recordTypeName[type] ?? String(type);
      closeDrops[name] = (closeDrops[name] ?? 0) + 1;
      return false;
    }
    if (type === RecordType.BOOT && !Buffer.isBuffer(body)) body = boot.record(body as BootRecord);
    // FLOW and DNS in their compact form when it carries the record exactly.
    const ok = outbox.push(type, (!Buffer.isBuffer(body) && encodeCompactResult(type, body)) || encode(body));
    writer.wake();
    return ok;
  }

  function sendPackets(run: Buffer, count: number): number {
    if (!accepting) {
      closeDrops.PACKET = (closeDrops.PACKET ?? 0) + count;
      return 0;
    }
    const n = outbox.pushPackets(run, count);
    writer.wake();
    return n;
  }

  function updateBoot(fields: Partial<BootRecord>): boolean {
    boot.update(fields);
    return send(RecordType.BOOT, boot.record());
  }

  function stats(): ChannelStats {
    const dropped = outbox.dropped();
    for (const [k, v] of Object.entries(closeDrops)) dropped[k] = (dropped[k] ?? 0) + v;
    return {
      backlogBytes: outbox.backlogBytes() + writer.unwrittenBytes(),
      framesSent: seq.framesSent(),
      bytesWritten: writer.bytesWritten,
      recordsSent: seq.recordsSent(),
      dropped,
      writeErrors: writer.writeErrors,
      lineFull: writer.lineFull,
      lineReopens,
      lineResends,
      repairFramesSent: seq.repairFramesSent(),
      spilledBytes: spool ? spool.spilledBytes() : 0,
    };
  }

  async function close(end: EndRecord, drainMs: number): Promise<{ drained: boolean; leftBytes: number }> {
    if (!accepting) throw new Error('channel already closed');
    accepting = false;
    clearInterval(bootTimer);
    clearInterval(checkpointTimer);
    const start = now();
    // Keep line time for the final CHECKPOINT and END.
    const reserve = Math.min(drainMs / 2, pacer.lineTimeMs(CLOSING_FRAMES_BYTES));
    await writer.whenIdle(start + drainMs - reserve, now);
    const droppedAtClose = outbox.backlogBytes() > 0 ? outbox.dropAll() : 0;
    let outboxDropped = 0;
    for (const v of Object.values(stats().dropped)) outboxDropped += v;
    // END counts itself and the final CHECKPOINT that the sequencer puts before it.
    const records = seq.recordsSent();
    if (seq.uncovered() > 0) records.CHECKPOINT = (records.CHECKPOINT ?? 0) + 1;
    records.END = (records.END ?? 0) + 1;
    const endBody = encode({ ...end, records, outboxDropped });
    seq.setEnd(endBody);
    const finished = await writer.whenIdle(start + drainMs, now);
    const unwritten = writer.unwrittenBytes() + (seq.endWritten() ? 0 : endBody.length);
    await writer.close();
    sealer?.wipe();
    await new Promise<void>((resolve) => fs.close(line.fd, () => resolve()));
    return { drained: finished && unwritten === 0 && droppedAtClose === 0, leftBytes: unwritten + droppedAtClose };
  }

  return { send, sendPackets, updateBoot, stats, close };
}
