// The flows output's packet loop in C (the capture addon's flowsRun), for the analysis
// that runs the flows output alone: a run of a segment's records (IPv4 or IPv6, TCP or
// UDP, on Ethernet), each decoded, found reported and counted into the open flow it
// joins, in one call. The JavaScript loop
// (child.ts work: decodePacket, AddressCollector.note, FlowTable.onPacket) stays the
// definition and takes every record the C loop does not: a packet of another shape, a
// value not reported yet, a new flow, a flow to restart, a FIN or RST, a flow that saw
// one before, a sweep due. test/analysis/flows-run.test.ts compares the two.
import { addon } from '../../../capture/addon';
import type { RewriterContext } from '../../../capture/batch-binding';
import type { SeenAddresses } from '../../addresses';
import type { SegmentRecords } from '../../segment-records';
import type { PacketClock } from '../../ticks';
import type { FlowTable } from './flowTable';

/** The context's slots (native/capture/sealtap-capture.c, RW_* and FS_*). */
const Slot = {
  in: 0, seen4: 8, seen4Used: 9, seenMac: 10, seenMacUsed: 11, run: 13, time: 14,
  addr: 15, portA: 16, portB: 17, proto: 18, version: 19, hash: 20, first: 21, last: 22, pktsA: 23, pktsB: 24,
  bytesA: 25, bytesB: 26, flagsA: 27, flagsB: 28, state: 29, prev: 30, next: 31, index: 32, seen6: 33, seen6Used: 34,
} as const;

export class FlowsRun {
  private readonly a = addon();
  private readonly ctx: RewriterContext;
  private readonly runCells = new Int32Array(12);
  private readonly timeCells = new Float64Array(7);
  private readonly bound = new Map<number, Uint8Array | Uint32Array>();

  constructor(private readonly table: FlowTable) {
    const a = this.a;
    this.ctx = a.rewriterNew();
    const s = table.store;
    // The store's arrays are made once, with the table.
    const arrays: [number, Uint8Array | Int32Array | Uint16Array | Float64Array][] = [
      [Slot.addr, s.addr], [Slot.portA, s.portA], [Slot.portB, s.portB], [Slot.proto, s.proto], [Slot.version, s.version],
      [Slot.hash, s.hash], [Slot.first, s.firstUs], [Slot.last, s.lastUs], [Slot.pktsA, s.pktsA], [Slot.pktsB, s.pktsB],
      [Slot.bytesA, s.bytesA], [Slot.bytesB, s.bytesB], [Slot.flagsA, s.flagsA], [Slot.flagsB, s.flagsB], [Slot.state, s.state],
      [Slot.prev, s.lruPrev], [Slot.next, s.lruNext], [Slot.index, s.indexArray()], [Slot.run, this.runCells], [Slot.time, this.timeCells],
    ];
    for (const [slot, array] of arrays) a.rewriterBind(this.ctx, slot, array);
    const t = table.timeouts();
    this.timeCells[5] = t.idleUs;
    this.timeCells[6] = t.activeUs;
  }

  /**
   * Takes up to `max` records of `recs` (of pcap link type `linkType`) from where it
   * stands, as FlowTable.onPacket would count each into its open flow; advances recs,
   * the clock and the table's packet count past them. Returns the records taken; the
   * next record is the caller's.
   */
  take(recs: SegmentRecords, linkType: number, max: number, seen: { v4: SeenAddresses; mac: SeenAddresses; v6: SeenAddresses }, clock: PacketClock): number {
    this.bindSlot(Slot.in, recs.body);
    // The used flags before the table: the C checks the pair's sizes at each call.
    this.bindSlot(Slot.seen4Used, seen.v4.usedArray());
    this.bindSlot(Slot.seen4, seen.v4.tableArray());
    this.bindSlot(Slot.seenMacUsed, seen.mac.usedArray());
    this.bindSlot(Slot.seenMac, seen.mac.tableArray());
    this.bindSlot(Slot.seen6Used, seen.v6.usedArray());
    this.bindSlot(Slot.seen6, seen.v6.tableArray());
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
    this.a.flowsRun(this.ctx);
    const k = r[5];
    if (k === 0) return 0;
    lru.head = r[3];
    lru.tail = r[4];
    recs.skip(r[6], k);
    clock.advanced(t[0], t[1]);
    this.table.counters.packets += k;
    return k;
  }

  private bindSlot(slot: number, array: Uint8Array | Uint32Array): void {
    if (this.bound.get(slot) === array) return;
    this.a.rewriterBind(this.ctx, slot, array);
    this.bound.set(slot, array);
  }
}
