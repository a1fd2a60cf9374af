// openChannel: the box's side of the results line. Records go into the bounded outbox;
// the framer takes them out only as fast as the line drains (baud/10 bytes/s on a tty),
// so the backlog sits in the outbox — where it is counted and dropped by priority — and
// never in the kernel's tty buffer. Nothing here ever blocks the event loop.
import * as fs from 'node:fs';
import { BootRecord, EndRecord, RecordType, recordTypeName } from './records';
import { MemoryOutbox, Outbox } from './outbox';
import { SpoolOutbox, SpoolOutboxOptions } from './spool-outbox';
import { openWriteOnlyTty, reopenWriteOnlyTty, WriteOnlyLine } from './tty';
import { FrameSequencer } from './sequencer';
import { FrameSealer } from './frame-seal';
import { checkFecParams, DEFAULT_TTY_FEC, FecParams } from './fec';
import { encodeCompactResult } from './result-codec';
import { ReplayWindow } from './replay-window';


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
  /** Times the tty was opened again after a hangup (replay-window.ts), its recent frames written again. */
  lineReopens: number;
  /** FEC repair frames among framesSent. */
  repairFramesSent: number;
  /** Results waiting sealed on the spool (part of backlogBytes). */
  spilledBytes: number;
}

export interface Channel {
  /** Queues one record; false if it was dropped (counted in stats().dropped). */
  send(type: RecordType, body: object | Buffer): boolean;
  stats(): ChannelStats;
  /** Drains for at most drainMs, sends END (with the channel's own record and drop counts), closes the line. */
  close(end: EndRecord, drainMs: number): Promise<{ drained: boolean; leftBytes: number }>;
}

const EAGAIN_RETRY_MS = 20;
const ERROR_RETRY_MS = 500;
/** Pacing granularity: small enough to keep the kernel buffer near empty, large enough to batch syscalls. */
const PACE_TICK_MS = 10;

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
  const seq = new FrameSequencer(opts.session, opts.signer, opts.checkpointEveryFrames ?? 64, sealer, fec, deflate);
  const checkpointEveryMs = opts.checkpointEveryMs ?? 5000;
  const openedAt = now();
  // The supervisor may update the boot object later (link type); uptime stays on this base.
  const bootUptimeAtOpen = opts.boot.uptimeMs;
  const bytesPerMs = line.kind === 'tty' ? opts.baud / 10 / 1000 : Infinity;
  const closeDrops: Record<string, number> = {};

  let pending: Buffer | null = null; // wire bytes of the frame being written
  let pendingOff = 0;
  let inflight = false;
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let credit = 0;
  let creditAt = now();
  let lastCheckpointAt = now();
  let bytesWritten = 0;
  let writeErrors = 0;
  let lineReopens = 0;
  const replay = line.kind === 'tty' ? new ReplayWindow() : null;
  let closing = false;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  // Fields the channel owns win over the caller's: a BOOT the supervisor re-sends (with
  // the link type) must still carry the sealed key, or a receiver could not decrypt.
  const bootRecord = (base: BootRecord = opts.boot): BootRecord => ({
    ...base,
    session: opts.session.toString('hex'),
    link: { kind: line.kind, baud: line.kind === 'tty' ? opts.baud : null },
    checkpointKey: opts.signer.publicKey.toString('hex'),
    uptimeMs: bootUptimeAtOpen + (now() - openedAt),
    encryption: sealer ? sealer.boot : null,
    fec: fec ? { k: fec.k, m: fec.m } : null,
  });
  const encode = (body: object | Buffer): Buffer => (Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)));

  // A leading delimiter lets a receiver that saw noise before us start clean.
  pending = Buffer.from([0]);
  outbox.push(RecordType.BOOT, encode(bootRecord()));
  const bootTimer = setInterval(() => {
    if (!closing) send(RecordType.BOOT, bootRecord());
  }, opts.bootEveryMs);
  const checkpointTimer = setInterval(() => {
    if (seq.uncovered() > 0 && now() - lastCheckpointAt >= checkpointEveryMs) kick();
  }, Math.min(checkpointEveryMs, 1000));
  bootTimer.unref();
  checkpointTimer.unref();
  kick();

  function send(type: RecordType, body: object | Buffer): boolean {
    if (closing || type === RecordType.END || type === RecordType.CHECKPOINT || type === RecordType.FEC) {
      // END and CHECKPOINT come from the channel itself; after close() nothing is accepted.
      const name = recordTypeName[type] ?? String(type);
      closeDrops[name] = (closeDrops[name] ?? 0) + 1;
      return false;
    }
    if (type === RecordType.BOOT && !Buffer.isBuffer(body)) body = bootRecord(body as BootRecord);
    // FLOW and DNS in their compact form when it carries the record exactly.
    const ok = outbox.push(type, (!Buffer.isBuffer(body) && encodeCompactResult(type, body)) || encode(body));
    kick();
    return ok;
  }

  function kick(): void {
    if (closed || inflight || timer || immediate) return;
    immediate = setImmediate(pump);
  }

  function later(ms: number): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      pump();
    }, ms);
  }

  /** Next wire bytes to write: the rest of the current write, or new frames. */
  function nextBytes(): boolean {
    if (pending && pendingOff < pending.length) return true;
    pending = null;
    pendingOff = 0;
    // A recording takes up to 64 KiB per write; a tty one frame at a time, as paced.
    const limit = bytesPerMs === Infinity ? 65536 : 1;
    const parts: Buffer[] = [];
    let n = 0;
    while (n < limit) {
      const timeForCheckpoint = now() - lastCheckpointAt >= checkpointEveryMs;
      const before = seq.checkpointsSent();
      const f = seq.next(outbox, timeForCheckpoint);
      if (!f) break;
      if (seq.checkpointsSent() !== before) lastCheckpointAt = now();
      parts.push(f);
      n += f.length;
    }
    if (parts.length === 0) return false;
    pending = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    replay?.remember(pending);
    return true;
  }

  function pump(): void {
    immediate = null;
    if (closed || inflight) return;
    if (!nextBytes()) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
      return;
    }
    const buf = pending as Buffer;
    let len = buf.length - pendingOff;
    if (bytesPerMs !== Infinity) {
      const t = now();
      // Burst allowance of one tick: the kernel buffer never holds more than ~10 ms of line time.
      credit = Math.min(credit + (t - creditAt) * bytesPerMs, Math.max(64, bytesPerMs * PACE_TICK_MS));
      creditAt = t;
      if (credit < 1) return later(Math.max(1, Math.ceil((1 - credit) / bytesPerMs)));
      len = Math.min(len, Math.floor(credit));
    }
    inflight = true;
    fs.write(line.fd, buf, pendingOff, len, null, (err, n) => {
      inflight = false;
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') return later(EAGAIN_RETRY_MS);
        writeErrors++;
        if (err.code === 'EIO' && reopenAfterHangup()) return kick();
        return later(ERROR_RETRY_MS);
      }
      pendingOff += n;
      bytesWritten += n;
      if (bytesPerMs !== Infinity) credit -= n;
      kick();
    });
  }

  /** A hung-up tty (EIO on every write) is opened again and the recent frames go out again. */
  function reopenAfterHangup(): boolean {
    if (!replay) return false;
    let fresh: WriteOnlyLine;
    try {
      fresh = reopenWriteOnlyTty(line);
    } catch {
      return false; // not back yet: the next write fails again and retries
    }
    fs.closeSync(line.fd);
    line = fresh;
    pending = replay.replay();
    pendingOff = 0;
    lineReopens++;
    return true;
  }

  function stats(): ChannelStats {
    const dropped = outbox.dropped();
    for (const [k, v] of Object.entries(closeDrops)) dropped[k] = (dropped[k] ?? 0) + v;
    const unwritten = pending ? pending.length - pendingOff : 0;
    return {
      backlogBytes: outbox.backlogBytes() + unwritten,
      framesSent: seq.framesSent(),
      bytesWritten,
      recordsSent: seq.recordsSent(),
      dropped,
      writeErrors,
      lineReopens,
      repairFramesSent: seq.repairFramesSent(),
      spilledBytes: spool ? spool.spilledBytes() : 0,
    };
  }

  function idleOrDeadline(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(t);
        resolve(ok);
      };
      const t = setTimeout(() => done(false), Math.max(0, deadline - now()));
      idleWaiters.push(() => done(true));
      kick();
      if (!inflight && !timer && !immediate) done(true);
    });
  }

  async function close(end: EndRecord, drainMs: number): Promise<{ drained: boolean; leftBytes: number }> {
    if (closing) throw new Error('channel already closed');
    closing = true;
    clearInterval(bootTimer);
    clearInterval(checkpointTimer);
    const start = now();
    // Keep time for the final CHECKPOINT and END: two frames at line rate.
    const reserve = Math.min(drainMs / 2, bytesPerMs === Infinity ? 0 : 2400 / bytesPerMs);
    await idleOrDeadline(start + drainMs - reserve);
    const droppedAtClose = outbox.backlogBytes() > 0 ? outbox.dropAll() : 0;
    let outboxDropped = 0;
    for (const v of Object.values(stats().dropped)) outboxDropped += v;
    // END counts itself and the final CHECKPOINT that the sequencer puts before it.
    const records = seq.recordsSent();
    if (seq.uncovered() > 0) records.CHECKPOINT = (records.CHECKPOINT ?? 0) + 1;
    records.END = (records.END ?? 0) + 1;
    const endBody = encode({ ...end, records, outboxDropped });
    seq.setEnd(endBody);
    const finished = await idleOrDeadline(start + drainMs);
    const unwritten = (pending ? pending.length - pendingOff : 0) + (seq.endWritten() ? 0 : endBody.length);
    closed = true;
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    await waitInflight();
    sealer?.wipe();
    await new Promise<void>((resolve) => fs.close(line.fd, () => resolve()));
    return { drained: finished && unwritten === 0 && droppedAtClose === 0, leftBytes: unwritten + droppedAtClose };
  }

  function waitInflight(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => (inflight ? void setTimeout(check, 5) : resolve());
      check();
    });
  }

  return { send, stats, close };
}
