// The supervisor's side of the analysis process: starts it in its sandbox, hands it
// its subkeys and the segments to read, watches its heartbeat, and restarts it when it
// crashes or hangs. A restarted analysis re-reads from the earliest segment still in
// the ring (to rebuild flow state) and emits nothing at or before the last committed
// place, so a crash costs neither a gap nor a duplicate. A packet that kills the
// analysis twice is quarantined: skipped, counted, reported by position only.
import { ChildProcess } from 'node:child_process';
import type { SecretKey } from '../keys/secret-key';
import type { Output } from '../supervisor/config';
import { analysisRecordTypes, startGraceMs, betweenPackets, childKeyOrder, describeExit, describePosition, FromChild, InitMessage, noPlace, OutRecord, Place, placeAfter, StreamCounts, validFromChild } from './ipc';
import type { Streams } from './streams/schema';
import { CrashVerdicts } from './crash-verdict';
import { forkSandboxed, SpareAnalyses } from './sandbox';
import type { ModuleCommand } from './module-link';
import { oneShard, Shard } from './shard';

export interface AnalysisHostOptions {
  linkType: number;
  outputs: Output[];
  policy: unknown;
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  module: string | null;
  /** The streams the analysis firmware declared for the module. */
  streams: Streams;
  /** How to start the module's sandboxed process (module-link.ts moduleCommand), with a module. */
  moduleCommand: ModuleCommand | null;
  heartbeatMs: number;
  maxRestarts: number;
  keys: Record<(typeof childKeyOrder)[number], SecretKey>;
  /** Paths the sandbox may read: the spool directory and the researcher's module. */
  readablePaths: string[];
  ring: { oldestRetainedSeq(): number; slotPath(seq: number): string; isRetained?(seq: number): boolean };
  /** The flows this process analyses; one shard of one when not given. */
  shard?: Shard;
  /** Processes forked ahead of need, taken first (forked with readablePaths and this module setting). */
  spares?: SpareAnalyses | null;
}

export interface AnalysisEvents {
  addresses(hashes: Uint8Array): void;
  records(records: OutRecord[]): void;
  /** `count` PACKET records packed back to back, each a whole pcap record (already checked to tile `bytes`). */
  packets(bytes: Buffer, count: number): void;
  /** A segment is analysed (skipped is set when it could not be read: tampered or torn). */
  segmentDone(seq: number, packets: number, skipped: string | null, decodeCounters: Record<string, number>): void;
  /** Records of the module's streams refused so far this run (counted again if a replay meets them again). */
  streamsRefused?(total: number): void;
  restarted(why: string): void;
  quarantined(pos: number): void;
  finished(counters: Record<string, number>, streams: StreamCounts): void;
  /** The analysis keeps dying; nothing more will be analysed this run. */
  gaveUp(why: string): void;
  /** Records the analysis sent that no analysis may send (wrong type or shape): dropped. */
  refused?(count: number, why: string): void;
}

const restartDelayMs = 100;

/** Resolves once `c` has exited (at once if it has). */
function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
  });
}

export class AnalysisHost {
  private child: ChildProcess | null = null;
  private committed: Place = noPlace;
  private readonly verdicts = new CrashVerdicts();
  private lastPipePos = betweenPackets;
  private published = -1; // highest segment seq published
  private doneUpTo = -1; // highest seq the analysis finished (new work, not replay)
  /** Last packet time at the end of each recent segment, for the ticks of a replacement. */
  private readonly segLastTs = new Map<number, number>();
  private finishing = false;
  private finishedOk = false;
  private gaveUp = false;
  private reportedFinished = false;
  private answered = false; // the current process sent its first message
  private lastBeat = 0;
  private lastCheck = 0;
  private hung = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly checkEveryMs: number;
  /** The exit of the last process stop() ended (resolved when there was none). */
  private lastExit: Promise<void> = Promise.resolve();
  restarts = 0;
  /** Records dropped because no analysis may send them (see AnalysisEvents.refused). */
  refusedRecords = 0;
  /** Module records refused by earlier processes of this run, and by the current one. */
  private refusedBefore = 0;
  private refusedNow = 0;
  /** Messages from the analysis process that failed validation (each ends that process). */
  invalidMessages = 0;

  constructor(private readonly opts: AnalysisHostOptions, private readonly events: AnalysisEvents) {
    this.checkEveryMs = Math.max(50, opts.heartbeatMs / 4);
  }

  start(): void {
    this.spawn();
    this.lastCheck = performance.now();
    this.watchdog = setInterval(() => this.checkHeartbeat(), this.checkEveryMs);
  }

  /** Process id of the running analysis, or null between a death and its restart. */
  pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Positions quarantined so far. */
  quarantined(): readonly number[] {
    return this.verdicts.quarantine;
  }

  /** A new sealed segment is on the spool. */
  segmentPublished(seq: number): void {
    this.published = seq;
    // After giving up nothing reads the ring: let its slots go, or a file replay
    // waiting for room (spool.onFull "wait") would wait forever.
    if (this.gaveUp) return this.release(seq, seq);
    this.sendTo(this.child, { t: 'segment', seq, path: this.opts.ring.slotPath(seq), replay: false });
  }

  /** No more segments will come: analyse what is left, flush, and finish. */
  finish(): void {
    this.finishing = true;
    if (this.gaveUp) return this.reportFinished({}, {});
    this.sendTo(this.child, { t: 'finish' });
  }

  /**
   * Ends the analysis process now. Resolves once the last process stopped has exited:
   * until then its mappings of the spool's slot files keep the spool's file system
   * busy, and the box could not unmount it (and have the kernel forget its key).
   */
  stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const c = this.child;
    this.child = null;
    if (c) {
      c.kill('SIGKILL');
      this.lastExit = exited(c);
    }
    return this.lastExit;
  }

  /** For tests of crash safety: kill the running analysis as a crash would. */
  killForTest(): void {
    this.child?.kill('SIGKILL');
  }

  private spawn(): void {
    const o = this.opts;
    // Spares started for other paths or another module setting are left to their owner to close.
    const spares = o.spares?.serves(o.readablePaths, o.module !== null) ? o.spares : null;
    const child = spares ? spares.take() : forkSandboxed(o.readablePaths, o.module !== null);
    this.refusedBefore += this.refusedNow;
    this.refusedNow = 0;
    this.child = child;
    this.lastPipePos = betweenPackets;
    this.answered = false;
    this.exitCode = null;
    this.exitSignal = null;
    this.lastBeat = performance.now();
    const pipe = child.stdio[4]!;
    let tail: Buffer = Buffer.alloc(0);
    pipe.on('data', (d: Buffer) => {
      tail = tail.length === 0 ? d : Buffer.concat([tail, d]);
      const whole = tail.length - (tail.length % 8);
      if (whole >= 8) this.lastPipePos = tail.readDoubleLE(whole - 8);
      tail = tail.subarray(whole);
    });
    // A process that dies at once breaks these pipes: an unhandled 'error' on any of
    // them would take the supervisor down with it.
    pipe.on('error', () => {});
    child.stdin!.on('error', () => {});
    // The analysis's stderr may quote packet data (a stack trace of a module error):
    // it is read and withheld, never shown.
    child.stderr!.on('data', () => {});
    child.stderr!.on('error', () => {});
    child.on('message', (m: FromChild) => this.onMessage(child, m));
    child.on('exit', (code, signal) => { this.exitCode = code; this.exitSignal = signal; });
    // 'close' comes after every pipe of the process has ended, so the last position
    // it wrote has been read: acting on 'exit' could blame the packet before it.
    child.on('close', () => this.onDeath(child));
    child.on('error', () => { /* close follows */ });
    // A process started ahead that died before it was taken: its 'close' came before
    // these listeners. Its death counts as any other, and a new process follows.
    if (spares?.hasClosed(child)) {
      this.exitCode = child.exitCode;
      this.exitSignal = child.signalCode;
      setImmediate(() => this.onDeath(child));
    }

    // Subkeys go down the stdin pipe as raw bytes, never through IPC (which
    // serializes); the copy handed to the pipe is wiped once written.
    for (const name of childKeyOrder) {
      o.keys[name].use((k) => {
        const copy = Buffer.from(k);
        child.stdin!.write(copy, () => copy.fill(0));
      });
    }
    child.stdin!.end();

    const init: InitMessage = {
      t: 'init',
      linkType: o.linkType,
      outputs: o.outputs,
      policy: o.policy,
      flows: o.flows,
      committed: this.committed,
      quarantine: this.verdicts.quarantine.slice(),
      carefulUntilSeq: this.verdicts.carefulUntilSeq,
      module: o.module,
      streams: o.streams,
      moduleCommand: o.moduleCommand,
      heartbeatMs: Math.max(50, o.heartbeatMs / 5),
      shard: o.shard ?? oneShard,
      prevTsUs: null,
    };
    const from = this.published >= 0 ? Math.max(0, Math.min(o.ring.oldestRetainedSeq(), this.doneUpTo + 1)) : 0;
    init.prevTsUs = this.lastTsBefore(from);
    this.sendTo(child, init);
    // Replay what the ring still holds, then the new work, in order. Seqs the ring
    // does not hold (a write that failed left a hole) are not sent: reading their slot
    // would count a false authentication failure.
    if (this.published >= 0) {
      for (let s = from; s <= this.published; s++) {
        if (s <= this.doneUpTo && o.ring.isRetained && !o.ring.isRetained(s)) continue;
        this.sendTo(child, { t: 'segment', seq: s, path: o.ring.slotPath(s), replay: s <= this.doneUpTo });
      }
    }
    if (this.finishing) this.sendTo(child, { t: 'finish' });
  }

  private noteLastTs(seq: number, tsUs: number): void {
    this.segLastTs.set(seq, tsUs);
    // Only segments the ring still holds can start a replay: forget older ones.
    const keepFrom = this.opts.ring.oldestRetainedSeq() - 1;
    for (const k of this.segLastTs.keys()) if (k < keepFrom) this.segLastTs.delete(k);
  }

  private lastTsBefore(seq: number): number | null {
    for (let s = seq - 1; s >= seq - 64 && s >= 0; s--) {
      const t = this.segLastTs.get(s);
      if (t !== undefined) return t;
    }
    return null;
  }

  private sendTo(child: ChildProcess | null, m: object): void {
    if (!child || !child.connected) return; // a dead process's replacement gets everything again
    child.send(m, (err) => { if (err) { /* it died; 'close' handles that */ } });
  }

  private onMessage(child: ChildProcess, m: FromChild): void {
    if (child !== this.child) return;
    if (!validFromChild(m, this.published)) {
      // Not what the analysis writes: nothing in it is acted on, and the process is
      // replaced as if it had crashed.
      this.invalidMessages++;
      child.kill('SIGKILL');
      return;
    }
    this.lastBeat = performance.now();
    this.answered = true;
    switch (m.t) {
      case 'addresses': this.events.addresses(m.hashes); break;
      case 'records': this.onRecords(m.records, m.last); break;
      case 'packets':
        // Checked by validFromChild: `count` whole records tile the bytes exactly.
        if (this.advance(m.last)) this.events.packets(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), m.count);
        break;
      case 'segmentDone':
        if (typeof m.lastTsUs === 'number' && Number.isFinite(m.lastTsUs)) this.noteLastTs(m.seq, m.lastTsUs);
        if (m.refused > this.refusedNow) {
          this.refusedNow = m.refused;
          this.events.streamsRefused?.(this.refusedBefore + this.refusedNow);
        }
        if (m.seq > this.doneUpTo) {
          this.doneUpTo = m.seq;
          this.events.segmentDone(m.seq, m.packets, m.skipped, m.decodeCounters);
        }
        break;
      case 'finished':
        this.finishedOk = true;
        void this.stop();
        this.reportFinished(m.counters, m.streams);
        break;
      case 'ready':
      case 'heartbeat':
        break;
    }
  }

  /**
   * Places only move forward: a batch at or before the committed place is a replay the
   * analysis should have suppressed, and must not be sent twice. True when `last` is
   * new (and is now committed).
   */
  private advance(last: Place): boolean {
    if (!placeAfter(last, this.committed)) return false;
    this.committed = last;
    return true;
  }

  private onRecords(records: OutRecord[], last: Place): void {
    if (!Array.isArray(records) || !last || !this.advance(last)) return;
    const ok: OutRecord[] = [];
    let bad = 0;
    for (const r of records) {
      const isPacket = r.body instanceof Uint8Array;
      if (analysisRecordTypes.includes(r.type) && isPacket === (r.type === 5) && (isPacket || isPlainObject(r.body))) ok.push(r);
      else bad++;
    }
    if (bad > 0) {
      this.refusedRecords += bad;
      this.events.refused?.(bad, 'the analysis may only send FLOW, DNS, STREAM and PACKET records');
    }
    if (ok.length > 0) this.events.records(ok);
  }

  private checkHeartbeat(): void {
    const now = performance.now();
    const sinceCheck = now - this.lastCheck;
    this.lastCheck = now;
    if (!this.child) return;
    // When the supervisor itself was busy, the heartbeats are still waiting in the
    // pipe: this tick runs before they are read. Count from now, not from then.
    if (sinceCheck > this.checkEveryMs * 3) {
      this.lastBeat = now;
      return;
    }
    const limit = this.answered ? this.opts.heartbeatMs : Math.max(this.opts.heartbeatMs, startGraceMs);
    if (now - this.lastBeat > limit) {
      // A hang looks like a crash from here: kill it and let onDeath decide.
      this.hung = true;
      this.child.kill('SIGKILL');
    }
  }

  private onDeath(child: ChildProcess): void {
    if (child !== this.child || this.finishedOk) return;
    this.child = null;
    const why = describeExit(this.exitCode, this.exitSignal, this.hung);
    this.hung = false;
    this.restarts++;
    const v = this.verdicts.died(this.lastPipePos, this.published, this.doneUpTo);
    if (v.quarantined >= 0) this.events.quarantined(v.quarantined);
    if (this.restarts > this.opts.maxRestarts) {
      this.restarts = this.opts.maxRestarts;
      this.gaveUp = true;
      void this.stop();
      this.events.gaveUp(`${this.name()} ${why}; it died ${this.restarts + 1} times, more than analysis.maxRestarts (${this.opts.maxRestarts}) allows: fix the module or raise analysis.maxRestarts in run.json`);
      this.release(this.doneUpTo + 1, this.published);
      if (this.finishing) this.reportFinished({}, {});
      return;
    }
    const note = v.quarantined >= 0 ? `, quarantined packet ${describePosition(v.quarantined)}` : v.suspect >= 0 ? `, suspect packet ${describePosition(v.suspect)}` : '';
    this.events.restarted(`${this.name()} ${why}; restart ${this.restarts} of at most ${this.opts.maxRestarts}${note}`);
    setTimeout(() => { if (this.watchdog) this.spawn(); }, restartDelayMs);
  }

  /** "analysis", or "analysis shard 2 of 4" when the flows are split. */
  private name(): string {
    const s = this.opts.shard;
    return s && s.count > 1 ? `analysis shard ${s.index + 1} of ${s.count}` : 'analysis';
  }

  /** Hands segments from..to back to the ring unanalysed (after giving up). */
  private release(from: number, to: number): void {
    if (to < from) return;
    setImmediate(() => {
      for (let s = Math.max(from, this.doneUpTo + 1); s <= to; s++) {
        this.doneUpTo = s;
        this.events.segmentDone(s, 0, null, {});
      }
    });
  }

  private reportFinished(counters: Record<string, number>, streams: StreamCounts): void {
    if (this.reportedFinished) return;
    this.reportedFinished = true;
    this.events.finished(counters, streams);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
