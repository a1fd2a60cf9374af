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
import { addressHashBytes } from '../analysis/addresses';

const MAX_VALUE = 16;
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
  private readonly values: Buffer;
  private readonly lens: Uint8Array;
  private readonly shift: number;
  private lastSlot = 0;

  constructor(bits = 16) {
    this.hashes = Buffer.alloc(addressHashBytes << bits);
    this.values = Buffer.alloc(MAX_VALUE << bits);
    this.lens = new Uint8Array(1 << bits);
    this.cleanAt = new Uint32Array(1 << bits);
    this.shift = 32 - bits;
  }

  /** Offset in `hashes` of the hash of buf[off..off+len), or -1 (then store() caches it in the value's pair of slots). */
  find(buf: Uint8Array, off: number, len: number): number {
    let h = 0x811c9dc5 ^ len; // FNV-1a
    for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
    // FNV-1a's last multiply barely reaches bits 18-23, and anonymized addresses share
    // their prefixes (Crypto-PAn keeps them): without this mix (murmur3's finalizer)
    // the top bits took a few hundred values, and 1,224 addresses thrashed 16,384
    // slots (a keyed hash for a quarter of the packets of the 1M IMIX trace).
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    const slot = (h >>> this.shift) & ~(WAYS - 1);
    this.lastSlot = slot;
    for (let w = 0; w < WAYS; w++) if (this.holds(slot + w, buf, off, len)) return (slot + w) * addressHashBytes;
    return -1;
  }

  /** Caches `hash` (its first addressHashBytes bytes) for the value the last find() missed; the set's oldest entry goes. */
  store(buf: Uint8Array, off: number, len: number, hash: Buffer): void {
    const slot = this.lastSlot;
    const at = slot * MAX_VALUE;
    const last = slot + WAYS - 1;
    this.values.copy(this.values, at + MAX_VALUE, at, last * MAX_VALUE);
    this.hashes.copy(this.hashes, (slot + 1) * addressHashBytes, slot * addressHashBytes, last * addressHashBytes);
    this.lens.copyWithin(slot + 1, slot, last);
    this.cleanAt.copyWithin(slot + 1, slot, last);
    this.cleanAt[slot] = 0;
    for (let i = 0; i < len; i++) this.values[at + i] = buf[off + i];
    hash.copy(this.hashes, slot * addressHashBytes, 0, addressHashBytes);
    this.lens[slot] = len;
  }

  private holds(slot: number, buf: Uint8Array, off: number, len: number): boolean {
    if (this.lens[slot] !== len) return false;
    const at = slot * MAX_VALUE;
    for (let i = 0; i < len; i++) if (this.values[at + i] !== buf[off + i]) return false;
    return true;
  }

  clear(): void {
    this.hashes.fill(0);
    this.values.fill(0);
    this.lens.fill(0);
    this.cleanAt.fill(0);
  }
}
