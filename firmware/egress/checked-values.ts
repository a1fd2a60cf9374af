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
// such triples even in 2^16 slots. Four ways in 2^16 slots (1.8 MB) keep them all. A
// collision only costs a hash.
import { addressHashBytes, readValueWords } from '../analysis/addresses';

const WORDS = 4;
const WAYS = 4;

export class CheckedValues {
  /** The cached hashes, addressHashBytes per slot; find() returns offsets into it. */
  readonly hashes: Buffer;
  /**
   * Per slot: the size of the guard's table of raw hashes when this value was last
   * found not raw in it (0: not yet). The table only grows, so while its size is the
   * same the verdict stands and the lookup is skipped.
   */
  readonly cleanAt: Uint32Array;
  /**
   * Each slot's value as four 32-bit words (readValueWords), compared a word at a time:
   * byte loops for the hash and the comparison were most of the guard's time per packet.
   */
  private readonly values: Uint32Array;
  private readonly lens: Uint8Array;
  private readonly shift: number;
  private lastSlot = 0;
  /** The words of the value the last find() looked for (store() keeps them). */
  private readonly value = new Uint32Array(WORDS);

  constructor(bits = 16) {
    this.hashes = Buffer.alloc(addressHashBytes << bits);
    this.values = new Uint32Array(WORDS << bits);
    this.lens = new Uint8Array(1 << bits);
    this.cleanAt = new Uint32Array(1 << bits);
    this.shift = 32 - bits;
  }

  /** Offset in `hashes` of the hash of buf[off..off+len), or -1 (then store() caches it in the value's set of slots). */
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
    const v = this.values;
    for (let w = 0; w < WAYS; w++) {
      const s = slot + w;
      const at = s * WORDS;
      if (this.lens[s] === len && v[at] === a && v[at + 1] === b && v[at + 2] === c && v[at + 3] === d) return s * addressHashBytes;
    }
    return -1;
  }

  /** Caches `hash` (its first addressHashBytes bytes) for the value the last find() missed; the set's oldest entry goes. */
  store(buf: Uint8Array, off: number, len: number, hash: Buffer): void {
    // The value's set and words, read again from these bytes: a caller that did not
    // find() this very value just before cannot leave another value's words here.
    if (this.find(buf, off, len) >= 0) return;
    const slot = this.lastSlot;
    const last = slot + WAYS - 1;
    this.values.copyWithin((slot + 1) * WORDS, slot * WORDS, last * WORDS);
    this.hashes.copy(this.hashes, (slot + 1) * addressHashBytes, slot * addressHashBytes, last * addressHashBytes);
    this.lens.copyWithin(slot + 1, slot, last);
    this.cleanAt.copyWithin(slot + 1, slot, last);
    this.cleanAt[slot] = 0;
    this.values.set(this.value, slot * WORDS);
    hash.copy(this.hashes, slot * addressHashBytes, 0, addressHashBytes);
    this.lens[slot] = len;
  }

  clear(): void {
    this.hashes.fill(0);
    this.values.fill(0);
    this.lens.fill(0);
    this.cleanAt.fill(0);
  }
}
