// The keyed hashes of values the guard checked lately, so that a packet of a known
// conversation costs the guard neither a BLAKE2b per address nor, above all, opening
// the egress key: SecretKey.use() makes two mprotect calls, about 3 µs where this was
// measured (a 2-CPU VM), more than everything else a packet costs the guard.
//
// A value's hash never changes during a run, so an entry never goes stale: the guard
// still looks every hash up in its table, and a value learned raw after it was cached
// is refused all the same. Only values that were not raw when checked go in (what the
// guard lets out: anonymized addresses and MACs), so this plain memory does not become
// a list of the run's raw addresses. Preallocated buffers: no allocation per packet.
// Two-way (pairs of slots, as in anonymize/mac.ts): direct-mapped, 2% of the tcpdump
// corpus's packets found a value evicted by a colliding one on every pass and paid
// for opening the key; two-way, none did. A collision only costs a hash.
import { addressHashBytes } from '../analysis/addresses';

const MAX_VALUE = 16;

export class CheckedValues {
  /** The cached hashes, addressHashBytes per slot; find() returns offsets into it. */
  readonly hashes: Buffer;
  private readonly values: Buffer;
  private readonly lens: Uint8Array;
  private readonly shift: number;
  private lastSlot = 0;

  constructor(bits = 14) {
    this.hashes = Buffer.alloc(addressHashBytes << bits);
    this.values = Buffer.alloc(MAX_VALUE << bits);
    this.lens = new Uint8Array(1 << bits);
    this.shift = 32 - bits;
  }

  /** Offset in `hashes` of the hash of buf[off..off+len), or -1 (then store() caches it in the value's pair of slots). */
  find(buf: Uint8Array, off: number, len: number): number {
    let h = 0x811c9dc5 ^ len; // FNV-1a
    for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
    const slot = (h >>> this.shift) & ~1;
    this.lastSlot = slot;
    if (this.holds(slot, buf, off, len)) return slot * addressHashBytes;
    if (this.holds(slot + 1, buf, off, len)) return (slot + 1) * addressHashBytes;
    return -1;
  }

  /** Caches `hash` (its first addressHashBytes bytes) for the value the last find() missed; the pair's older entry goes. */
  store(buf: Uint8Array, off: number, len: number, hash: Buffer): void {
    const slot = this.lastSlot;
    const at = slot * MAX_VALUE;
    this.values.copy(this.values, at + MAX_VALUE, at, at + MAX_VALUE);
    this.hashes.copy(this.hashes, (slot + 1) * addressHashBytes, slot * addressHashBytes, (slot + 1) * addressHashBytes);
    this.lens[slot + 1] = this.lens[slot];
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
  }
}
