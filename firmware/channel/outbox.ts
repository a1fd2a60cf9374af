// The outbox: records waiting for the line. The line is slow (11.5 KB/s at 115200 baud)
// and may be unplugged; capture must never wait for it (invariant 5), so the outbox is
// bounded and, when full, drops the least important records first and counts them.
//
// MemoryOutbox keeps records in memory; SpoolOutbox (spool-outbox.ts) puts it in front
// of sealed files on the spool, so a long backlog of results waits on disk, not in RAM.
// The interface below (push / nextType / take / counters) is all the writer uses.
//
// PACKET records come from the analysis in runs, back to back as pcap records
// (16-byte header, caplen at byte 8, then caplen bytes). pushPackets() queues a run as
// one entry and take() walks its records in place: an entry (a view, two array slots)
// per record was a fifth of the supervisor's work on a packets line (docs/benchmarks.md).
// Budgets, drop counts and batches are the same as for records pushed one by one.
import { RecordType, recordPriority, recordTypeName } from './records';
import { pcapRecordBytes } from '../spool/pcap-records';

export interface Outbox {
  /** Queues a record; false if it was refused for lack of space (counted in dropped()). */
  push(type: number, record: Buffer): boolean;
  /**
   * Queues `count` PACKET records lying back to back in `run` (pcap records); returns how
   * many were queued. Records that do not fit are refused and counted as push() would.
   */
  pushPackets(run: Buffer, count: number): number;
  /** Type of the record that should go out next (most important, then oldest), or -1. */
  nextType(): number;
  /** Removes records of `type` from the front of its queue: at least one, then while the total stays within maxBytes. */
  takeBatch(type: number, maxBytes: number): Buffer[];
  /**
   * takeBatch() without a view per record: visits each record taken (buf[start, end)) in
   * order; returns how many. With `packer`, the records of a run that fit go to it
   * several at a time instead (RunPacker), in the same order; the visitor gets the rest.
   */
  take(type: number, maxBytes: number, visit: RecordVisitor, packer?: RunPacker): number;
  /** Bytes waiting (records plus their 2-byte length prefix). */
  backlogBytes(): number;
  /** Records dropped for lack of space, per record type name. */
  dropped(): Record<string, number>;
  /** Removes and counts as dropped everything still waiting; returns the bytes dropped. */
  dropAll(): number;
}

/** Called with each record take() removes: the record is buf[start, end), valid while buf is. */
export type RecordVisitor = (buf: Buffer, start: number, end: number) => void;

/**
 * Takes the records of a run of PACKET records several at a time: pack() consumes, from
 * run[off], at most `count` records, each while it fits (with its 2-byte length) in what
 * is left of `room` bytes, exactly those the visitor would have got one by one, and
 * stops before the first that does not fit; `done` then says [records consumed, the run
 * offset after them, bytes of room used].
 */
export interface RunPacker {
  pack(run: Buffer, off: number, count: number, room: number): void;
  readonly done: Int32Array;
}

interface Queue {
  type: number;
  priority: number;
  /** Each a record, or a run of PACKET records (pushPackets). */
  items: Buffer[];
  /** Records in each item: 1, or the run's count. */
  counts: number[];
  /** Arrival number of each item, to drain types of equal priority oldest first. */
  order: number[];
  head: number;
  /** Bytes waiting in this queue (records plus prefixes). */
  bytes: number;
}

/** Per-record overhead counted against the budget (the batch length prefix). */
const RECORD_OVERHEAD = 2;

export class MemoryOutbox implements Outbox {
  private readonly queues = new Map<number, Queue>();
  private bytes = 0;
  private arrivals = 0;
  private readonly drops: Record<string, number> = {};

  constructor(private readonly budgetBytes: number) {
    if (!(budgetBytes > 0)) throw new Error(`outbox budget ${budgetBytes} must be a positive number of bytes: set channel.outboxBytes`);
  }

  push(type: number, record: Buffer): boolean {
    const cost = record.length + RECORD_OVERHEAD;
    if (!this.room(type, cost)) {
      this.countDrop(type, 1);
      return false;
    }
    this.add(type, record, 1, cost);
    return true;
  }

  pushPackets(run: Buffer, count: number): number {
    const cost = run.length + count * RECORD_OVERHEAD;
    if (this.room(RecordType.PACKET, cost)) {
      this.add(RecordType.PACKET, run, count, cost);
      return count;
    }
    return pushEach(this, run, count);
  }

  /** Room for `cost` more bytes of `type`, made by dropping less important records if need be. */
  private room(type: number, cost: number): boolean {
    if (this.bytes + cost > this.budgetBytes) this.evictBelow(recordPriority[type] ?? 3, this.bytes + cost - this.budgetBytes);
    return this.bytes + cost <= this.budgetBytes;
  }

  private add(type: number, item: Buffer, count: number, cost: number): void {
    const q = this.queue(type);
    q.items.push(item);
    q.counts.push(count);
    q.order.push(this.arrivals);
    this.arrivals += count;
    this.bytes += cost;
    q.bytes += cost;
  }

  nextType(): number {
    let best: Queue | null = null;
    for (const q of this.queues.values()) {
      if (q.head >= q.items.length) continue;
      if (!best || q.priority < best.priority || (q.priority === best.priority && q.order[q.head] < best.order[best.head])) best = q;
    }
    return best ? best.type : -1;
  }

  takeBatch(type: number, maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    this.take(type, maxBytes, (b, start, end) => out.push(start === 0 && end === b.length ? b : b.subarray(start, end)));
    return out;
  }

  take(type: number, maxBytes: number, visit: RecordVisitor, packer?: RunPacker): number {
    const q = this.queues.get(type);
    if (!q) return 0;
    let used = 0;
    let n = 0;
    while (q.head < q.items.length) {
      const item = q.items[q.head];
      const count = q.counts[q.head];
      if (count === 1) {
        const cost = item.length + RECORD_OVERHEAD;
        if (n > 0 && used + cost > maxBytes) break;
        visit(item, 0, item.length);
        used += cost;
        n++;
        this.bytes -= cost;
        q.bytes -= cost;
        q.head++;
        continue;
      }
      // A run: its records while they fit; what is left of it stays at the front.
      let off = 0;
      let k = 0;
      while (k < count) {
        if (packer !== undefined && used < maxBytes) {
          packer.pack(item, off, count - k, maxBytes - used);
          const done = packer.done;
          if (done[0] > 0) {
            k += done[0];
            n += done[0];
            off = done[1];
            used += done[2];
            continue;
          }
        }
        // The packer's stop: a record that does not fit (taken all the same when it is the first).
        const len = pcapRecordBytes(item, off);
        if (n > 0 && used + len + RECORD_OVERHEAD > maxBytes) break;
        visit(item, off, off + len);
        used += len + RECORD_OVERHEAD;
        n++;
        off += len;
        k++;
      }
      const freed = off + k * RECORD_OVERHEAD;
      this.bytes -= freed;
      q.bytes -= freed;
      if (k < count) {
        q.items[q.head] = item.subarray(off);
        q.counts[q.head] = count - k;
        q.order[q.head] += k;
        break;
      }
      q.head++;
    }
    this.compact(q);
    return n;
  }

  backlogBytes(): number {
    return this.bytes;
  }

  /** Bytes waiting of one record type. */
  queuedBytes(type: number): number {
    return this.queues.get(type)?.bytes ?? 0;
  }

  /** Records dropped elsewhere (a spill file that could not be read back), counted here. */
  countDropped(type: number, n: number): void {
    this.countDrop(type, n);
  }

  dropped(): Record<string, number> {
    return { ...this.drops };
  }

  dropAll(): number {
    const before = this.bytes;
    for (const q of this.queues.values()) {
      for (let i = q.head; i < q.items.length; i++) this.countDrop(q.type, q.counts[i]);
      q.items = [];
      q.counts = [];
      q.order = [];
      q.head = 0;
      q.bytes = 0;
    }
    this.bytes = 0;
    return before;
  }

  /** Frees at least `need` bytes by dropping newest records of priority lower than `priority`, least important first. */
  private evictBelow(priority: number, need: number): void {
    const victims = [...this.queues.values()].filter((q) => q.priority > priority).sort((a, b) => b.priority - a.priority);
    let freed = 0;
    for (const q of victims) {
      while (freed < need && q.items.length > q.head) {
        const last = q.items.length - 1;
        const r = q.items[last];
        const count = q.counts[last];
        // Of a run, only its newest records, as many as the room needs (as if pushed one by one).
        const keep = count > 1 ? recordsToKeep(r, count, need - freed) : 0;
        const kept = keep > 0 ? runOffsets[keep] : 0;
        const cost = r.length - kept + (count - keep) * RECORD_OVERHEAD;
        if (keep > 0) {
          q.items[last] = r.subarray(0, kept);
          q.counts[last] = keep;
        } else {
          q.items.pop();
          q.counts.pop();
          q.order.pop();
        }
        freed += cost;
        q.bytes -= cost;
        this.countDrop(q.type, count - keep);
      }
      if (freed >= need) break;
    }
    this.bytes -= freed;
  }

  private countDrop(type: number, n: number): void {
    const name = recordTypeName[type] ?? String(type);
    this.drops[name] = (this.drops[name] ?? 0) + n;
  }

  private queue(type: number): Queue {
    let q = this.queues.get(type);
    if (!q) {
      q = { type, priority: recordPriority[type] ?? 3, items: [], counts: [], order: [], head: 0, bytes: 0 };
      this.queues.set(type, q);
    }
    return q;
  }

  private compact(q: Queue): void {
    if (q.head === q.items.length) {
      q.items = [];
      q.counts = [];
      q.order = [];
      q.head = 0;
    } else if (q.head > 1024 && q.head * 2 > q.items.length) {
      q.items = q.items.slice(q.head);
      q.counts = q.counts.slice(q.head);
      q.order = q.order.slice(q.head);
      q.head = 0;
    }
  }
}

/** Where each record of the run being evicted starts (recordsToKeep), and its end last. */
let runOffsets = new Uint32Array(1024);

/**
 * How many of a run's `count` records (the oldest) stay when its newest ones are dropped
 * until at least `need` bytes (records plus their prefixes) are free; runOffsets[keep]
 * is then the byte where the kept records end.
 */
function recordsToKeep(run: Buffer, count: number, need: number): number {
  if (runOffsets.length <= count) runOffsets = new Uint32Array(2 * count + 1);
  let off = 0;
  for (let i = 0; i < count; i++) {
    runOffsets[i] = off;
    off += pcapRecordBytes(run, off);
  }
  runOffsets[count] = off;
  let keep = count;
  while (keep > 0 && run.length - runOffsets[keep] + (count - keep) * RECORD_OVERHEAD < need) keep--;
  return keep;
}

/**
 * A run that does not fit whole, pushed record by record: as many as push() takes, each
 * refusal counted there. Only when the outbox is (nearly) full.
 */
export function pushEach(o: Outbox, run: Buffer, count: number): number {
  let accepted = 0;
  let off = 0;
  for (let i = 0; i < count; i++) {
    const end = off + pcapRecordBytes(run, off);
    if (o.push(RecordType.PACKET, run.subarray(off, end))) accepted++;
    off = end;
  }
  return accepted;
}
