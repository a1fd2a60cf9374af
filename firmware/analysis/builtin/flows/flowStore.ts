// Storage of the flow table: a fixed pool of flow slots in typed arrays (no object per
// flow), an open-addressing hash index over them, and three intrusive lists that make
// every timeout an O(1) look at a list head:
//   - lru:     open flows, least recently seen first      -> idle timeout, eviction
//   - closing: TCP flows that saw FIN both ways or RST      -> end after a short linger
//   - created: every flow, oldest first                     -> active timeout
// Everything is allocated once in the constructor; per-packet work allocates nothing.

export const NIL = -1;

/** Intrusive doubly linked list over flow ids, with its links in shared arrays. */
export class FlowList {
  head = NIL;
  tail = NIL;
  constructor(private readonly prev: Int32Array, private readonly next: Int32Array) {}

  push(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = NIL;
    if (this.tail === NIL) this.head = id;
    else this.next[this.tail] = id;
    this.tail = id;
  }

  remove(id: number): void {
    const p = this.prev[id];
    const n = this.next[id];
    if (p === NIL) this.head = n;
    else this.next[p] = n;
    if (n === NIL) this.tail = p;
    else this.prev[n] = p;
  }

  moveToTail(id: number): void {
    if (this.tail === id) return;
    this.remove(id);
    this.push(id);
  }
}

export class FlowStore {
  readonly capacity: number;
  // Key of each flow: addresses (a at 32*id, b at 32*id + 16), ports, protocol, version.
  readonly addr: Buffer;
  readonly portA: Int32Array;
  readonly portB: Int32Array;
  readonly proto: Uint8Array;
  readonly version: Uint8Array;
  readonly hash: Int32Array;
  // Counters per direction: a = first sender, b = the other side.
  readonly firstUs: Float64Array;
  readonly lastUs: Float64Array;
  readonly pktsA: Float64Array;
  readonly pktsB: Float64Array;
  readonly bytesA: Float64Array;
  readonly bytesB: Float64Array;
  readonly flagsA: Uint16Array;
  readonly flagsB: Uint16Array;
  /** 0 open; CLOSED once FIN was seen both ways or RST; FIN_A/FIN_B as they come. */
  readonly state: Uint8Array;
  readonly closedUs: Float64Array;

  readonly lru: FlowList;
  readonly closing: FlowList;
  readonly created: FlowList;
  /** The links lru and closing share (flowsRun moves a flow to lru's tail in C). */
  readonly lruPrev: Int32Array;
  readonly lruNext: Int32Array;
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly index: Int32Array;
  private readonly mask: number;
  used = 0;

  constructor(maxFlows: number) {
    const n = maxFlows;
    this.capacity = n;
    this.addr = Buffer.alloc(n * 32);
    this.portA = new Int32Array(n);
    this.portB = new Int32Array(n);
    this.proto = new Uint8Array(n);
    this.version = new Uint8Array(n);
    this.hash = new Int32Array(n);
    this.firstUs = new Float64Array(n);
    this.lastUs = new Float64Array(n);
    this.pktsA = new Float64Array(n);
    this.pktsB = new Float64Array(n);
    this.bytesA = new Float64Array(n);
    this.bytesB = new Float64Array(n);
    this.flagsA = new Uint16Array(n);
    this.flagsB = new Uint16Array(n);
    this.state = new Uint8Array(n);
    this.closedUs = new Float64Array(n);
    // lru and closing are disjoint (a flow is open or closing), so they share links.
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    this.lruPrev = prev;
    this.lruNext = next;
    this.lru = new FlowList(prev, next);
    this.closing = new FlowList(prev, next);
    this.created = new FlowList(new Int32Array(n), new Int32Array(n));
    this.free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i;
    this.freeCount = n;
    // Load factor at most 1/2 keeps linear probing short.
    let size = 2;
    while (size < n * 2) size *= 2;
    this.index = new Int32Array(size).fill(NIL);
    this.mask = size - 1;
  }

  /** The hash index: a flow id per slot, NIL for none (flowsRun looks flows up in C). */
  indexArray(): Int32Array {
    return this.index;
  }

  get full(): boolean {
    return this.freeCount === 0;
  }

  /** Takes a free slot and indexes it under `hash`; the caller fills the key and counters. */
  allocate(hash: number): number {
    const id = this.free[--this.freeCount];
    this.hash[id] = hash;
    let i = hash & this.mask;
    while (this.index[i] !== NIL) i = (i + 1) & this.mask;
    this.index[i] = id;
    this.used++;
    return id;
  }

  /** First slot of the probe sequence for `hash`, to walk with nextSlot/idAt. */
  firstSlot(hash: number): number {
    return hash & this.mask;
  }

  nextSlot(slot: number): number {
    return (slot + 1) & this.mask;
  }

  idAt(slot: number): number {
    return this.index[slot];
  }

  /** Unindexes and frees a flow (backward-shift deletion: no tombstones to clean up). */
  release(id: number): void {
    let i = this.hash[id] & this.mask;
    while (this.index[i] !== id) i = (i + 1) & this.mask;
    this.index[i] = NIL;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const other = this.index[j];
      if (other === NIL) break;
      const home = this.hash[other] & this.mask;
      // Move `other` back into the hole unless its home lies cyclically in (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        this.index[i] = other;
        this.index[j] = NIL;
        i = j;
      }
    }
    this.free[this.freeCount++] = id;
    this.used--;
  }
}
