// The packets output's most common packet, rewritten in C (the capture addon's
// rewriterRun): an Ethernet frame of an IPv4 header without options carrying a TCP
// header (its options too, unless one is to be dropped) or a UDP header, nothing
// decoded after it. In JavaScript its rewrite was a third of the analysis' main thread
// on the packets output (the walk over the layers, the three caches, the checksums);
// the C path does the same work from the same caches in one call (docs/benchmarks.md).
//
// rewriter.ts stays the definition: the C path covers only policies whose actions for
// these fields it implements (below), reads the caches the JavaScript primitives keep
// and counts its lookups in them, and gives up on a value not cached yet, leaving the
// packet to rewriter.ts, which computes it and caches it.
// test/analysis/packets-common.test.ts compares the two byte for byte.
//
// run() goes one step further when the packets output is the analysis' only work: the
// addon's packetsRun also decodes each record, checks its values are reported and packs
// it, over a run of a segment's records (PacketRewriter.rewriteRun, child.ts fastRun).
import type { AnonPrimitives } from '../../anonymizer';
import { Act, FieldCodes } from './fieldCodes';
import type { FieldName } from '../../../anonymize/policy';
import type { OffsetCache } from './offsetCache';
import type { SegmentRecords } from '../../segment-records';
import type { PacketClock } from '../../ticks';
import type { SeenSets } from '../../addresses';
import { LoopContext, SharedSlot } from '../loopContext';

/** The context's slots of the rewrite (native/capture/sealtap-capture.c, RW_*); the loop's others are SharedSlot. */
const Slot = { out: 1, io: 2, codes: 3, ttlEdges: 4, v4: 5, mac: 6, offsets: 7, packed: 12 } as const;

/** Field codes in the order the C path reads them (RF_*). */
const FIELDS: readonly FieldName[] = [
  'eth.dst', 'eth.src', 'ip4.tos', 'ip4.id', 'ip4.ttl', 'ip4.src', 'ip4.dst', 'tcp.sport', 'tcp.dport',
  'tcp.seq', 'tcp.ack', 'tcp.window', 'udp.sport', 'udp.dport', 'payload',
  'tcp.options.timestamp', 'tcp.options.sack', 'tcp.options.mss', 'tcp.options.wscale', 'tcp.options.unknown',
];

/** Actions the C path implements, per field; a policy with any other keeps to rewriter.ts. */
function supported(f: FieldCodes): boolean {
  const c = f.code;
  const numeric = (n: FieldName): boolean => c[n] !== Act.hash && c[n] !== Act.bucket;
  return (c['eth.dst'] === Act.mac || c['eth.dst'] === Act.zero) && (c['eth.src'] === Act.mac || c['eth.src'] === Act.zero) &&
    c['ip4.ttl'] !== Act.hash && c['ip4.src'] !== Act.truncate && c['ip4.dst'] !== Act.truncate &&
    (['ip4.id', 'tcp.sport', 'tcp.dport', 'tcp.window', 'udp.sport', 'udp.dport'] as const).every(numeric) &&
    (c.payload === Act.drop || c.payload === Act.zero) &&
    (c['ip4.ttl'] !== Act.bucket || f.edges['ip4.ttl'].length > 0);
}

export class CommonRewrite {
  /** The cells the C path reads its arguments from and writes its results to. */
  private readonly io = new Int32Array(8);
  private readonly c = new LoopContext();
  /** packetsRun's cells (RUN_CELLS) and clock and time cells. */
  private readonly runCells = new Int32Array(12);
  private readonly timeCells = new Float64Array(4);
  /** Where the last run() ended in `packed`. */
  packedEnd = 0;

  /** A C path for this rewriter's policy, or null when it has an action the C path does not implement. */
  static for(prim: AnonPrimitives, f: FieldCodes, offsets: OffsetCache, out: Buffer): CommonRewrite | null {
    return supported(f) ? new CommonRewrite(prim, f, offsets, out) : null;
  }

  private constructor(private readonly prim: AnonPrimitives, f: FieldCodes, private readonly offsets: OffsetCache, out: Buffer) {
    const c = this.c;
    c.bind(Slot.out, out);
    c.bind(Slot.io, this.io);
    c.bind(Slot.codes, Uint8Array.from(FIELDS, (n) => f.code[n]));
    const edges = f.edges['ip4.ttl'];
    c.bind(Slot.ttlEdges, Int32Array.from(edges.length > 0 ? edges : [0]));
    c.bind(SharedSlot.run, this.runCells);
    c.bind(SharedSlot.time, this.timeCells);
  }

  /**
   * Rewrites the packet buf[start, end) (Ethernet, IPv4 of 20 bytes, then TCP (l4 6) or
   * UDP (17), as the decoder found it) into the output record after its 16-byte
   * header, which is the caller's to write. Returns the record's length, or -1 when a
   * value is not cached yet: then nothing was counted, and rewriter.ts rewrites it.
   */
  rewrite(buf: Buffer, start: number, end: number, l4: number, payloadKept: boolean): number {
    this.bindCaches(buf);
    const io = this.io;
    io[0] = start;
    io[1] = end;
    io[2] = l4;
    io[3] = payloadKept ? 1 : 0;
    this.c.a.rewriterRun(this.c.ctx);
    const n = io[4];
    if (n < 0) return -1;
    this.counted(io[5], io[6], io[7]);
    return n;
  }

  /**
   * The packets output's loop in C (packetsRun) over the records of `recs` (of pcap link
   * type `linkType`; none taken unless Ethernet's) from where it stands: up to `max`
   * records taken while each is the common packet, its MACs and addresses already
   * reported (`seen`), its values cached; each is written as a whole pcap record into
   * packed from `at`. Advances recs and the clock past them as next() and
   * PacketClock.packet would; packedEnd gets the end of what was written. Returns the
   * records taken; the next record is the caller's, nothing of it done.
   */
  run(recs: SegmentRecords, linkType: number, max: number, packed: Buffer, at: number, payloadKept: boolean,
    seen: SeenSets, clock: PacketClock, shiftUs: number, granularityUs: number): number {
    this.bindCaches(recs.body);
    this.c.bindSeen(seen);
    this.c.bind(Slot.packed, packed);
    const r = this.runCells;
    r[0] = recs.off;
    r[1] = linkType;
    r[2] = max;
    r[3] = at;
    r[4] = payloadKept ? 1 : 0;
    const t = this.timeCells;
    t[0] = clock.lastUs;
    t[1] = clock.nextTick();
    t[2] = shiftUs;
    t[3] = granularityUs;
    this.c.a.packetsRun(this.c.ctx);
    const k = r[5];
    if (k === 0) return 0;
    recs.skip(r[6], k);
    clock.advanced(t[0], t[1]);
    this.packedEnd = r[7];
    this.counted(r[8], r[9], r[10]);
    return k;
  }

  /** The caches' lookups the C path made, counted as their own (CacheGrowth). */
  private counted(v4: number, mac: number, offsets: number): void {
    if (v4 > 0) this.prim.pan.countV4Lookups(v4);
    if (mac > 0) this.prim.mac.countLookups(mac);
    if (offsets > 0) this.offsets.countLookups(offsets);
  }

  /** The input and the three caches, which are replaced when they grow. */
  private bindCaches(buf: Buffer): void {
    const c = this.c;
    c.bind(SharedSlot.in, buf);
    c.bind(Slot.v4, this.prim.pan.v4CacheTable());
    c.bind(Slot.mac, this.prim.mac.cacheTable());
    c.bind(Slot.offsets, this.offsets.cacheTable());
  }
}
