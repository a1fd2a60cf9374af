// A Sys for transcript tests of the supervisor: time is a fake clock the test moves on,
// capture and analysis are scripted (the test says when a segment arrives, when the
// analysis restarts, when capture fails), the line records what it is asked to send,
// and every action lands in one transcript ("given these events, it did these
// actions"). The spool is a real ring in a temporary directory, sealed with a fixed
// keyring, so what the supervisor's spooler does is the real thing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { Keyring } from '../../firmware/keys/keyring';
import { SpoolRing } from '../../firmware/spool/ring';
import { SegmentAead } from '../../firmware/spool/segment';
import type { CaptureEvents, CaptureOptions } from '../../firmware/capture/capture';
import type { AnalysisEvents, AnalysisHostOptions } from '../../firmware/analysis/host';
import type { Channel, ChannelOptions, ChannelStats } from '../../firmware/channel/writer';
import { RecordType, recordTypeName, BootRecord, EndRecord } from '../../firmware/channel/records';
import type { AnalysisControl, CaptureControl, Sys, Timer } from '../../firmware/supervisor/sys';
import { validateConfig, RunConfig } from '../../firmware/supervisor/config';
import type { Board } from '../../firmware/supervisor/board';
import { supervise } from '../../firmware/supervisor/supervise';
import { RecordingCommands } from './recording-commands';
import { fixedMaster } from './fixed-keyring';
import { until } from './until';

interface FakeTimer {
  at: number;
  every: number | null;
  fn: () => void;
  cancelled: boolean;
}

/** Lets promise chains and setImmediate callbacks run (nothing here waits on the wall clock). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class ScriptedCapture implements CaptureControl {
  /** Answer stop() with onDone("stopped") (a capture that stops when asked). */
  stopsWhenAsked = true;
  private ended = false;
  private nextSlot = 0;
  private packets = 0;
  constructor(private readonly sys: ScriptedSys, readonly opts: CaptureOptions, readonly events: CaptureEvents) {}

  release(slot: number): void { this.sys.act(`capture: slot ${slot} released`); }
  stop(): void {
    this.sys.act('capture: stop');
    if (this.stopsWhenAsked && !this.ended) queueMicrotask(() => this.done('stopped'));
  }
  kernelDropped(): number { return 0; }
  /** Set by a test: the waits capture reports. */
  waits = 0;
  slotWaits(): number { return this.waits; }
  async terminate(): Promise<void> { this.sys.act('capture: threads ended'); }

  /** A full slot of `count` packets of 100 bytes. */
  segment(count: number): void {
    const bytes = Buffer.alloc(count * 116);
    for (let i = 0; i < count; i++) {
      bytes.writeUInt32LE(i, i * 116);
      bytes.writeUInt32LE(100, i * 116 + 8);
      bytes.writeUInt32LE(100, i * 116 + 12);
    }
    this.packets += count;
    const slot = this.nextSlot++ % this.opts.slots;
    this.events.onSegment({ type: 'segment', slot, used: bytes.length, count, firstSec: 0, firstUsec: 0, lastSec: count, lastUsec: 0 }, bytes);
  }

  done(reason: string, slotDropped = 0): void {
    this.ended = true;
    this.events.onDone({ type: 'done', reason, captured: this.packets, slotDropped, readError: null });
  }
}

export class ScriptedAnalysis implements AnalysisControl {
  /** Answer finish() with finished (an analysis with nothing left to do). */
  finishesWhenAsked = true;
  /** Its processes exit this long after stop() on the scripted clock (null: never). */
  exitsAfterMs: number | null = 0;
  readonly published: number[] = [];
  /** "analysis", or "analysis shard 2/3" with analysis.shards. */
  readonly name: string;
  constructor(private readonly sys: ScriptedSys, readonly opts: AnalysisHostOptions, readonly events: AnalysisEvents) {
    const s = opts.shard;
    this.name = s && s.count > 1 ? `analysis shard ${s.index + 1}/${s.count}` : 'analysis';
  }

  start(): void { this.sys.act(`${this.name}: start (link type ${this.opts.linkType})`); }
  segmentPublished(seq: number): void {
    this.published.push(seq);
    this.sys.act(`${this.name}: segment ${seq} published`);
  }
  finish(): void {
    this.sys.act(`${this.name}: finish`);
    if (this.finishesWhenAsked) queueMicrotask(() => this.events.finished({}, {}));
  }
  stop(): Promise<void> {
    this.sys.act(`${this.name}: stop`);
    const ms = this.exitsAfterMs;
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => {
      if (ms !== null) this.sys.after(ms, () => { this.sys.act(`${this.name}: exited`); resolve(); });
    });
  }
  pid(): number | null { return null; }

  /** The analysis went through segment `seq` of `packets` packets. */
  segmentDone(seq: number, packets: number): void {
    this.events.segmentDone(seq, packets, null, {});
  }
}

export class ScriptedLine implements Channel {
  /** Bytes waiting for the line: above 75% of outboxBytes the box shows backlogged. */
  backlogBytes = 0;
  /** close() never finishes draining (a line nobody reads, with a long drain time). */
  drainHangs = false;
  constructor(private readonly sys: ScriptedSys, readonly opts: ChannelOptions) {}

  send(type: RecordType, body: object | Buffer): boolean {
    // LOG records repeat the console lines of the transcript; STATUS says what it counts.
    if (type === RecordType.STATUS) this.sys.act(`line: STATUS state ${(body as { state: string }).state}`);
    else if (type !== RecordType.LOG) this.sys.act(`line: ${recordTypeName[type]}`);
    return true;
  }
  sendPackets(_run: Buffer, count: number): number {
    this.sys.act(`line: ${count} PACKET`);
    return count;
  }
  updateBoot(fields: Partial<BootRecord>): boolean {
    this.sys.act(`line: BOOT with ${JSON.stringify(fields)}`);
    return true;
  }
  stats(): ChannelStats {
    return { backlogBytes: this.backlogBytes, framesSent: 0, bytesWritten: 0, recordsSent: {}, dropped: {}, writeErrors: 0, lineFull: 0, lineReopens: 0, lineResends: 0, repairFramesSent: 0, spilledBytes: 0 };
  }
  close(end: EndRecord, drainMs: number): Promise<{ drained: boolean; leftBytes: number }> {
    this.sys.act(`line: END "${end.reason}" captured ${end.captured} analysed ${end.analysed} spool dropped ${end.spoolDropped} quarantined ${end.quarantined} restarts ${end.analysisRestarts}; drain ${drainMs / 1000} s`);
    if (this.drainHangs) return new Promise(() => {});
    return Promise.resolve({ drained: true, leftBytes: 0 });
  }
}

export class ScriptedSys implements Sys {
  readonly transcript: string[] = [];
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-transcript-'));
  private clock = 0;
  private timers: FakeTimer[] = [];
  readonly commands = new RecordingCommands();
  readonly files = new Map<string, Buffer>();
  keyring: Keyring | null = null;
  capture: ScriptedCapture | null = null;
  /** The last analysis started; with analysis.shards, `analyses` has one per shard. */
  analysis: ScriptedAnalysis | null = null;
  readonly analyses: ScriptedAnalysis[] = [];
  line: ScriptedLine | null = null;
  ring: SpoolRing | null = null;
  /** What the sandbox check answers (null: it can be built). */
  sandbox: string | null = null;
  /** Make these steps fail, with this message. */
  fail: { spool?: string; channel?: string; capture?: string } = {};

  act(line: string): void {
    this.transcript.push(line.split(this.dir).join('$DIR'));
  }

  now(): number { return this.clock; }
  after(ms: number, fn: () => void): Timer { return this.timer(ms, null, fn); }
  every(ms: number, fn: () => void): Timer { return this.timer(ms, ms, fn); }

  /** Moves the clock on by `ms`, running each timer when it is due, in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.clock + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.clock = due.at;
      if (due.every === null) due.cancelled = true;
      else due.at += due.every;
      due.fn();
      await settle();
    }
    this.clock = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  randomBytes(n: number): Buffer { return Buffer.alloc(n, 0xab); }
  generateKeyring(): Keyring {
    this.act('keys: generated');
    this.keyring = Keyring.debugFromBytes(fixedMaster(0x42));
    return this.keyring;
  }
  /** LED class files: the trigger and brightness tell the pattern (the delays only its speed). */
  writeFile(file: string, data: string): void {
    const name = path.basename(file);
    if (name === 'trigger' || name === 'brightness') this.act(`led: ${path.basename(path.dirname(file))} ${name}=${data}`);
  }
  mkdirp(): void {}
  readFile(file: string): Buffer {
    const b = this.files.get(file);
    if (!b) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' });
    return b;
  }
  isTty(): boolean { return false; }
  console(line: string): void { this.act(line); }
  sandboxProblem(): string | null { return this.sandbox; }
  chooseSegmentAead(): { aead: SegmentAead; name: string; gbps: Record<string, number> } {
    return { aead: SegmentAead.xchacha20poly1305, name: 'XChaCha20-Poly1305', gbps: { 'XChaCha20-Poly1305': 1, 'AES-256-GCM': 1 } };
  }
  sampleHealth(): Promise<{ cpuPercent: number; memUsedBytes: number; memTotalBytes: number }> {
    return Promise.resolve({ cpuPercent: 1, memUsedBytes: 1, memTotalBytes: 2 });
  }
  openSpool(o: { dir: string; bytes: number; slotBytes: number }): SpoolRing {
    if (this.fail.spool) throw new Error(this.fail.spool);
    const ring = SpoolRing.create(o);
    this.act(`spool: ${ring.slots} slots open`);
    const close = ring.close.bind(ring);
    ring.close = () => {
      this.act('spool: closed');
      return close();
    };
    this.ring = ring;
    return ring;
  }
  openChannel(o: ChannelOptions): Channel {
    if (this.fail.channel) throw new Error(this.fail.channel);
    this.act(`line: open, BOOT with link type ${o.boot.linkType}`);
    this.line = new ScriptedLine(this, o);
    return this.line;
  }
  startCapture(o: CaptureOptions, e: CaptureEvents): CaptureControl {
    this.act(`capture: start (${o.slots} slots${o.maxPackets ? `, at most ${o.maxPackets} packets` : ''})`);
    this.capture = new ScriptedCapture(this, o, e);
    if (this.fail.capture) {
      const m = this.fail.capture;
      queueMicrotask(() => e.onFailed(m));
    }
    return this.capture;
  }
  startAnalysis(o: AnalysisHostOptions, e: AnalysisEvents): AnalysisControl {
    this.analysis = new ScriptedAnalysis(this, o, e);
    this.analyses.push(this.analysis);
    return this.analysis;
  }
  /** Scripted analyses are objects, not processes: none is started ahead; the request is in the transcript. */
  preforkAnalysis(readablePaths: string[], spawnsModule: boolean, n: number): null {
    this.act(`analysis: ${n} to start ahead, reading ${readablePaths.join(' ')}${spawnsModule ? ', with a module' : ''}`);
    return null;
  }

  /** Waits for segment `seq` to be sealed, written and announced to the analysis (real disk I/O). */
  async published(seq: number): Promise<void> {
    await until(`segment ${seq} was not published`, () => this.analysis?.published.includes(seq) ?? false);
    await settle();
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private timer(ms: number, every: number | null, fn: () => void): Timer {
    const t: FakeTimer = { at: this.clock + ms, every, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }
}

/** A supervisor run on a ScriptedSys: the test drives it, then reads the transcript. */
export interface ScriptedRun {
  sys: ScriptedSys;
  signals: EventEmitter;
  config: RunConfig;
  /** The exit code, once the run is over. */
  exited: Promise<number>;
  code: number | null;
}

/** run.json as in the transcripts: a file replay into a four-slot spool, results to a recording; `over` replaces its keys (spool's are merged). */
export function startScriptedRun(over: Record<string, unknown> = {}, prepare: (sys: ScriptedSys) => void = () => {}): ScriptedRun {
  const sys = new ScriptedSys();
  prepare(sys);
  const { spool, ...rest } = over as { spool?: Record<string, unknown> };
  const raw = {
    source: { pcap: path.join(sys.dir, 'in.pcap') },
    spool: { dir: path.join(sys.dir, 'spool'), bytes: 4 * 65536, segmentBytes: 65536, ...spool },
    channel: { path: path.join(sys.dir, 'line.raw'), drainSeconds: 30 },
    outputs: ['flows'],
    status: { everySeconds: 1 },
    ...rest,
    // One analysis process unless a test asks for shards: "auto" would depend on the machine.
    analysis: { shards: 1, ...((rest as { analysis?: object }).analysis) },
  };
  fs.mkdirSync(path.join(sys.dir, 'spool'));
  const config = validateConfig(raw, sys.dir);
  const board: Board = {
    name: 'dev', leds: { status: '/leds/status', fault: '/leds/fault' },
    captureInterface: null, resultsTty: null, consoleTty: null, spoolDevice: null, bundleDevice: null, atExit: 'exit',
  };
  const signals = new EventEmitter();
  const run: ScriptedRun = { sys, signals, config, exited: Promise.resolve(0), code: null };
  run.exited = supervise({ config, board, sys, firmware: { name: 'test', version: '1', hash: 'none' }, version: 'test', signals }).then((c) => {
    run.code = c;
    return c;
  });
  return run;
}
