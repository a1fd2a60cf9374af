// The keyed hashes of values the guard checked lately, so that a packet of a known
// conversation costs the guard neither a BLAKE2b per address nor, above all, opening
// the egress key: SecretKey.use() makes two mprotect calls, about 3 µs where this was
// measured (a 2-CPU VM), more than everything else a packet costs the guard.
//
// A value's hash never changes during a run, so an entry never goes stale. Its verdict
// can: the guard looks the hash up in its table again whenever the table has grown
// since (cleanAt), so a value learned raw after it was cached is refused all the same.
// Only values that were not raw when checked go in (what the guard lets out:
// anonymized addresses and MACs), so this plain memory does not become a list of the
// run's raw addresses. Preallocated buffers: no allocation per packet.
// Set-associative, four ways, the newest first: direct-mapped, 2% of the tcpdump
// corpus's packets found a value evicted by a colliding one on every pass and paid for
// opening the key. With two ways and 2^14 slots, three of the 1M IMIX trace's 1,224
// addresses fell in one pair a few times, and each such triple missed on every packet
// that named it; 9,000 values (3,000 hosts' IPv4, IPv6 and MAC) made about a hundred
// such triples even in 2^16 slots. Four ways in 2^16 slots (2 MB) keep them all. A
// collision only costs a hash.
// One entry holds a value's words, length, verdict and hash side by side (32 bytes, a set
// of four in two cache lines): kept in four arrays, a lookup touched three lines of a
// 1.8 MB table, which the supervisor's other work evicts between batches. With 16 MB
// touched between batches of 2,048 records, the guard's check of the 1M IMIX packets
// took 195-224 ms that way and 177-191 ms this way.
import { addressHashBytes, readValueWords } from '../analysis/addresses';

const WAYS = 4;
/** Words of an entry: the value's four words, its length, cleanAt, then its hash (two words). */
const ENTRY = 8;
const LEN = 4;
const CLEAN = 5;
const HASH = 6;

export class CheckedValues {
  /** The entries (ENTRY words per slot; the capture addon's guardRun reads them too). */
  readonly entries: Uint32Array;
  /** The same memory as bytes: a slot's hash is bytes[hashAt(slot), +addressHashBytes). */
  readonly bytes: Buffer;
  /** 32 - log2(slots): a set is picked by the top bits of the hash. */
  readonly shift: number;
  private lastSlot = 0;
  /** The words of the value the last find() looked for (store() keeps them). */
  private readonly value = new Uint32Array(4);

  constructor(bits = 16) {
    this.entries = new Uint32Array(ENTRY << bits);
    this.bytes = Buffer.from(this.entries.buffer);
    this.shift = 32 - bits;
  }

  /** The slot holding buf[off..off+len), or -1 (then store() caches it in the value's set of slots). */
  find(buf: Uint8Array, off: number, len: number): number {
    if (len !== 4 && len !== 6 && len !== 16) throw new RangeError(`checked values are 4, 6 or 16 bytes long, not ${len}`);
    const value = this.value;
    readValueWords(buf, off, len, value);
    const a = value[0];
    const b = value[1];
    const c = value[2];
    const d = value[3];
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f) ^ len;
    // Anonymized addresses share their prefixes (Crypto-PAn keeps them): murmur3's
    // finalizer spreads every bit over the top bits, which pick the set. Without such a
    // mix, 1,224 addresses thrashed 16,384 slots (a keyed hash for a quarter of the
    // packets of the 1M IMIX trace).
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    const slot = (h >>> this.shift) & ~(WAYS - 1);
    this.lastSlot = slot;
    const e = this.entries;
    for (let w = 0; w < WAYS; w++) {
      const at = (slot + w) * ENTRY;
      if (e[at + LEN] === len && e[at] === a && e[at + 1] === b && e[at + 2] === c && e[at + 3] === d) return slot + w;
    }
    return -1;
  }

  /** Offset in `bytes` of the slot's hash. */
  hashAt(slot: number): number {
    return (slot * ENTRY + HASH) * 4;
  }

  /**
   * The size of the guard's table of raw hashes when the slot's value was last found not
   * raw in it (0: not yet). The table only grows, so while its size is the same the
   * verdict stands and the lookup is skipped.
   */
  cleanAt(slot: number): number {
    return this.entries[slot * ENTRY + CLEAN];
  }

  setCleanAt(slot: number, size: number): void {
    this.entries[slot * ENTRY + CLEAN] = size;
  }

  /**
   * Caches `hash` (its first addressHashBytes bytes) for the value the last find()
   * missed, found not raw at table size `cleanAt` (0: not known); the set's oldest entry goes.
   */
  store(buf: Uint8Array, off: number, len: number, hash: Buffer, cleanAt = 0): void {
    // The value's set and words, read again from these bytes: a caller that did not
    // find() this very value just before cannot leave another value's words here.
    if (this.find(buf, off, len) >= 0) return;
    const slot = this.lastSlot;
    const e = this.entries;
    e.copyWithin((slot + 1) * ENTRY, slot * ENTRY, (slot + WAYS - 1) * ENTRY);
    const at = slot * ENTRY;
    e.set(this.value, at);
    e[at + LEN] = len;
    e[at + CLEAN] = cleanAt;
    hash.copy(this.bytes, this.hashAt(slot), 0, addressHashBytes);
  }

  clear(): void {
    this.entries.fill(0);
  }
}
