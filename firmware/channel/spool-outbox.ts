// SpoolOutbox: the outbox with its backlog of results sealed on the spool. A slow or
// unplugged line then costs disk, not RAM: results (FLOW, DNS, PACKET) beyond a small
// in-memory window are appended to sealed files in `dir` and read back, oldest first,
// as the line drains the window. BOOT, STATUS, CHECKPOINT and LOG always stay in memory:
// they are few and go out first.
//
// Order: per record type, what reaches the line is in push order. Once a type has
// anything on disk, its new records go behind it on disk too, never past it in memory.
// Budget: memory + disk together stay within outboxBytes; beyond it, a new result is
// refused and counted (the memory part still makes room for BOOT, STATUS and LOG by
// dropping results first, as MemoryOutbox does).
// A spill file that fails authentication when read back (tampered, torn) is counted as
// dropped records of its type and skipped, never parsed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sodium from 'sodium-native';
import { MemoryOutbox, Outbox, pushEach, RecordVisitor, RunPacker } from './outbox';
import { countRecords, pcapRecordBytes } from '../spool/pcap-records';
import { RecordType } from './records';
import type { SecretKey } from '../keys/secret-key';

const SPILLABLE = [RecordType.FLOW, RecordType.DNS, RecordType.PACKET];
/** A spill file is written once this many record bytes wait for it. */
const FILE_BYTES = 256 * 1024;
const RECORD_OVERHEAD = 2; // as MemoryOutbox counts it
const NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
const TAG = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;

export interface SpoolOutboxOptions {
  /** A directory on the spool (on the box: inside the dm-crypt filesystem); emptied at start. */
  dir: string;
  /** 32-byte key (the keyring's channel purpose); read only inside key.use(). */
  key: SecretKey;
  /** Results kept in memory before the rest goes to disk. */
  memoryBytes: number;
  /** Memory and disk together. */
  totalBytes: number;
}

interface SpillQueue {
  /** Sealed files, oldest first: path, items, records, bytes as counted against the budget. */
  files: { file: string; items: number; count: number; bytes: number }[];
  /** Records waiting to become the next file: each a record, or a run of PACKET records. */
  tail: Buffer[];
  /** Records in each tail item (1, or the run's count). */
  tailCounts: number[];
  tailBytes: number;
}

export class SpoolOutbox implements Outbox {
  private readonly mem: MemoryOutbox;
  private readonly spills = new Map<number, SpillQueue>();
  private diskBytes = 0;
  private fileSeq = 0;
  /** Spill files that failed authentication when read back. */
  unreadableFiles = 0;
  /** Spill files that could not be written (disk full, I/O error). */
  unwritableFiles = 0;
  filesWritten = 0;

  constructor(private readonly o: SpoolOutboxOptions) {
    if (!(o.memoryBytes > 0) || !(o.totalBytes >= o.memoryBytes)) throw new Error(`outbox sizes: memory ${o.memoryBytes} must be > 0 and at most the total ${o.totalBytes} (channel.outboxBytes)`);
    this.mem = new MemoryOutbox(o.totalBytes);
    fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    // Whatever an earlier run left is sealed under a key that died with it.
    for (const f of fs.readdirSync(o.dir)) if (f.endsWith('.sealed')) fs.rmSync(path.join(o.dir, f), { force: true });
    for (const t of SPILLABLE) this.spills.set(t, { files: [], tail: [], tailCounts: [], tailBytes: 0 });
  }

  push(type: number, record: Buffer): boolean {
    const s = this.spills.get(type);
    const cost = record.length + RECORD_OVERHEAD;
    if (!s) return this.mem.push(type, record);
    const onDisk = s.files.length > 0 || s.tail.length > 0;
    if (!onDisk && this.memResults() + cost <= this.o.memoryBytes) return this.mem.push(type, record);
    if (this.backlogBytes() + cost > this.o.totalBytes) {
      this.mem.countDropped(type, 1);
      return false;
    }
    this.toTail(type, s, record, 1, cost);
    return true;
  }

  pushPackets(run: Buffer, count: number): number {
    const s = this.spills.get(RecordType.PACKET)!;
    let cost = run.length + count * RECORD_OVERHEAD;
    let accepted = 0;
    if (s.files.length === 0 && s.tail.length === 0) {
      const room = this.o.memoryBytes - this.memResults();
      if (cost <= room) return this.mem.pushPackets(run, count);
      // As pushed one by one: the leading records that fit the memory window go there,
      // the rest to disk behind them.
      const { records, bytes } = leadingRecords(run, count, room);
      if (records > 0) {
        accepted = this.mem.pushPackets(run.subarray(0, bytes), records);
        run = run.subarray(bytes);
        count -= records;
        cost = run.length + count * RECORD_OVERHEAD;
      }
    }
    if (this.backlogBytes() + cost > this.o.totalBytes) return accepted + pushEach(this, run, count);
    this.toTail(RecordType.PACKET, s, run, count, cost);
    return accepted + count;
  }

  private toTail(type: number, s: SpillQueue, item: Buffer, count: number, cost: number): void {
    s.tail.push(item);
    s.tailCounts.push(count);
    s.tailBytes += cost;
    if (s.tailBytes >= FILE_BYTES) this.writeTail(type, s);
  }

  nextType(): number {
    this.refill();
    return this.mem.nextType();
  }

  takeBatch(type: number, maxBytes: number): Buffer[] {
    const out = this.mem.takeBatch(type, maxBytes);
    this.refill();
    return out;
  }

  take(type: number, maxBytes: number, visit: RecordVisitor, packer?: RunPacker): number {
    const n = this.mem.take(type, maxBytes, visit, packer);
    this.refill();
    return n;
  }

  backlogBytes(): number {
    let tails = 0;
    for (const s of this.spills.values()) tails += s.tailBytes;
    return this.mem.backlogBytes() + this.diskBytes + tails;
  }

  /** Bytes of results sealed on disk now. */
  spilledBytes(): number {
    return this.diskBytes;
  }

  dropped(): Record<string, number> {
    return this.mem.dropped();
  }

  dropAll(): number {
    let bytes = this.mem.dropAll();
    for (const [type, s] of this.spills) {
      let n = 0;
      for (const c of s.tailCounts) n += c;
      for (const f of s.files) {
        n += f.count;
        bytes += f.bytes;
        fs.rmSync(f.file, { force: true });
      }
      bytes += s.tailBytes;
      if (n > 0) this.mem.countDropped(type, n);
      s.files = [];
      this.clearTail(s);
    }
    this.diskBytes = 0;
    return bytes;
  }

  private memResults(): number {
    let n = 0;
    for (const t of SPILLABLE) n += this.mem.queuedBytes(t);
    return n;
  }

  /** Moves spilled results back into memory while there is room, oldest file first. */
  private refill(): void {
    for (const [type, s] of this.spills) {
      // Nothing of this type waits on disk (the usual case, looked at twice a frame): no
      // sums of what waits in memory.
      if (s.files.length === 0 && s.tail.length === 0) continue;
      while (this.mem.queuedBytes(type) === 0 || this.memResults() < this.o.memoryBytes / 2) {
        if (s.files.length > 0) this.readFile(type, s);
        else if (s.tail.length > 0) {
          this.toMemory(type, s.tail, s.tailCounts);
          this.clearTail(s);
        } else break;
      }
    }
  }

  private clearTail(s: SpillQueue): void {
    s.tail = [];
    s.tailCounts = [];
    s.tailBytes = 0;
  }

  /** Items read back or taken from a tail, into memory: records one by one, runs whole. */
  private toMemory(type: number, items: Buffer[], counts: number[]): void {
    for (let i = 0; i < items.length; i++) {
      if (counts[i] === 1) this.mem.push(type, items[i]);
      else this.mem.pushPackets(items[i], counts[i]);
    }
  }

  /** The file: u32 items, then per item u32 bytes, u32 records (1, or a run's count), the bytes. */
  private writeTail(type: number, s: SpillQueue): void {
    const items = s.tail.length;
    let count = 0;
    let plainBytes = 4;
    for (let i = 0; i < items; i++) {
      plainBytes += 8 + s.tail[i].length;
      count += s.tailCounts[i];
    }
    const plain = Buffer.alloc(plainBytes);
    plain.writeUInt32BE(items, 0);
    let o = 4;
    for (let i = 0; i < items; i++) {
      const r = s.tail[i];
      plain.writeUInt32BE(r.length, o);
      plain.writeUInt32BE(s.tailCounts[i], o + 4);
      r.copy(plain, o + 8);
      o += 8 + r.length;
    }
    const seq = this.fileSeq++;
    const file = path.join(this.o.dir, `outbox-${String(seq).padStart(8, '0')}.sealed`);
    const sealed = Buffer.alloc(NONCE + plain.length + TAG);
    sodium.randombytes_buf(sealed.subarray(0, NONCE));
    this.o.key.use((k) => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.subarray(NONCE), plain, associated(type, seq), null, sealed.subarray(0, NONCE), k));
    plain.fill(0);
    try {
      fs.writeFileSync(file, sealed, { mode: 0o600 });
    } catch {
      // A full or failing spool disk: these results are lost, counted, and the run goes on.
      try { fs.rmSync(file, { force: true }); } catch { /* nothing was written */ }
      this.unwritableFiles++;
      this.mem.countDropped(type, count);
      this.clearTail(s);
      return;
    }
    s.files.push({ file, items, count, bytes: s.tailBytes });
    this.diskBytes += s.tailBytes;
    this.filesWritten++;
    this.clearTail(s);
  }

  private readFile(type: number, s: SpillQueue): void {
    const f = s.files.shift()!;
    this.diskBytes -= f.bytes;
    const seq = Number(path.basename(f.file).slice('outbox-'.length, -'.sealed'.length));
    let read: { items: Buffer[]; counts: number[] } | null = null;
    try {
      const sealed = fs.readFileSync(f.file);
      if (sealed.length >= NONCE + TAG + 4) {
        const plain = Buffer.alloc(sealed.length - NONCE - TAG);
        const ok = this.o.key.use((k) => {
          try {
            sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, sealed.subarray(NONCE), associated(type, seq), sealed.subarray(0, NONCE), k);
            return true;
          } catch {
            return false;
          }
        });
        if (ok) read = parse(plain, f.items, f.count);
      }
    } catch {
      read = null;
    }
    try { fs.rmSync(f.file, { force: true }); } catch { /* gone or unreachable: nothing to read again */ }
    if (!read) {
      this.unreadableFiles++;
      this.mem.countDropped(type, f.count);
      return;
    }
    this.toMemory(type, read.items, read.counts);
  }
}

/** Binds a file to its record type and place in the sequence: no swapping files around. */
function associated(type: number, seq: number): Buffer {
  const ad = Buffer.alloc(12);
  ad.write('sto1', 0, 'latin1');
  ad.writeUInt32BE(type, 4);
  ad.writeUInt32BE(seq, 8);
  return ad;
}

/** writeTail's file back into items and their record counts; null unless it is exactly that (a run's records must fill it). */
function parse(plain: Buffer, items: number, count: number): { items: Buffer[]; counts: number[] } | null {
  if (plain.readUInt32BE(0) !== items) return null;
  const out: Buffer[] = [];
  const counts: number[] = [];
  let records = 0;
  let o = 4;
  for (let i = 0; i < items; i++) {
    if (o + 8 > plain.length) return null;
    const n = plain.readUInt32BE(o);
    const c = plain.readUInt32BE(o + 4);
    if (c < 1 || o + 8 + n > plain.length) return null;
    const item = Buffer.from(plain.subarray(o + 8, o + 8 + n));
    if (c > 1 && countRecords(item) !== c) return null;
    out.push(item);
    counts.push(c);
    records += c;
    o += 8 + n;
  }
  return o === plain.length && records === count ? { items: out, counts } : null;
}

/** How many of a run's records, from its start, cost at most `room` (their bytes and prefixes), and their bytes. */
function leadingRecords(run: Buffer, count: number, room: number): { records: number; bytes: number } {
  let bytes = 0;
  let records = 0;
  while (records < count) {
    const len = pcapRecordBytes(run, bytes);
    if (bytes + len + (records + 1) * RECORD_OVERHEAD > room) break;
    bytes += len;
    records++;
  }
  return { records, bytes };
}
