// The outbox: records waiting for the line. The line is slow (11.5 KB/s at 115200 baud)
// and may be unplugged; capture must never wait for it (invariant 5), so the outbox is
// bounded and, when full, drops the least important records first and counts them.
//
// MemoryOutbox keeps records in memory; SpoolOutbox (spool-outbox.ts) puts it in front
// of sealed files on the spool, so a long backlog of results waits on disk, not in RAM.
// The interface below (push / nextType / takeBatch / counters) is all the writer uses.
import { recordPriority, recordTypeName } from './records';

export interface Outbox {
  /** Queues a record; false if it was refused for lack of space (counted in dropped()). */
  push(type: number, record: Buffer): boolean;
  /** Type of the record that should go out next (most important, then oldest), or -1. */
  nextType(): number;
  /** Removes records of `type` from the front of its queue: at least one, then while the total stays within maxBytes. */
  takeBatch(type: number, maxBytes: number): Buffer[];
  /** Bytes waiting (records plus their 2-byte length prefix). */
  backlogBytes(): number;
  /** Records dropped for lack of space, per record type name. */
  dropped(): Record<string, number>;
  /** Removes and counts as dropped everything still waiting; returns the bytes dropped. */
  dropAll(): number;
}

interface Queue {
  type: number;
  priority: number;
  items: Buffer[];
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
    const priority = recordPriority[type] ?? 3;
    if (this.bytes + cost > this.budgetBytes) this.evictBelow(priority, this.bytes + cost - this.budgetBytes);
    if (this.bytes + cost > this.budgetBytes) {
      this.countDrop(type);
      return false;
    }
    const q = this.queue(type);
    q.items.push(record);
    q.order.push(this.arrivals++);
    this.bytes += cost;
    q.bytes += cost;
    return true;
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
    const q = this.queues.get(type);
    const out: Buffer[] = [];
    if (!q) return out;
    let used = 0;
    while (q.head < q.items.length) {
      const r = q.items[q.head];
      const cost = r.length + RECORD_OVERHEAD;
      if (out.length > 0 && used + cost > maxBytes) break;
      out.push(r);
      used += cost;
      this.bytes -= cost;
      q.bytes -= cost;
      q.head++;
    }
    this.compact(q);
    return out;
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
    const name = recordTypeName[type] ?? String(type);
    this.drops[name] = (this.drops[name] ?? 0) + n;
  }

  dropped(): Record<string, number> {
    return { ...this.drops };
  }

  dropAll(): number {
    const before = this.bytes;
    for (const q of this.queues.values()) {
      for (let i = q.head; i < q.items.length; i++) this.countDrop(q.type);
      q.items = [];
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
        const r = q.items.pop() as Buffer;
        q.order.pop();
        freed += r.length + RECORD_OVERHEAD;
        q.bytes -= r.length + RECORD_OVERHEAD;
        this.countDrop(q.type);
      }
      if (freed >= need) break;
    }
    this.bytes -= freed;
  }

  private countDrop(type: number): void {
    const name = recordTypeName[type] ?? String(type);
    this.drops[name] = (this.drops[name] ?? 0) + 1;
  }

  private queue(type: number): Queue {
    let q = this.queues.get(type);
    if (!q) {
      q = { type, priority: recordPriority[type] ?? 3, items: [], order: [], head: 0, bytes: 0 };
      this.queues.set(type, q);
    }
    return q;
  }

  private compact(q: Queue): void {
    if (q.head === q.items.length) {
      q.items = [];
      q.order = [];
      q.head = 0;
    } else if (q.head > 1024 && q.head * 2 > q.items.length) {
      q.items = q.items.slice(q.head);
      q.order = q.order.slice(q.head);
      q.head = 0;
    }
  }
}
