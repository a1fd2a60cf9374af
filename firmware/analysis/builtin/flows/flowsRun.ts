// The flows output's packet loop in C (the capture addon's flowsRun), for the analysis
// that runs the flows output alone: a run of a segment's records (IPv4 or IPv6, TCP or
// UDP, on Ethernet), each decoded, found reported and counted into the open flow it
// joins, in one call. The JavaScript loop
// (child.ts work: decodePacket, AddressCollector.note, FlowTable.onPacket) stays the
// definition and takes every record the C loop does not: a packet of another shape, a
// value not reported yet, a new flow, a flow to restart, a FIN or RST, a flow that saw
// one before, a sweep due. With shards, a common packet of another shard is passed in C
// as the JavaScript loop passes it (decoded, the clock ticked, nothing else).
// test/analysis/flows-run.test.ts compares the two.
import type { SegmentRecords } from '../../segment-records';
import type { ShardMap } from '../../shard';
import type { PacketClock } from '../../ticks';
import type { SeenSets } from '../../addresses';
import { LoopContext, SharedSlot } from '../loopContext';
import type { FlowTable } from './flowTable';

/** The context's slots of the flow store (native/capture/sealtap-capture.c, FS_*); the loop's others are SharedSlot. */
const Slot = {
  addr: 15, portA: 16, portB: 17, proto: 18, version: 19, hash: 20, first: 21, last: 22, pktsA: 23, pktsB: 24,
  bytesA: 25, bytesB: 26, flagsA: 27, flagsB: 28, state: 29, prev: 30, next: 31, index: 32,
} as const;

export class FlowsRun {
  private readonly c = new LoopContext();
  private readonly runCells = new Int32Array(12);
  private readonly timeCells = new Float64Array(7);
  /** Of the records the last take() took, those of this process's shard (all of them without shards). */
  takenOfShard = 0;

  /** `shard`: the run's shards and this process's, when there are more than one. */
  constructor(private readonly table: FlowTable, shard: { map: ShardMap; index: number } | null = null) {
    const s = table.store;
    // The store's arrays are made once, with the table.
    const arrays: [number, Uint8Array | Int32Array | Uint16Array | Float64Array][] = [
      [Slot.addr, s.addr], [Slot.portA, s.portA], [Slot.portB, s.portB], [Slot.proto, s.proto], [Slot.version, s.version],
      [Slot.hash, s.hash], [Slot.first, s.firstUs], [Slot.last, s.lastUs], [Slot.pktsA, s.pktsA], [Slot.pktsB, s.pktsB],
      [Slot.bytesA, s.bytesA], [Slot.bytesB, s.bytesB], [Slot.flagsA, s.flagsA], [Slot.flagsB, s.flagsB], [Slot.state, s.state],
      [Slot.prev, s.lruPrev], [Slot.next, s.lruNext], [Slot.index, s.indexArray()], [SharedSlot.run, this.runCells], [SharedSlot.time, this.timeCells],
    ];
    for (const [slot, array] of arrays) this.c.bind(slot, array);
    const t = table.timeouts();
    this.timeCells[5] = t.idleUs;
    this.timeCells[6] = t.activeUs;
    if (shard !== null && shard.map.count > 1) {
      const [k0, k1] = shard.map.keyWords();
      this.runCells[7] = shard.map.count;
      this.runCells[8] = shard.index;
      this.runCells[9] = k0;
      this.runCells[10] = k1;
    }
  }

  /**
   * Takes up to `max` records of `recs` (of pcap link type `linkType`) from where it
   * stands, as FlowTable.onPacket would count each into its open flow (or passes it, of
   * another shard); advances recs, the clock and the table's packet count past them.
   * Returns the records taken (takenOfShard: how many of them were this shard's); the
   * next record is the caller's.
   */
  take(recs: SegmentRecords, linkType: number, max: number, seen: SeenSets, clock: PacketClock): number {
    this.c.bind(SharedSlot.in, recs.body);
    this.c.bindSeen(seen);
    const lru = this.table.store.lru;
    const r = this.runCells;
    r[0] = recs.off;
    r[1] = linkType;
    r[2] = max;
    r[3] = lru.head;
    r[4] = lru.tail;
    const t = this.timeCells;
    t[0] = clock.lastUs;
    t[1] = clock.nextTick();
    t[4] = this.table.nextSweep();
    this.c.a.flowsRun(this.c.ctx);
    const k = r[5];
    this.takenOfShard = r[11];
    if (k === 0) return 0;
    lru.head = r[3];
    lru.tail = r[4];
    recs.skip(r[6], k);
    clock.advanced(t[0], t[1]);
    this.table.counters.packets += r[11];
    return k;
  }
}
