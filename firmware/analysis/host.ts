// The supervisor's side of the analysis process: starts it in its sandbox, hands it
// its subkeys and the segments to read, watches its heartbeat, and restarts it when it
// crashes or hangs. A restarted analysis re-reads from the earliest segment still in
// the ring (to rebuild flow state) and emits nothing at or before the last committed
// place, so a crash costs neither a gap nor a duplicate. A packet that kills the
// analysis twice is quarantined: skipped, counted, reported by position only.
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { SecretKey } from '../keys/secret-key';
import type { Output } from '../supervisor/config';
import { childKeyOrder, describePosition, FromChild, InitMessage, noPlace, OutRecord, Place, positionStride } from './ipc';

export interface AnalysisHostOptions {
  linkType: number;
  outputs: Output[];
  policy: unknown;
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  module: string | null;
  heartbeatMs: number;
  maxRestarts: number;
  keys: Record<(typeof childKeyOrder)[number], SecretKey>;
  /** Paths the sandbox may read: the spool directory and the researcher's module. */
  readablePaths: string[];
  ring: { oldestRetainedSeq(): number; slotPath(seq: number): string };
}

export interface AnalysisEvents {
  addresses(hashes: Uint8Array): void;
  records(records: OutRecord[]): void;
  /** A segment is analysed (skipped is set when it could not be read: tampered or torn). */
  segmentDone(seq: number, packets: number, skipped: string | null, decodeCounters: Record<string, number>): void;
  restarted(why: string): void;
  quarantined(pos: number): void;
  finished(counters: Record<string, number>): void;
  /** The analysis keeps dying; nothing more will be analysed this run. */
  gaveUp(why: string): void;
}

const codeRoot = path.resolve(__dirname, '..', '..', '..');

export class AnalysisHost {
  private child: ChildProcess | null = null;
  private committed: Place = noPlace;
  private readonly quarantine: number[] = [];
  private suspect = -1;
  private lastPipePos = -1;
  private published = -1; // highest segment seq published
  private doneUpTo = -1; // highest seq the analysis finished (new work, not replay)
  private finishing = false;
  private finishedOk = false;
  private gaveUp = false;
  private lastBeat = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private carefulUntilSeq = -1;
  restarts = 0;

  constructor(private readonly opts: AnalysisHostOptions, private readonly events: AnalysisEvents) {}

  start(): void {
    this.spawn();
    this.watchdog = setInterval(() => this.checkHeartbeat(), Math.max(50, this.opts.heartbeatMs / 4));
  }

  /** A new sealed segment is on the spool. */
  segmentPublished(seq: number): void {
    this.published = seq;
    this.child?.send({ t: 'segment', seq, path: this.opts.ring.slotPath(seq), replay: false });
  }

  /** No more segments will come: analyse what is left, flush, and finish. */
  finish(): void {
    this.finishing = true;
    this.child?.send({ t: 'finish' });
    if (this.gaveUp) this.events.finished({});
  }

  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const c = this.child;
    this.child = null;
    c?.kill('SIGKILL');
  }

  /** For tests of crash safety: kill the running analysis as a crash would. */
  killForTest(): void {
    this.child?.kill('SIGKILL');
  }

  private spawn(): void {
    const o = this.opts;
    const execArgv = [
      '--experimental-permission',
      `--allow-fs-read=${codeRoot}/`,
      // sodium-native's loader probes this file; it reveals nothing.
      '--allow-fs-read=/etc/alpine-release',
      ...o.readablePaths.map((p) => `--allow-fs-read=${p}`),
      '--allow-addons',
      '--no-warnings',
      '--disable-proto=throw',
    ];
    const child = fork(path.join(__dirname, 'child.js'), [], {
      execArgv,
      stdio: ['pipe', 'ignore', 'pipe', 'ipc', 'pipe'],
      serialization: 'advanced',
      env: {},
    });
    this.child = child;
    this.lastPipePos = -1;
    this.lastBeat = performance.now();
    const pipe = child.stdio[4]!;
    let tail = Buffer.alloc(0);
    pipe.on('data', (d: Buffer) => {
      tail = Buffer.concat([tail, d]);
      const whole = tail.length - (tail.length % 8);
      if (whole >= 8) this.lastPipePos = tail.readDoubleLE(whole - 8);
      tail = tail.subarray(whole);
    });
    // The analysis's stderr may quote packet data (a stack trace of a module error):
    // it is read and withheld, never shown.
    child.stderr!.on('data', () => {});
    child.on('message', (m: FromChild) => this.onMessage(child, m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', () => { /* exit follows */ });

    // Subkeys go down the stdin pipe as raw bytes, never through IPC (which serializes).
    for (const name of childKeyOrder) o.keys[name].use((k) => child.stdin!.write(Buffer.from(k)));
    child.stdin!.end();

    const init: InitMessage = {
      t: 'init',
      linkType: o.linkType,
      outputs: o.outputs,
      policy: o.policy,
      flows: o.flows,
      committed: this.committed,
      quarantine: this.quarantine.slice(),
      carefulUntilSeq: this.carefulUntilSeq,
      module: o.module,
      heartbeatMs: Math.max(50, o.heartbeatMs / 5),
    };
    child.send(init);
    // Replay what the ring still holds, then the new work, in order.
    if (this.published >= 0) {
      const from = Math.max(0, Math.min(o.ring.oldestRetainedSeq(), this.doneUpTo + 1));
      for (let s = from; s <= this.published; s++) {
        child.send({ t: 'segment', seq: s, path: o.ring.slotPath(s), replay: s <= this.doneUpTo });
      }
    }
    if (this.finishing) child.send({ t: 'finish' });
  }

  private onMessage(child: ChildProcess, m: FromChild): void {
    if (child !== this.child) return;
    this.lastBeat = performance.now();
    switch (m.t) {
      case 'addresses': this.events.addresses(m.hashes); break;
      case 'records':
        this.committed = m.last;
        this.events.records(m.records);
        break;
      case 'segmentDone':
        if (m.seq > this.doneUpTo) {
          this.doneUpTo = m.seq;
          this.events.segmentDone(m.seq, m.packets, m.skipped, m.decodeCounters);
        }
        break;
      case 'finished':
        this.finishedOk = true;
        this.stop();
        this.events.finished(m.counters);
        break;
      case 'ready':
      case 'heartbeat':
        break;
    }
  }

  private checkHeartbeat(): void {
    if (!this.child) return;
    if (performance.now() - this.lastBeat > this.opts.heartbeatMs) {
      // A hang looks like a crash from here: kill it and let onExit decide.
      this.hung = true;
      this.child.kill('SIGKILL');
    }
  }

  private hung = false;

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || this.finishedOk) return;
    this.child = null;
    const why = this.hung ? 'stopped answering (heartbeat timeout)' : signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.hung = false;
    this.restarts++;
    if (this.lastPipePos >= 0) {
      if (this.lastPipePos === this.suspect) {
        this.quarantine.push(this.suspect);
        this.events.quarantined(this.suspect);
        this.suspect = -1;
      } else {
        this.suspect = this.lastPipePos;
      }
      this.carefulUntilSeq = Math.floor(this.lastPipePos / positionStride);
    } else {
      // We do not know which packet it died on: retrace the next stretch carefully,
      // announcing each packet's position before touching it.
      this.carefulUntilSeq = Math.max(this.carefulUntilSeq, Math.min(this.published, this.doneUpTo + 2));
    }
    if (this.restarts > this.opts.maxRestarts) {
      this.gaveUp = true;
      this.stop();
      this.events.gaveUp(`analysis ${why}; ${this.restarts} restarts is over the limit of ${this.opts.maxRestarts} (analysis.maxRestarts)`);
      if (this.finishing) this.events.finished({});
      return;
    }
    const suspectNote = this.suspect >= 0 ? `, suspect packet ${describePosition(this.suspect)}` : '';
    this.events.restarted(`analysis ${why}; restart ${this.restarts}${suspectNote}`);
    setTimeout(() => { if (this.watchdog) this.spawn(); }, 100);
  }
}
