// The set of keyed hashes (8 bytes each) of every raw address and MAC the analysis
// reported, in libsodium secure memory: an open-addressing table that grows and never
// forgets during a run, and is wiped at stop.
import * as sodium from 'sodium-native';
import { addressHashBytes } from '../analysis/addresses';

const EMPTY = 0;

export class KnownHashes {
  private table: Buffer;
  private slots: number;
  private used = 0;

  constructor(initialSlots = 1 << 12) {
    // A power of two: slots are found by masking the hash.
    let n = 16;
    while (n < initialSlots) n *= 2;
    this.slots = n;
    this.table = sodium.sodium_malloc(n * addressHashBytes);
    sodium.sodium_memzero(this.table);
  }

  get count(): number {
    return this.used;
  }

  /** Adds every whole hash in b (a trailing partial hash is ignored). */
  addAll(b: Buffer): void {
    for (let i = 0; i + addressHashBytes <= b.length; i += addressHashBytes) this.insert(b, i);
  }

  /** True when h[off..off+8] is in the set. */
  has(h: Buffer, off: number): boolean {
    return this.find(h, off) >= 0;
  }

  wipe(): void {
    sodium.sodium_memzero(this.table);
    this.used = 0;
  }

  private insert(src: Buffer, off: number): void {
    if (isZero(src, off)) return; // the all-zero hash marks empty slots; 2^-64 odds
    if (this.find(src, off) >= 0) return;
    if ((this.used + 1) * 2 > this.slots) this.grow();
    place(this.table, this.slots, src, off);
    this.used++;
  }

  // Compares the two 32-bit halves in JavaScript: Buffer.compare is a call into C++ per
  // probe, which made this set the supervisor's largest per-packet cost.
  private find(h: Buffer, off: number): number {
    const lo = h.readUInt32LE(off);
    const hi = h.readUInt32LE(off + 4);
    const t = this.table;
    let i = lo & (this.slots - 1);
    for (;;) {
      const at = i * addressHashBytes;
      const tlo = t.readUInt32LE(at);
      const thi = t.readUInt32LE(at + 4);
      if (tlo === EMPTY && thi === EMPTY) return -1;
      if (tlo === lo && thi === hi) return i;
      i = (i + 1) & (this.slots - 1);
    }
  }

  private grow(): void {
    const slots = this.slots * 2;
    const table = sodium.sodium_malloc(slots * addressHashBytes);
    sodium.sodium_memzero(table);
    for (let i = 0; i < this.slots; i++) {
      const at = i * addressHashBytes;
      if (!isZero(this.table, at)) place(table, slots, this.table, at);
    }
    sodium.sodium_memzero(this.table);
    this.table = table;
    this.slots = slots;
  }
}

function place(table: Buffer, slots: number, src: Buffer, off: number): void {
  let i = src.readUInt32LE(off) & (slots - 1);
  while (!isZero(table, i * addressHashBytes)) i = (i + 1) & (slots - 1);
  src.copy(table, i * addressHashBytes, off, off + addressHashBytes);
}

function isZero(b: Buffer, off: number): boolean {
  return b.readUInt32LE(off) === EMPTY && b.readUInt32LE(off + 4) === EMPTY;
}
