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
import { MemoryOutbox, Outbox } from './outbox';
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
  /** Sealed files, oldest first: path, records, bytes as counted against the budget. */
  files: { file: string; count: number; bytes: number }[];
  /** Records waiting to become the next file. */
  tail: Buffer[];
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
    for (const t of SPILLABLE) this.spills.set(t, { files: [], tail: [], tailBytes: 0 });
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
    s.tail.push(record);
    s.tailBytes += cost;
    if (s.tailBytes >= FILE_BYTES) this.writeTail(type, s);
    return true;
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
      let n = s.tail.length;
      for (const f of s.files) {
        n += f.count;
        bytes += f.bytes;
        fs.rmSync(f.file, { force: true });
      }
      bytes += s.tailBytes;
      if (n > 0) this.mem.countDropped(type, n);
      s.files = [];
      s.tail = [];
      s.tailBytes = 0;
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
      while (this.mem.queuedBytes(type) === 0 || this.memResults() < this.o.memoryBytes / 2) {
        if (s.files.length > 0) this.readFile(type, s);
        else if (s.tail.length > 0) {
          for (const r of s.tail) this.mem.push(type, r);
          s.tail = [];
          s.tailBytes = 0;
        } else break;
      }
    }
  }

  private writeTail(type: number, s: SpillQueue): void {
    const count = s.tail.length;
    let plainBytes = 4;
    for (const r of s.tail) plainBytes += 4 + r.length;
    const plain = Buffer.alloc(plainBytes);
    plain.writeUInt32BE(count, 0);
    let o = 4;
    for (const r of s.tail) {
      plain.writeUInt32BE(r.length, o);
      r.copy(plain, o + 4);
      o += 4 + r.length;
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
      s.tail = [];
      s.tailBytes = 0;
      return;
    }
    s.files.push({ file, count, bytes: s.tailBytes });
    this.diskBytes += s.tailBytes;
    this.filesWritten++;
    s.tail = [];
    s.tailBytes = 0;
  }

  private readFile(type: number, s: SpillQueue): void {
    const f = s.files.shift()!;
    this.diskBytes -= f.bytes;
    const seq = Number(path.basename(f.file).slice('outbox-'.length, -'.sealed'.length));
    let records: Buffer[] | null = null;
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
        if (ok) records = parse(plain, f.count);
      }
    } catch {
      records = null;
    }
    try { fs.rmSync(f.file, { force: true }); } catch { /* gone or unreachable: nothing to read again */ }
    if (!records) {
      this.unreadableFiles++;
      this.mem.countDropped(type, f.count);
      return;
    }
    for (const r of records) this.mem.push(type, r);
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

function parse(plain: Buffer, count: number): Buffer[] | null {
  if (plain.readUInt32BE(0) !== count) return null;
  const out: Buffer[] = [];
  let o = 4;
  for (let i = 0; i < count; i++) {
    if (o + 4 > plain.length) return null;
    const n = plain.readUInt32BE(o);
    if (o + 4 + n > plain.length) return null;
    out.push(Buffer.from(plain.subarray(o + 4, o + 4 + n)));
    o += 4 + n;
  }
  return o === plain.length ? out : null;
}
