// The trusted analysis process: project code only, beside the keys. Started by the
// supervisor under Node's permission model (read-only file system access to the spool
// and its own code, no writes, no workers; child processes only to start the module's
// sandbox); its only ways out are the IPC channel and the position pipe. It opens the
// sealed segments in order, decodes every packet, runs the built-in analyses, hands
// each segment's plaintext to the researcher's module in its sandbox (module-link.ts)
// and applies the policy to what comes back, and sends records with their places so a
// restart neither loses nor repeats one.
// First: libsodium's binding by file name, before any module asks for it.
import '../keys/sodium-binding';
import * as fs from 'node:fs';
import { openSegment, peekSealedLength, SEGMENT_HEADER_BYTES } from '../spool/segment';
import { PacketView } from '../decode/packetView';
import { decodePacket } from '../decode/decode';
import { DecodeCounter, decodeCountersByName } from '../decode/counters';
import { RecordType } from '../channel/records';
import { AddressCollector } from './addresses';
import { betweenPackets, ChildExit, describePosition, FromChild, InitMessage, OutRecord, packetsPerClockCheck, Place, position, SegmentMessage, ToChild } from './ipc';
import { Keys, readKeys, writePosition } from './child-pipes';
import { buildModules, BoundModule } from './modules';
import { AnonPrimitives } from './anonymizer';
import type { Emit } from './builtin/api';
import type { Policy } from '../anonymize/policy';
import { HeldRecord, ModuleLink } from './module-link';
import { StreamExit } from './streams/exit';
import { PacketRewriter } from './builtin/packets/rewriter';
import type { PacketsModule } from './builtin/packets/module';
import { FlowTable } from './builtin/flows/flowTable';
import { FlowsRun } from './builtin/flows/flowsRun';
import { copyBytes } from './builtin/packets/byteCopy';
import { endPosition } from './runtime/module-process-init';
import { PacketClock } from './ticks';
import { recordOffsets, SegmentRecords } from './segment-records';
import { ShardMap, shardStreams } from './shard';
import { addon } from '../capture/addon';

/**
 * Records per IPC message. Each message costs a serialization here and a parse in the
 * supervisor whatever its size: 256 made the parse a tenth of the supervisor's time on
 * the packets output (1M IMIX packets).
 */
const BATCH_RECORDS = 2048;

/** Records the flows output's loop in C takes at most per call: the time slice is looked at between calls. */
const FLOWS_RUN_RECORDS = 4096;

// Taken before any module is loaded, and removed from `process`: a module cannot send
// messages of its own (a forged segmentDone or finished would lose packets).
const ipcSend = process.send!.bind(process);
delete (process as { send?: unknown }).send;

/**
 * The young generation's collection, from --expose-gc (sandbox.ts); the global stays
 * (V8 makes it non-configurable, and it gives no way out of the process). Every batch
 * sent leaves two serialized copies of itself outside V8's heap, freed only when a
 * collection finds their Buffers dead. The packet loops in C allocate almost nothing on
 * V8's heap, so collections came only at V8's limit on external memory: 40 MB more of
 * malloc's heap at the peak, its pages cleared again each time (docs/benchmarks.md). A
 * minor collection every COLLECT_BATCHES batches frees them while they are few: a
 * scavenge of a young generation that holds little live costs well under a millisecond.
 */
const collectYoung = (globalThis as { gc?: (o: { type: 'minor' }) => void }).gc;
const COLLECT_BATCHES = 16;
let batchesCollected = 0;

/**
 * Record batches handed to the IPC channel and not yet written to it. Node queues what
 * the supervisor has not read yet without limit, so a supervisor slower than this
 * process (the line, the guard) would grow this process without bound: work pauses
 * while more than MAX_UNSENT batches wait, and goes on when one is written.
 */
let unsent = 0;
const MAX_UNSENT = 4;
let onSent: (() => void) | null = null;
/** Record batches handed to the IPC channel so far (work() yields after each). */
let batchesSent = 0;

function send(m: FromChild): void {
  if (m.t !== 'records' && m.t !== 'packets') return void ipcSend(m);
  unsent++;
  batchesSent++;
  ipcSend(m, undefined, undefined, () => {
    unsent--;
    if (unsent <= MAX_UNSENT) onSent?.();
  });
}

/** Runtime.packed grows to this at most (a batch of 2,048 frames of 1,518 bytes is 3.1 MB). */
const MAX_PACKED_BYTES = 4 << 20;

/**
 * A record of the batch. A PACKET record packed by Runtime.pack is packed[start, end),
 * with no body of its own; any other record is its body. The entries are reused from
 * batch to batch (send() serializes a batch at once): a view and two objects per
 * packet were a tenth of this process's time on a packets run (docs/benchmarks.md).
 * An entry the packets output's loop in C made (Runtime.fastRun) holds `count` PACKET
 * records back to back, of consecutive packets, the last at the entry's place.
 */
interface Batched {
  type: number;
  body: Record<string, unknown> | Uint8Array | null;
  packed: Buffer | null;
  start: number;
  end: number;
  count: number;
}

/** b[i, j) as the records of a 'records' message. */
function outRecords(b: Batched[], i: number, j: number): OutRecord[] {
  const out: OutRecord[] = [];
  for (let k = i; k < j; k++) out.push({ type: b[k].type, body: bodyOf(b[k]) });
  return out;
}

/** The PACKET records of an entry of `count` of them, each its own body (whole pcap records back to back). */
function splitRecords(e: Batched): Uint8Array[] {
  const all = bodyOf(e) as Uint8Array;
  const out: Uint8Array[] = [];
  let at = 0;
  while (at + 16 <= all.length) {
    const end = at + 16 + (all[at + 8] | (all[at + 9] << 8) | (all[at + 10] << 16)) + all[at + 11] * 2 ** 24;
    out.push(all.subarray(at, end));
    at = end;
  }
  return out;
}

function bodyOf(e: Batched): Record<string, unknown> | Uint8Array {
  return e.packed !== null ? e.packed.subarray(e.start, e.end) : e.body!;
}

/**
 * The bodies of the PACKET records b[i, j) as one byte string: a view when they lie back
 * to back in one buffer (packed by Runtime.pack), else a copy of them all. A Buffer,
 * not a plain Uint8Array: the supervisor receives the kind that was sent.
 */
function packedRun(b: Batched[], i: number, j: number): Buffer {
  const first = b[i];
  if (first.packed !== null) {
    let end = first.end;
    let k = i + 1;
    while (k < j && b[k].packed === first.packed && b[k].start === end) end = b[k++].end;
    if (k === j) return first.packed.subarray(first.start, end);
  }
  const bodies: Uint8Array[] = [];
  for (let m = i; m < j; m++) bodies.push(bodyOf(b[m]) as Uint8Array);
  return Buffer.concat(bodies);
}

class Runtime {
  private readonly view = new PacketView();
  private readonly modules: BoundModule[];
  private readonly addresses: AddressCollector;
  private readonly quarantine: Set<number>;
  private readonly posBuf = Buffer.alloc(8);
  private readonly queue: SegmentMessage[] = [];
  private finishing = false;
  private busy = false;
  /** True while the runtime is calling into the modules (see record()). */
  private inHandler = false;

  // The segment being worked through.
  private seg: SegmentMessage | null = null;
  private recs: SegmentRecords | null = null;
  /** With shards and a module: 1 for each packet of the segment in this process's shard (the module is handed it). */
  private mine: Uint8Array | null = null;
  /** Sealed segments are read into this when their slot file cannot be mapped (readSealed). */
  private readBuf = Buffer.alloc(0);
  /** Each slot file, mapped once by its path (null: it could not be, and is read with pread). */
  private readonly slotMaps = new Map<string, Buffer | null>();
  /** The mapped slot file readSealed last returned and where its segment ends: let go once opened. */
  private mapped: Buffer | null = null;
  private mappedEnd = 0;
  /** Segments are opened into this when there is no module (open). */
  private bodyBuf = Buffer.alloc(0);
  private segPackets = 0;
  /** The built-ins are through the segment; with a module, its records are awaited. */
  private builtinsDone = false;
  private moduleRecords: HeldRecord[] | null = null;

  // Places.
  private pos = 0;
  private lastPlacedPos = -1;
  private ord = 0;
  private committed: Place;
  /** The batch: its first batchLength entries (Batched). */
  private readonly batch: Batched[] = [];
  private batchLength = 0;
  /** Records in the batch (an entry of the loop in C holds several). */
  private batchRecords = 0;
  /**
   * Without a module: the bytes of the batch's PACKET records, back to back in the order
   * placed, each record's entry a span of them. A run of them goes to the supervisor as
   * one view (sendRuns), serialized by send() at once, so the bytes are reused from the
   * next batch on. A copy per record into its own Buffer, then all of them again into
   * the run's, cost two allocations and two copies a packet. Made at the first packet
   * (a process with a module never uses it), it doubles when a batch does not fit, up
   * to MAX_PACKED_BYTES: a batch of full-size frames then fits in one piece.
   */
  private packed = Buffer.alloc(0);
  private packedView: DataView = new DataView(this.packed.buffer);
  private packedLength = 0;
  /** The last buffer pack() copied from (the packets rewriter's, reused) and its view. */
  private packSource: Buffer | null = null;
  private packSourceView: DataView = this.packedView;
  /** Place of each record in the batch: pos and ord, interleaved. */
  private readonly batchPlaces: number[] = [];
  /** Place of the batch's last record. */
  private lastPos = -1;
  private lastOrd = -1;
  /** With a researcher's module: the built-ins' records of the segment, placed once the module's are in. */
  private held: HeldRecord[] = [];
  private readonly clock: PacketClock;
  private readonly counters: Record<string, number> = { packets: 0, quarantined: 0, suppressed: 0, segmentsSkipped: 0, moduleEndFailures: 0, emittedOutsideHandlers: 0, unsendableRecords: 0 };
  private readonly emit: Emit;
  private readonly link: ModuleLink | null;
  private readonly exit: StreamExit | null;
  /**
   * Wall-clock time one turn of work may take before going back to the event loop,
   * where heartbeats and IPC run. A count of packets would not do: a module slow per
   * packet would starve the heartbeat and be killed as hung.
   */
  private readonly sliceMs: number;
  /** The shard of each packet, when the flows are split across processes (shard.ts). */
  private readonly shards: ShardMap | null;
  private readonly shardView = new PacketView();
  /** The packets output's rewriter when it is the only analysis and has its loop in C (fastRun). */
  private readonly fast: PacketRewriter | null;
  /** The flows output's loop in C when it is the only analysis (fastFlows). */
  private readonly fastFlows: FlowsRun | null;

  constructor(private readonly init: InitMessage, private readonly keys: Keys) {
    this.shards = init.shard.count > 1 ? new ShardMap(keys.flow, init.shard.count) : null;
    this.committed = init.committed;
    this.quarantine = new Set(init.quarantine);
    this.addresses = new AddressCollector(keys.egress);
    // Flow and DNS records are copied (one level) when emitted: a module that reuses
    // one object for every record must not change the records still in the batch.
    this.emit = {
      flow: (r) => this.record(RecordType.FLOW, { ...r } as Record<string, unknown>),
      dns: (r) => this.record(RecordType.DNS, { ...r } as Record<string, unknown>),
      packet: (rec, len) => this.packetRecord(rec, len),
    };
    const prim = new AnonPrimitives(keys);
    const policy = init.policy as Policy;
    this.modules = buildModules(init.outputs, policy, prim, { linkType: init.linkType, flows: init.flows }, this.emit);
    this.sliceMs = Math.max(5, Math.min(50, init.heartbeatMs / 4));
    this.clock = new PacketClock(init.prevTsUs);
    const only = this.modules.length === 1 ? this.modules[0].module : null;
    const rw = only !== null && only.name === 'packets' && !only.onTimer ? (only as PacketsModule).rewriter : null;
    const table = only !== null && only.name === 'flows' && !only.onTimer ? (only as { table?: unknown }).table : null;
    // The loops in C do only a built-in's work: none with a module; the packets output's
    // none with shards to pick either (the flows output's passes another shard's packets).
    this.fast = !init.module && this.shards === null && rw?.hasCPath() ? rw : null;
    this.fastFlows = !init.module && table instanceof FlowTable ? new FlowsRun(table, this.shards && { map: this.shards, index: init.shard.index }) : null;
    if (init.module) {
      // The module's records go out with the first level's field actions; packets it
      // references, with those of the first level that outputs packets (as the built-in).
      const first = Object.values(policy.levels)[0];
      const packetsLevel = Object.values(policy.levels).find((l) => l.outputs.includes('packets'));
      this.exit = new StreamExit(shardStreams(init.streams, init.shard), prim, policy, first.fields);
      this.link = new ModuleLink({
        init: {
          module: init.module, linkType: init.linkType, flows: init.flows, streams: init.streams,
          quarantine: init.quarantine, carefulUntilSeq: init.carefulUntilSeq, prevTsUs: init.prevTsUs, heartbeatMs: init.heartbeatMs,
        },
        command: init.moduleCommand!,
        // init.heartbeatMs is a fifth of the supervisor's limit (host.ts): the module gets the whole limit.
        hangMs: init.heartbeatMs * 5,
        packets: packetsLevel ? new PacketRewriter(prim, packetsLevel.fields) : null,
      }, this.exit, {
        segmentDone: (seq, records) => this.onModuleSegment(seq, records),
        finished: (records) => this.onModuleFinished(records),
        died: (code, lastPos) => {
          // The module's last packet goes on the pipe last: the supervisor blames it.
          writePosition(this.posBuf, lastPos);
          process.exit(code);
        },
      });
    } else {
      this.exit = null;
      this.link = null;
    }
  }

  start(): void {
    this.link?.start();
  }

  private record(type: number, body: Record<string, unknown> | Uint8Array): void {
    // A record emitted from a timer or promise of a module's own has no packet to
    // belong to: its place would differ after a restart, so it could be lost or sent
    // twice. Only records emitted inside onPacket, onTimer and onEnd are kept.
    if (!this.inHandler) {
      this.counters.emittedOutsideHandlers++;
      return;
    }
    if (this.link) this.held.push({ pos: this.pos, type, body: body as HeldRecord['body'] });
    else this.place(this.pos, type, body);
  }

  /**
   * emit.packet: the record is copied at once (the emitter reuses its buffer), into
   * `packed` when it is placed now. A length past the emitter's buffer is cut to it, as
   * a copy of rec.subarray(0, len) would be: nothing but the record's bytes goes out.
   */
  private packetRecord(rec: Buffer, len: number): void {
    const n = Math.max(0, Math.min(len, rec.length));
    if (this.link || !this.inHandler) this.record(RecordType.PACKET, Buffer.from(rec.subarray(0, n)));
    else this.place(this.pos, RecordType.PACKET, rec, n);
  }

  /** Appends rec[0, len) to `packed` (a new one when full: entries of the old keep it) and makes e its span. */
  private pack(rec: Buffer, len: number, e: Batched): void {
    if (this.packedLength + len > this.packed.length) {
      const grown = this.packed.length === 0 ? 1 << 20 : Math.min(MAX_PACKED_BYTES, 2 * this.packed.length);
      this.packed = Buffer.allocUnsafeSlow(Math.max(grown, len));
      this.packedView = new DataView(this.packed.buffer, this.packed.byteOffset, this.packed.byteLength);
      this.packedLength = 0;
    }
    if (rec !== this.packSource) {
      this.packSource = rec;
      this.packSourceView = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
    }
    const at = this.packedLength;
    copyBytes(rec, this.packSourceView, 0, len, this.packed, this.packedView, at);
    this.packedLength = at + len;
    e.body = null;
    e.packed = this.packed;
    e.start = at;
    e.end = at + len;
  }

  /**
   * Gives a record its place (its packet's position and its ordinal among that
   * packet's records) and batches it, unless the place was committed before a restart.
   * Records come in place order. A PACKET record given with `len` is still the
   * emitter's buffer: it is copied (pack) once it is kept.
   */
  private place(pos: number, type: number, body: Record<string, unknown> | Uint8Array, len = -1): void {
    if (pos !== this.lastPlacedPos) {
      // Bounded messages, with or without a module (whose segment's records are placed
      // here all at once), and each ending at a packet boundary: every record of the
      // packets before it, none of the next.
      if (this.batchRecords >= BATCH_RECORDS) this.flush();
      this.lastPlacedPos = pos;
      this.ord = 0;
    }
    const ord = this.ord++;
    if (this.committed.pos > pos || (this.committed.pos === pos && this.committed.ord >= ord)) {
      this.counters.suppressed++;
      return;
    }
    const e = this.nextEntry();
    e.type = type;
    if (len >= 0) {
      this.pack(body as Buffer, len, e);
    } else {
      e.body = body;
      e.packed = null;
    }
    this.batchPlaces.push(pos, ord);
    this.lastPos = pos;
    this.lastOrd = ord;
  }

  /** The batch's next entry (reused), counted as one record. */
  private nextEntry(): Batched {
    let e = this.batch[this.batchLength];
    if (e === undefined) {
      e = { type: 0, body: null, packed: null, start: 0, end: 0, count: 1 };
      this.batch.push(e);
    }
    this.batchLength++;
    this.batchRecords++;
    e.count = 1;
    return e;
  }

  /**
   * The packets output's loop in C over the segment's next records (PacketRewriter
   * rewriteRun), when it is the only analysis: each record it takes is decoded,
   * found reported, rewritten and packed as the loop of work() would (the test holds the
   * two together), and the run becomes one batch entry of consecutive places. Returns
   * the records taken (0: the next is work()'s), or -1 when the batch was full and went
   * first (work() yields, as after any batch sent).
   */
  private fastRun(rw: PacketRewriter, recs: SegmentRecords, seq: number): number {
    if (this.batchRecords >= BATCH_RECORDS) {
      this.flush();
      return -1;
    }
    // The first packet of a process makes `packed` (pack()).
    if (this.packed.length === 0) return 0;
    const first = recs.index + 1;
    const k = rw.rewriteRun(recs, this.init.linkType, BATCH_RECORDS - this.batchRecords, this.packed, this.packedLength, this.addresses.seenSets(), this.clock);
    if (k === 0) return 0;
    const last = position(seq, first + k - 1);
    this.tookInC(k, last);
    const e = this.nextEntry();
    this.batchRecords += k - 1;
    e.type = RecordType.PACKET;
    e.count = k;
    e.body = null;
    e.packed = this.packed;
    e.start = this.packedLength;
    e.end = rw.runPackedEnd();
    this.packedLength = e.end;
    this.batchPlaces.push(last, 0);
    this.lastPlacedPos = last;
    this.ord = 1;
    this.lastPos = last;
    this.lastOrd = 0;
    return k;
  }

  /**
   * Counts k records a loop in C took, the last at position `last`, as work() counts
   * each: `ofShard` of them this shard's packets (the others only decoded and passed).
   */
  private tookInC(k: number, last: number, ofShard = k): void {
    this.pos = last;
    this.view.counters[DecodeCounter.packets] += k;
    this.counters.packets += ofShard;
    this.segPackets += ofShard;
  }

  /**
   * Places the built-ins' held records and the module's together: by position, the
   * built-ins' first at the same position. Both are deterministic, so a replay
   * gives every record the same place.
   */
  private placeMerged(mod: HeldRecord[]): void {
    const a = this.held;
    let i = 0;
    let j = 0;
    while (i < a.length || j < mod.length) {
      const r = j >= mod.length || (i < a.length && a[i].pos <= mod[j].pos) ? a[i++] : mod[j++];
      this.place(r.pos, r.type, r.body);
    }
    this.held = [];
  }

  private flush(): void {
    const hashes = this.addresses.take();
    if (hashes) send({ t: 'addresses', hashes });
    if (this.batchLength === 0) return;
    try {
      this.sendRuns();
    } catch {
      // A record that cannot be serialized would fail this batch on every replay and
      // loop the analysis into giving up: send one by one and drop only what cannot go.
      this.sendOneByOne();
    }
    this.committed = { pos: this.lastPos, ord: this.lastOrd };
    if (collectYoung && batchesSent - batchesCollected >= COLLECT_BATCHES) {
      batchesCollected = batchesSent;
      collectYoung({ type: 'minor' });
    }
    // The entries stay for the next batch; what they held goes.
    for (let i = 0; i < this.batchLength; i++) {
      this.batch[i].body = null;
      this.batch[i].packed = null;
    }
    this.batchLength = 0;
    this.batchRecords = 0;
    this.batchPlaces.length = 0;
    this.packedLength = 0;
  }

  /**
   * The batch in order, as runs: PACKET records packed back to back into one buffer
   * (each is a whole pcap record, so the supervisor walks them by their headers) and
   * the other records as objects. One byte string per run instead of an object per
   * packet: structured-clone parsing of per-packet objects was the supervisor's
   * largest cost on the packets output. Each run carries the place of its last record.
   */
  private sendRuns(): void {
    const b = this.batch;
    const n = this.batchLength;
    let i = 0;
    while (i < n) {
      const packets = b[i].type === RecordType.PACKET;
      let j = i + 1;
      while (j < n && (b[j].type === RecordType.PACKET) === packets) j++;
      const last = { pos: this.batchPlaces[2 * (j - 1)], ord: this.batchPlaces[2 * (j - 1) + 1] };
      let count = 0;
      for (let k = i; k < j; k++) count += b[k].count;
      if (packets) send({ t: 'packets', bytes: packedRun(b, i, j), count, last });
      else send({ t: 'records', records: outRecords(b, i, j), last });
      i = j;
    }
  }

  private sendOneByOne(): void {
    for (let i = 0; i < this.batchLength; i++) {
      const e = this.batch[i];
      const pos = this.batchPlaces[2 * i];
      const ord = this.batchPlaces[2 * i + 1];
      const records = e.count > 1 ? splitRecords(e) : null;
      const n = records === null ? 1 : records.length;
      for (let m = 0; m < n; m++) {
        try {
          if (records === null) send({ t: 'records', records: outRecords(this.batch, i, i + 1), last: { pos, ord } });
          else send({ t: 'records', records: [{ type: e.type, body: records[m] }], last: { pos: pos - (n - 1) + m, ord: 0 } });
        } catch {
          this.counters.unsendableRecords++;
        }
      }
    }
  }

  enqueue(m: SegmentMessage): void {
    this.queue.push(m);
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
    if (unsent > MAX_UNSENT) {
      // The supervisor is behind: wait until it has taken a batch (send's callback).
      onSent = () => { onSent = null; this.pump(); };
      return;
    }
    if (!this.seg) {
      const next = this.queue.shift();
      if (next) this.open(next);
      else if (this.finishing) return this.end();
      else return;
    }
    if (this.seg && !this.builtinsDone) {
      this.inHandler = true;
      // New raw values are hashed with the egress key: one opening per slice of work.
      this.keys.egress.use(() => this.work());
      this.inHandler = false;
    }
    // Waiting for the module's records of this segment: its link pumps again.
    if (this.seg && this.builtinsDone) return this.completeSegment();
    this.pump();
  }

  /**
   * A slot's sealed segment: where it lies in the slot file's mapping (slotMap), its
   * pages mapped in at once and let go once it is opened (releaseMapped); for a file
   * that cannot be mapped, read into a buffer reused from segment to segment (a fresh
   * 4 MiB per segment and shard was page faults and clearing). Either way only the
   * sealed length the header claims (the slot's preallocated tail is not read);
   * openSegment trusts none of it until the tag verifies.
   */
  private readSealed(file: string): Buffer {
    const map = this.slotMap(file);
    if (map !== null) {
      // The segment where the supervisor wrote it, its pages mapped in at once: no copy.
      const claimed = peekSealedLength(map.subarray(0, SEGMENT_HEADER_BYTES));
      const want = claimed >= SEGMENT_HEADER_BYTES && claimed <= map.length ? claimed : map.length;
      addon().slotPages(map, want, true);
      this.mapped = map;
      this.mappedEnd = want;
      return map.subarray(0, want);
    }
    const fd = fs.openSync(file, 'r');
    try {
      const slot = fs.fstatSync(fd).size;
      if (this.readBuf.length < slot) this.readBuf = Buffer.allocUnsafe(slot);
      let got = fs.readSync(fd, this.readBuf, 0, Math.min(SEGMENT_HEADER_BYTES, slot), 0);
      const claimed = peekSealedLength(this.readBuf.subarray(0, got));
      const want = claimed >= SEGMENT_HEADER_BYTES && claimed <= slot ? claimed : slot;
      while (got < want) {
        const n = fs.readSync(fd, this.readBuf, got, want - got, got);
        if (n === 0) break;
        got += n;
      }
      return this.readBuf.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * The slot file mapped read-only (mapSlotFile), once per path: slot files are made at
   * full size before the analysis starts and never shrink, so the mapping always covers
   * the file. Reading a segment there instead of copying it out took a sixth of this
   * process's time on the packets output (docs/benchmarks.md). null for a file that is
   * missing now (asked again next time), or that cannot be mapped (read with pread).
   */
  private slotMap(file: string): Buffer | null {
    const known = this.slotMaps.get(file);
    if (known !== undefined) return known;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return null;
    }
    let map: Buffer | null = null;
    try {
      const size = fs.fstatSync(fd).size;
      if (size >= SEGMENT_HEADER_BYTES && size <= 0x7fffffff) map = addon().mapSlotFile(fd, size);
    } catch {
      map = null;
    } finally {
      fs.closeSync(fd);
    }
    this.slotMaps.set(file, map);
    return map;
  }

  /** Lets go of the pages of the segment just opened: the page cache keeps them, this process's resident set does not. */
  private releaseMapped(): void {
    if (this.mapped === null) return;
    addon().slotPages(this.mapped, this.mappedEnd, false);
    this.mapped = null;
  }

  private open(m: SegmentMessage): void {
    let sealed: Buffer;
    try {
      sealed = this.readSealed(m.path);
    } catch {
      send({ t: 'segmentDone', seq: m.seq, packets: 0, skipped: 'gone', decodeCounters: {}, lastTsUs: this.clock.seen(), refused: this.exit?.refusedTotal() ?? 0 });
      return;
    }
    // Without a module, nothing holds a body once its segment is done (the built-ins
    // copy what they keep, records are copies; completeSegment wipes it): one buffer
    // serves every segment. A module's link writes the body to the module
    // asynchronously: a new one each time.
    if (!this.link && this.bodyBuf.length < sealed.length) this.bodyBuf = Buffer.allocUnsafe(sealed.length);
    let opened: ReturnType<typeof openSegment>;
    try {
      opened = openSegment(this.keys.spool, sealed, m.seq, this.link ? undefined : this.bodyBuf);
    } finally {
      this.releaseMapped();
    }
    if ('error' in opened) {
      this.counters.segmentsSkipped++;
      send({ t: 'segmentDone', seq: m.seq, packets: 0, skipped: opened.error, decodeCounters: {}, lastTsUs: this.clock.seen(), refused: this.exit?.refusedTotal() ?? 0 });
      return;
    }
    this.seg = m;
    this.recs = new SegmentRecords(opened.body);
    this.mine = this.shards && this.link ? this.shardMask(opened.body) : null;
    this.segPackets = 0;
    this.builtinsDone = false;
    this.moduleRecords = null;
    if (this.link) this.link.sendSegment(m.seq, opened.body, recordOffsets(opened.body), this.mine);
  }

  /** 1 for each packet of the body in this shard, 0 for the others. */
  private shardMask(body: Buffer): Uint8Array {
    const r = new SegmentRecords(body);
    const v = this.shardView;
    const shards = this.shards!;
    const out: number[] = [];
    while (r.next()) {
      decodePacket(this.init.linkType, body, r.start, r.end - r.start, r.origLen, v);
      out.push(shards.of(v, body) === this.init.shard.index ? 1 : 0);
    }
    return Uint8Array.from(out);
  }

  /** Packets until sliceMs has passed, then back to the event loop for IPC and heartbeats. */
  private work(): void {
    const recs = this.recs!;
    const body = recs.body;
    const seq = this.seg!.seq;
    const careful = seq <= this.init.carefulUntilSeq;
    const v = this.view;
    const mine = this.mine;
    // Without a module the shard is taken from the decode the built-ins use anyway.
    const shards = mine === null ? this.shards : null;
    const shard = this.init.shard.index;
    // A lookup per packet costs a hash of the position: none while nothing is quarantined.
    const quarantined = this.quarantine.size > 0;
    // The loops in C where nothing per packet is the runtime's own to do (the packets
    // output's is there with one shard only; the flows output's takes each packet's shard).
    const inC = mine === null && !careful && !quarantined;
    const fast = inC ? this.fast : null;
    const fastFlows = inC ? this.fastFlows : null;
    const started = performance.now();
    const sentBefore = batchesSent;
    let n = 0;
    for (;;) {
      // Nothing it takes may be a place committed before a restart (place() suppresses those).
      if (fast !== null && this.committed.pos < position(seq, recs.index + 1)) {
        const k = this.fastRun(fast, recs, seq);
        if (k < 0) break;
        if (k > 0 && performance.now() - started > this.sliceMs) break;
      }
      // The flows output's: its packets emit nothing, so no place is at stake.
      if (fastFlows !== null) {
        const first = recs.index + 1;
        const k = fastFlows.take(recs, this.init.linkType, FLOWS_RUN_RECORDS, this.addresses.seenSets(), this.clock);
        if (k > 0) {
          this.tookInC(k, position(seq, first + k - 1), fastFlows.takenOfShard);
          if (performance.now() - started > this.sliceMs) break;
        }
      }
      if (!recs.next()) break;
      const pos = position(seq, recs.index);
      if (quarantined && this.quarantine.has(pos)) { this.counters.quarantined++; continue; }
      if (careful) writePosition(this.posBuf, pos);
      this.pos = pos;
      const tsUs = recs.tsUs;
      try {
        // Ticks on whole seconds of packet time, the same packets after a restart (ticks.ts).
        // Every shard sees every packet's time: ticks fall on the same packets in each.
        if (this.clock.packet(tsUs)) for (const b of this.modules) b.module.onTimer?.(tsUs, b.emit);
        // Every shard decodes every packet, so each counts the decoder's findings for
        // the whole run (shard 1 reports them).
        decodePacket(this.init.linkType, body, recs.start, recs.end - recs.start, recs.origLen, v);
        if ((mine !== null && mine[recs.index] === 0) || (shards !== null && shards.of(v, body) !== shard)) {
          if (careful) writePosition(this.posBuf, betweenPackets);
          continue;
        }
        this.addresses.note(v, body);
        for (const b of this.modules) b.module.onPacket(v, body, tsUs, b.emit);
      } catch (e) {
        // Name the packet on the position pipe before dying: the supervisor
        // quarantines it if the restarted analysis dies on it again.
        writePosition(this.posBuf, pos);
        // The error's text may quote packet data: only its class is reported.
        process.stderr.write(`analysis: a built-in analysis failed (${e instanceof Error ? e.name : typeof e}) at ${describePosition(pos)}\n`);
        process.exit(ChildExit.moduleThrew);
      }
      if (careful) writePosition(this.posBuf, betweenPackets);
      this.counters.packets++;
      this.segPackets++;
      // A batch went to the IPC channel: back to the event loop. What of a batch did not
      // fit the socket at once is written only when the loop turns; working on for the
      // rest of a slice (50 ms) left the supervisor without records while a dozen
      // batches waited here, and then this process waiting for it: the two took turns
      // instead of running side by side (docs/benchmarks.md).
      if (batchesSent !== sentBefore) break;
      if (++n % packetsPerClockCheck === 0 && performance.now() - started > this.sliceMs) break;
    }
    if (recs.done()) this.builtinsDone = true;
  }

  /** The decoder's counters, from one shard only: every shard decodes every packet. */
  private decodeCounters(): Record<string, number> {
    return this.init.shard.index === 0 ? decodeCountersByName(this.view.counters) : {};
  }

  private onModuleSegment(seq: number, records: HeldRecord[]): void {
    if (!this.seg || this.seg.seq !== seq) return; // the link checks this; kept for safety
    this.moduleRecords = records;
    this.completeSegment();
  }

  /** Sends the segment's records and its segmentDone once the built-ins and the module (if any) are through it. */
  private completeSegment(): void {
    if (!this.seg || !this.builtinsDone) return;
    if (this.link) {
      if (this.moduleRecords === null) return;
      this.placeMerged(this.moduleRecords);
      this.moduleRecords = null;
    }
    const seq = this.seg.seq;
    this.flush();
    send({ t: 'segmentDone', seq, packets: this.segPackets, skipped: null, decodeCounters: this.decodeCounters(), lastTsUs: this.clock.seen(), refused: this.exit?.refusedTotal() ?? 0 });
    // The reused body's raw packets are wiped once their segment is done: they do not
    // linger until the next segment overwrites them, and a built-in that kept a view
    // into the body instead of a copy would show zeros in its output, which the
    // byte-for-byte tests of the packets and flows outputs catch.
    if (!this.link) this.recs!.body.fill(0);
    this.seg = null;
    this.recs = null;
    this.builtinsDone = false;
    this.pump();
  }

  private end(): void {
    // End-of-run records get places after every packet position.
    this.pos = endPosition;
    this.inHandler = true;
    for (const b of this.modules) {
      // A module failing at the end loses only its own last records: the others still
      // flush, and the run ends instead of dying here on every restart.
      try {
        b.module.onEnd?.(this.clock.lastUs, b.emit);
      } catch (e) {
        this.counters.moduleEndFailures++;
        process.stderr.write(`analysis: module ${b.module.name} failed at the end (${e instanceof Error ? e.name : typeof e})\n`);
      }
    }
    this.inHandler = false;
    if (this.link) this.link.finish();
    else this.finished();
  }

  private onModuleFinished(records: HeldRecord[]): void {
    this.placeMerged(records);
    this.finished();
  }

  private finished(): void {
    this.flush();
    const streams = this.exit?.counts() ?? {};
    // Exit only once 'finished' is written: process.exit drops IPC messages still
    // queued, and a lost 'finished' reads as a crash and costs a restart and a replay.
    ipcSend({ t: 'finished', counters: { ...this.counters, ...this.decodeCounters() }, streams }, undefined, undefined, () => {
      this.link?.kill();
      process.exit(0);
    });
  }
}

async function main(): Promise<void> {
  const keys = await readKeys();
  let runtime: Runtime | null = null;
  process.on('message', (m: ToChild) => {
    if (m.t === 'init') {
      try {
        runtime = new Runtime(m, keys);
      } catch (e) {
        process.stderr.write(`analysis: modules failed to start (${e instanceof Error ? e.name : typeof e})\n`);
        process.exit(ChildExit.moduleLoad);
      }
      setInterval(() => send({ t: 'heartbeat' }), Math.max(50, Math.floor(m.heartbeatMs))).unref();
      send({ t: 'ready' });
      runtime.start();
    } else if (m.t === 'segment') runtime?.enqueue(m);
    else if (m.t === 'finish') runtime?.finish();
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((e: Error) => {
  process.stderr.write(`analysis: ${e.message}\n`);
  process.exit(ChildExit.noKeys);
});
