// The trusted analysis process's side of a researcher's module: starts the module's
// process in its sandbox, hands it the plaintext of each segment, and reads back what
// it emits. Everything read is checked as hostile: frame lengths, types, positions
// (inside the segment being analysed, never going back), stream numbers and every
// value against its declaration (streams/wire.ts). What passes is made safe by the
// stream exit (streams/exit.ts) or, for a packet reference, rewritten from the
// original bytes by the policy's packet rewriter. No text from the module ever goes
// further: refusals are counted by stream and reason.
//
// A module that dies, hangs or breaks the protocol takes this process down with an
// exit code that says which, after naming its last packet on the position pipe, so
// the supervisor's restart and quarantine rules apply to it as to any analysis death.
import { ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import * as path from 'node:path';
import { RecordType } from '../channel/records';
import { PacketView } from '../decode/packetView';
import { decodePacket } from '../decode/decode';
import type { PacketRewriter } from './builtin/packets/rewriter';
import { betweenPackets, ChildExit, position, positionStride, startGraceMs } from './ipc';
import { endPosition, ModuleInit } from './runtime/module-process-init';
import type { StreamExit } from './streams/exit';
import { decodeFields, FrameReader, FromModule, MAX_FROM_MODULE_FRAME, PACKET_REF, ReadValue, Refusal, ToModule } from './streams/wire';
import { jailedCommand, unjailedCommand } from './jail/jail-command';
import { seccompFilter } from './jail/seccomp-filter';

/** A record waiting for its place: the packet position it belongs to, its type and body. */
export interface HeldRecord {
  pos: number;
  type: number;
  body: Record<string, unknown> | Buffer;
}

export interface ModuleLinkEvents {
  /** The module finished segment `seq`; its records (checked and made safe) in order. */
  segmentDone(seq: number, records: HeldRecord[]): void;
  /** The module ran its onEnd; its last records. */
  finished(records: HeldRecord[]): void;
  /** The module's process is gone: the exit code to leave with and its last careful position. */
  died(exitCode: number, lastPos: number): void;
}

/**
 * How to start the module's process: the command line (setpriv … bwrap … node …, from
 * jail/jail-command.ts) and the seccomp filter bwrap reads on fd 3, or null for the
 * development switch. Built by the supervisor (moduleCommand), so this process needs
 * neither the tools' paths nor the helper: it only runs what it is given.
 */
export interface ModuleCommand {
  file: string;
  args: string[];
  filter: Uint8Array | null;
}

/** The command that starts a module's process, sandboxed or not (development switch). */
export function moduleCommand(module: string, sandboxed: boolean, memoryBytes: number): ModuleCommand {
  const moduleDir = path.dirname(module);
  const opts = {
    script: path.join(__dirname, 'runtime', 'module-process.js'),
    readOnly: [firmwareDir, moduleDir],
    memoryBytes,
    nodeArgs: [
      '--experimental-permission',
      `--allow-fs-read=${firmwareDir}/`,
      `--allow-fs-read=${moduleDir}/`,
      '--disallow-code-generation-from-strings',
      '--disable-proto=throw',
      '--no-warnings',
    ],
  };
  if (!sandboxed) return { ...unjailedCommand(opts), filter: null };
  return { ...jailedCommand(opts), filter: seccompFilter() };
}

export interface ModuleLinkOptions {
  init: ModuleInit;
  command: ModuleCommand;
  /** Silence from the module longer than this is a hang (run.json analysis.heartbeatSeconds). */
  hangMs: number;
  /** The rewriter for packet references (the policy's first level that outputs packets), or null. */
  packets: PacketRewriter | null;
}

const firmwareDir = path.resolve(__dirname, '..');

interface Segment {
  seq: number;
  body: Buffer;
  /** Start offset of each packet's 16-byte record header in body. */
  offsets: number[];
}

export class ModuleLink {
  private child: ChildProcess | null = null;
  private readonly reader: FrameReader;
  private readonly values: ReadValue[] = [];
  private readonly view = new PacketView();
  private seg: Segment | null = null;
  private held: HeldRecord[] = [];
  private lastPos = -1;
  private lastPacketRef = -1;
  private carefulPos = betweenPackets;
  private finishing = false;
  private gotFinished = false;
  private answered = false;
  private lastFrame = performance.now();
  private watchdog: NodeJS.Timeout | null = null;
  private verdict: number | null = null;

  constructor(private readonly o: ModuleLinkOptions, private readonly exit: StreamExit, private readonly events: ModuleLinkEvents) {
    this.reader = new FrameReader(MAX_FROM_MODULE_FRAME, (t, p) => this.onFrame(t, p));
  }

  start(): void {
    const c = this.o.command;
    const child = spawn(c.file, c.args, { stdio: c.filter ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'], env: {} });
    if (c.filter) {
      // bwrap reads the filter to the end on fd 3 and closes it before it execs node.
      const filterPipe = child.stdio[3] as Writable;
      filterPipe.on('error', () => {});
      filterPipe.end(Buffer.from(c.filter));
    }
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => {
      if (!this.reader.push(c)) this.broke();
    });
    child.stdout!.on('error', () => {});
    child.stdin!.on('error', () => {});
    // Its stderr may quote packet data (an error of the module's): read and withheld.
    child.stderr!.on('data', () => {});
    child.stderr!.on('error', () => {});
    child.on('error', () => { /* close follows */ });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => this.onClose(code, signal));
    this.send(ToModule.INIT, Buffer.from(JSON.stringify(this.o.init), 'utf8'));
    this.watchdog = setInterval(() => this.checkHeartbeat(), Math.max(20, this.o.init.heartbeatMs));
  }

  /**
   * Hands the module a segment's plaintext; its packets start at the given offsets.
   * With shards, `mine` has a byte per packet, 1 for those of this shard: the module's
   * runtime hands it only those, and every packet's time.
   */
  sendSegment(seq: number, body: Buffer, offsets: number[], mine: Uint8Array | null = null): void {
    this.seg = { seq, body, offsets };
    this.lastPos = position(seq, 0) - 1;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(seq >>> 0, 0);
    head.writeUInt32LE(mine ? mine.length : 0, 4);
    if (mine) this.send(ToModule.SEGMENT, head, Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength), body);
    else this.send(ToModule.SEGMENT, head, body);
  }

  finish(): void {
    this.finishing = true;
    this.lastPos = endPosition - 1;
    this.send(ToModule.FINISH);
  }

  kill(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.child?.kill('SIGKILL');
  }

  private send(type: number, ...payload: Buffer[]): void {
    const head = Buffer.alloc(5);
    head.writeUInt32LE(1 + payload.reduce((n, b) => n + b.length, 0), 0);
    head[4] = type;
    const stdin = this.child?.stdin;
    if (!stdin) return;
    stdin.write(head);
    for (const b of payload) stdin.write(b);
  }

  /** The module broke the protocol: it is stopped, and this process leaves saying so. */
  private broke(): void {
    this.verdict ??= ChildExit.moduleBroke;
    this.kill();
  }

  private checkHeartbeat(): void {
    const limit = this.answered ? this.o.hangMs : Math.max(this.o.hangMs, startGraceMs);
    if (performance.now() - this.lastFrame > limit) {
      this.verdict ??= ChildExit.moduleHung;
      this.kill();
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    // Finished normally: it exits by itself, or is killed once this process is done.
    if (this.verdict === null && this.gotFinished) return;
    let exitCode = this.verdict;
    if (exitCode === null) {
      if (code === ChildExit.moduleThrew || code === ChildExit.moduleLoad) exitCode = code;
      else exitCode = signal !== null || code !== 0 ? ChildExit.moduleKilled : ChildExit.moduleBroke;
    }
    this.events.died(exitCode, this.carefulPos);
  }

  private onFrame(type: number, p: Buffer): void {
    if (this.verdict !== null) return;
    this.lastFrame = performance.now();
    switch (type) {
      case FromModule.READY: this.answered = true; return;
      case FromModule.HEARTBEAT: return;
      case FromModule.POSITION: return this.onPosition(p);
      case FromModule.RECORD: return this.onRecord(p);
      case FromModule.REFUSED: return this.onRefused(p);
      case FromModule.SEGMENT_DONE: return this.onSegmentDone(p);
      case FromModule.FINISHED: return this.onFinished(p);
      default: return this.broke();
    }
  }

  /** Careful mode: the packet the module is about to touch, or betweenPackets after it. */
  private onPosition(p: Buffer): void {
    if (p.length !== 8) return this.broke();
    const pos = p.readDoubleLE(0);
    if (pos === betweenPackets || (this.seg && this.packetIndex(pos) >= 0)) this.carefulPos = pos;
    else this.broke();
  }

  /** Index of pos in the segment being analysed, or -1. */
  private packetIndex(pos: number): number {
    const s = this.seg;
    if (!s || !Number.isInteger(pos)) return -1;
    const i = pos - s.seq * positionStride;
    return i >= 0 && i < s.offsets.length ? i : -1;
  }

  private onRefused(p: Buffer): void {
    if (p.length !== 2) return this.broke();
    const reason = p[1];
    // What the runtime refuses before sending: codes only; anything else is not from it.
    if (reason !== Refusal.unknownStream && reason !== Refusal.shape && reason !== Refusal.range && reason !== Refusal.outsideHandler) return this.broke();
    this.exit.refuse(p[0], reason);
  }

  private onRecord(p: Buffer): void {
    if (p.length < 9) return this.broke();
    const pos = p.readDoubleLE(0);
    const stream = p[8];
    const atEnd = this.finishing && this.seg === null && pos === endPosition;
    const index = atEnd ? -1 : this.packetIndex(pos);
    if ((!atEnd && index < 0) || pos < this.lastPos) return this.exit.refuse(stream, Refusal.position);
    this.lastPos = pos;
    if (stream === PACKET_REF) return this.onPacketRef(p, pos, index);
    const decl = this.exit.decl(stream);
    if (!decl) return this.exit.refuse(stream, Refusal.unknownStream);
    const bad = decodeFields(p, 9, decl, this.values);
    if (bad !== 0) return this.exit.refuse(stream, bad);
    const rec = this.exit.build(stream, this.values, index < 0 ? null : this.tsUs(index));
    if (rec) this.held.push({ pos, type: RecordType.STREAM, body: rec as unknown as Record<string, unknown> });
  }

  /**
   * A packet by reference (payload: position, PACKET_REF, the number of headers to keep
   * or 0 for all): rewritten from the original bytes, once per packet at most.
   */
  private onPacketRef(p: Buffer, pos: number, index: number): void {
    const rw = this.o.packets;
    if (!rw) return this.exit.refuse(PACKET_REF, Refusal.notDeclaredOutput);
    if (p.length !== 10 || index < 0 || pos === this.lastPacketRef) return this.exit.refuse(PACKET_REF, Refusal.shape);
    this.lastPacketRef = pos;
    const s = this.seg!;
    const at = s.offsets[index];
    const caplen = s.body.readUInt32LE(at + 8);
    const start = at + 16;
    const end = Math.min(start + caplen, s.body.length);
    const v = this.view;
    decodePacket(this.o.init.linkType, s.body, start, end - start, s.body.readUInt32LE(at + 12), v);
    let n = rw.rewrite(v, s.body, this.tsUs(index));
    const layers = p[9];
    if (layers > 0 && layers < v.depth) {
      // Cut where the first header not kept starts, as a snap length would: the
      // original length stays in the record header.
      const cut = rw.mapOut(v.off[layers]);
      if (cut < n) {
        n = cut;
        rw.out.writeUInt32LE(n - 16, 8);
      }
    }
    this.held.push({ pos, type: RecordType.PACKET, body: Buffer.from(rw.out.subarray(0, n)) });
  }

  /** Packet time of record `index` of the segment being analysed (its header, read again). */
  private tsUs(index: number): number {
    const s = this.seg!;
    const at = s.offsets[index];
    return s.body.readUInt32LE(at) * 1e6 + s.body.readUInt32LE(at + 4);
  }

  private onSegmentDone(p: Buffer): void {
    if (p.length !== 4 || !this.seg || p.readUInt32LE(0) !== (this.seg.seq >>> 0)) return this.broke();
    const seq = this.seg.seq;
    const records = this.held;
    this.held = [];
    this.seg = null;
    this.carefulPos = betweenPackets;
    this.events.segmentDone(seq, records);
  }

  private onFinished(p: Buffer): void {
    if (p.length !== 0 || !this.finishing || this.seg !== null) return this.broke();
    this.gotFinished = true;
    const records = this.held;
    this.held = [];
    this.events.finished(records);
  }
}
