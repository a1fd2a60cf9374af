// The researcher's module's process, started inside its sandbox by the trusted
// analysis process (module-link.ts). It holds no key and cannot read the spool: it is
// handed plaintext segments on stdin, decodes every packet, runs the module, and
// writes frames (streams/wire.ts) to stdout: records of declared streams, packet
// references, positions (in careful mode, before each packet, so a crash names its
// packet) and heartbeats. Nothing here is trusted by the other side: a module can
// overwrite any of this code, and the trusted side checks every frame it reads.
import * as fs from 'node:fs';
import { PacketView } from '../../decode/packetView';
import { decodePacket } from '../../decode/decode';
import { PacketClock } from '../ticks';
import { SegmentRecords } from '../segment-records';
import { betweenPackets, ChildExit, packetsPerClockCheck, position } from '../ipc';
import type { Streams } from '../streams/schema';
import { endPosition, ModuleInit } from './module-process-init';
import { encodeField, FrameReader, FrameWriter, FromModule, PACKET_REF, Refusal, ToModule } from '../streams/wire';
import * as sdk from '../sdk';
import { loadModuleFile } from './load-module';

const out = new FrameWriter();

function writeAll(b: Buffer): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(1, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function flushOut(): void {
  if (out.len > 0) writeAll(out.take());
}

/** A position frame, written at once: it must be in the pipe before its packet is touched. */
function writePosition(pos: number): void {
  const at = out.begin(FromModule.POSITION);
  out.f64(pos);
  out.end(at);
  flushOut();
}

class ModuleRuntime {
  private readonly view = new PacketView();
  private readonly module: sdk.AnalysisModule;
  private readonly streamIndex = new Map<string, number>();
  private readonly streamFields: Array<[string, Streams[string]['fields'][string]][]>;
  private readonly quarantine: Set<number>;
  private readonly queue: Array<{ seq: number; recs: SegmentRecords; mine: Uint8Array | null }> = [];
  private seg: { seq: number; recs: SegmentRecords; mine: Uint8Array | null } | null = null;
  private pos = 0;
  private inHandler = false;
  private inPacket = false;
  private finishing = false;
  private busy = false;
  private readonly clock: PacketClock;
  private readonly sliceMs: number;
  private readonly emit: sdk.Emit;

  constructor(private readonly init: ModuleInit) {
    const names = Object.keys(init.streams);
    names.forEach((n, i) => this.streamIndex.set(n, i));
    this.streamFields = names.map((n) => Object.entries(init.streams[n].fields));
    this.quarantine = new Set(init.quarantine);
    this.sliceMs = Math.max(5, Math.min(50, init.heartbeatMs / 4));
    this.clock = new PacketClock(init.prevTsUs);
    this.emit = Object.freeze({
      record: (stream: string, values: Readonly<Record<string, sdk.StreamValue>>) => this.record(stream, values),
      packet: (layers?: number) => this.packetRef(layers),
    });
    const ctx: sdk.ModuleContext = {
      linkType: init.linkType,
      flows: { ...init.flows },
      streams: Object.fromEntries(names.map((n) => [n, Object.keys(init.streams[n].fields)])),
    };
    const m = loadModuleFile(init.module, sdk)(ctx);
    if (!m || typeof m.onPacket !== 'function') throw new Error('the module factory must return an object with onPacket(view, buf, tsUs, emit)');
    this.module = m;
  }

  private refuse(stream: number, reason: number): false {
    const at = out.begin(FromModule.REFUSED);
    out.u8(stream);
    out.u8(reason);
    out.end(at);
    return false;
  }

  private record(stream: string, values: Readonly<Record<string, sdk.StreamValue>>): boolean {
    const i = this.streamIndex.get(stream);
    if (i === undefined) return this.refuse(0xfe, Refusal.unknownStream);
    if (!this.inHandler) return this.refuse(i, Refusal.outsideHandler);
    if (typeof values !== 'object' || values === null) return this.refuse(i, Refusal.shape);
    const fields = this.streamFields[i];
    if (Object.keys(values).length !== fields.length) return this.refuse(i, Refusal.shape);
    const at = out.begin(FromModule.RECORD);
    out.f64(this.pos);
    out.u8(i);
    for (const [name, decl] of fields) {
      if (!encodeField(out, decl, values[name])) {
        out.rewind(at);
        return this.refuse(i, Refusal.range);
      }
    }
    out.end(at);
    return true;
  }

  private packetRef(layers: number | undefined): boolean {
    if (!this.inPacket) return this.refuse(PACKET_REF, Refusal.outsideHandler);
    if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1 && layers <= 255)) return this.refuse(PACKET_REF, Refusal.range);
    const at = out.begin(FromModule.RECORD);
    out.f64(this.pos);
    out.u8(PACKET_REF);
    out.u8(layers ?? 0);
    out.end(at);
    return true;
  }

  /** mine: with shards, 1 for each packet of this module's shard (null: every packet is). */
  enqueue(seq: number, body: Buffer, mine: Uint8Array | null): void {
    this.queue.push({ seq, recs: new SegmentRecords(body), mine });
    this.pump();
  }

  finish(): void {
    this.finishing = true;
    this.pump();
  }

  private pump(): void {
    if (this.busy) return;
    this.busy = true;
    setImmediate(() => this.step());
  }

  private step(): void {
    this.busy = false;
    if (!this.seg) {
      const next = this.queue.shift();
      if (next) this.seg = next;
      else if (this.finishing) return this.end();
      else return;
    }
    this.work();
    flushOut();
    this.pump();
  }

  private work(): void {
    const { seq, recs, mine } = this.seg!;
    const body = recs.body;
    const careful = seq <= this.init.carefulUntilSeq;
    const started = performance.now();
    let n = 0;
    while (recs.next()) {
      const pos = position(seq, recs.index);
      if (this.quarantine.has(pos)) continue;
      if (careful) writePosition(pos);
      this.pos = pos;
      const tsUs = recs.tsUs;
      this.inHandler = true;
      try {
        // Every shard's module sees every packet's time, and the packets of its shard.
        if (this.clock.packet(tsUs)) this.module.onTimer?.(tsUs, this.emit);
        if (mine !== null && mine[recs.index] !== 1) {
          if (careful) writePosition(betweenPackets);
          continue;
        }
        decodePacket(this.init.linkType, body, recs.start, recs.end - recs.start, recs.origLen, this.view);
        this.inPacket = true;
        this.module.onPacket(this.view, body, tsUs, this.emit);
      } catch {
        // Name the packet before dying: the trusted side quarantines it if the
        // restarted module dies on it again. The error's text is never sent.
        out.len = 0;
        writePosition(pos);
        process.exit(ChildExit.moduleThrew);
      } finally {
        this.inPacket = false;
        this.inHandler = false;
      }
      if (careful) writePosition(betweenPackets);
      if (++n % packetsPerClockCheck === 0 && performance.now() - started > this.sliceMs) return;
    }
    const at = out.begin(FromModule.SEGMENT_DONE);
    out.u32(seq);
    out.end(at);
    this.seg = null;
  }

  private end(): void {
    this.pos = endPosition;
    this.inHandler = true;
    try {
      this.module.onEnd?.(this.clock.lastUs, this.emit);
    } catch {
      // A module failing at its end loses only its own last records.
    }
    this.inHandler = false;
    out.frame(FromModule.FINISHED);
    flushOut();
    process.exit(0);
  }
}

function main(): void {
  let runtime: ModuleRuntime | null = null;
  const reader = new FrameReader(2 ** 31 - 1, (type, p) => {
    if (type === ToModule.INIT && !runtime) {
      const init = JSON.parse(p.toString('utf8')) as ModuleInit;
      try {
        runtime = new ModuleRuntime(init);
      } catch (e) {
        process.stderr.write(`module: failed to start (${e instanceof Error ? e.name : typeof e})\n`);
        process.exit(ChildExit.moduleLoad);
      }
      setInterval(() => { out.frame(FromModule.HEARTBEAT); flushOut(); }, Math.max(20, Math.floor(init.heartbeatMs))).unref();
      out.frame(FromModule.READY);
      flushOut();
    } else if (type === ToModule.SEGMENT && runtime) {
      // seq, the shard mask's length (0: none), the mask, the body. The payload is a view
      // of the reader's buffer: copy it, it outlives this call.
      const maskLen = p.readUInt32LE(4);
      const mine = maskLen > 0 ? Uint8Array.from(p.subarray(8, 8 + maskLen)) : null;
      runtime.enqueue(p.readUInt32LE(0), Buffer.from(p.subarray(8 + maskLen)), mine);
    } else if (type === ToModule.FINISH && runtime) {
      runtime.finish();
    }
  });
  process.stdin.on('data', (c: Buffer) => reader.push(c));
  // The trusted side is gone: nothing more will come, and nobody reads what this writes.
  process.stdin.on('end', () => process.exit(0));
}

main();
