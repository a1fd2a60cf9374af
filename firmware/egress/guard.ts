// The egress guard: the last gate before the results line. It knows every raw address
// seen during the run, as keyed hashes in libsodium secure memory, and refuses any
// outgoing record that carries one. It stands behind the policy: a correct policy never
// trips it; a faulty policy or a researcher's module that leaks is stopped and counted.
//
// An anonymized address can, by chance, equal a raw address seen in the run; such a
// record is refused too. That costs a counted record, never a leak.
import * as sodium from 'sodium-native';
import { hashAddress, addressHashBytes } from '../analysis/addresses';
import type { SecretKey } from '../keys/secret-key';
import { PacketView } from '../analysis/decode/packetView';
import { decodePacket } from '../analysis/decode/decode';
import { Layer } from '../analysis/decode/constants';
import { someAddressIn } from './address-text';

const EMPTY = 0;
/** Deeper than any record an analysis sends (flow and DNS records are flat). */
const maxJsonDepth = 8;
/** Byte strings in JSON records are at most this long: scanning them costs two hashes a byte. */
const maxJsonBytes = 4096;

function isByteValue(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255;
}

export class EgressGuard {
  private table: Buffer;
  private slots: number;
  private used = 0;
  private readonly scratch = Buffer.alloc(32);
  private readonly view = new PacketView();
  refused = 0;

  constructor(private readonly key: SecretKey, initialSlots = 1 << 12) {
    // A power of two: slots are found by masking the hash.
    let n = 16;
    while (n < initialSlots) n *= 2;
    initialSlots = n;
    this.slots = initialSlots;
    this.table = sodium.sodium_malloc(initialSlots * addressHashBytes);
    sodium.sodium_memzero(this.table);
  }

  /** Adds keyed hashes (8 bytes each) of raw addresses reported by the analysis. */
  learn(hashes: Uint8Array): void {
    const b = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
    for (let i = 0; i + addressHashBytes <= b.length; i += addressHashBytes) this.insert(b, i);
  }

  knownCount(): number {
    return this.used;
  }

  /** True when the address (4 or 16 bytes) was seen raw in this run. */
  isRaw(addr: Buffer): boolean {
    const h = hashAddress(this.key, addr, this.scratch);
    return this.find(h, 0) >= 0;
  }

  /**
   * True when a JSON record carries no raw address: not as a string or inside one, not
   * as an object key, not as a list of byte values (how a Buffer looks as JSON), and
   * not as a 32-bit number (an IPv4 address as an integer). Nested objects and lists
   * are searched too; a record nested deeper than any analysis record is refused.
   */
  passesJson(body: Record<string, unknown>): boolean {
    return !this.carriesRaw(body, 0);
  }

  private carriesRaw(v: unknown, depth: number): boolean {
    if (typeof v === 'string') return someAddressIn(v, this.rawTest);
    if (typeof v === 'number') return Number.isInteger(v) && v >= 2 ** 24 && v < 2 ** 32 && this.isRawV4Number(v);
    if (typeof v !== 'object' || v === null) return false;
    if (depth >= maxJsonDepth) return true;
    if (v instanceof Uint8Array) return this.bytesCarryRaw(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    if (Array.isArray(v)) {
      if (v.length >= 4 && v.every(isByteValue)) return this.bytesCarryRaw(Buffer.from(v as number[]));
      return v.some((x) => this.carriesRaw(x, depth + 1));
    }
    for (const [k, x] of Object.entries(v)) {
      if (someAddressIn(k, this.rawTest) || this.carriesRaw(x, depth + 1)) return true;
    }
    return false;
  }

  private readonly rawTest = (addr: Buffer): boolean => this.isRaw(addr);

  private isRawV4Number(n: number): boolean {
    this.scratch.writeUInt32BE(n, 16);
    return this.isRaw(this.scratch.subarray(16, 20));
  }

  /** Every 4- and 16-byte window of a byte string. */
  private bytesCarryRaw(b: Buffer): boolean {
    if (b.length > maxJsonBytes) return true;
    for (let i = 0; i + 4 <= b.length; i++) {
      if (this.isRaw(b.subarray(i, i + 4))) return true;
      if (i + 16 <= b.length && this.isRaw(b.subarray(i, i + 16))) return true;
    }
    return false;
  }

  /** True when an anonymized packet (pcap record) carries no raw address in its headers. */
  passesPacket(record: Buffer, linkType: number): boolean {
    if (record.length < 16) return true;
    const caplen = Math.min(record.readUInt32LE(8), record.length - 16);
    const v = this.view;
    decodePacket(linkType, record, 16, caplen, record.readUInt32LE(12), v);
    for (let i = 0; i < v.depth; i++) {
      const off = v.off[i];
      if (v.kind[i] === Layer.IPV4 && off + 20 <= v.end) {
        if (this.isRaw(record.subarray(off + 12, off + 16)) || this.isRaw(record.subarray(off + 16, off + 20))) return false;
      } else if (v.kind[i] === Layer.IPV6 && off + 40 <= v.end) {
        if (this.isRaw(record.subarray(off + 8, off + 24)) || this.isRaw(record.subarray(off + 24, off + 40))) return false;
      }
    }
    if (v.arpSpaOff >= 0 && v.arpPln === 4 && this.isRaw(record.subarray(v.arpSpaOff, v.arpSpaOff + 4))) return false;
    if (v.arpTpaOff >= 0 && v.arpPln === 4 && this.isRaw(record.subarray(v.arpTpaOff, v.arpTpaOff + 4))) return false;
    if (v.ndTargetOff >= 0 && v.ndTargetOff + 16 <= v.end && this.isRaw(record.subarray(v.ndTargetOff, v.ndTargetOff + 16))) return false;
    if (v.ndRedirectDstOff >= 0 && v.ndRedirectDstOff + 16 <= v.end && this.isRaw(record.subarray(v.ndRedirectDstOff, v.ndRedirectDstOff + 16))) return false;
    // The packet quoted inside an ICMP error carries the addresses of another packet.
    const q = v.quotedAddrLen;
    if ((q === 4 || q === 16) && v.quotedSrcOff >= 0 && v.quotedSrcOff + q <= v.end && this.isRaw(record.subarray(v.quotedSrcOff, v.quotedSrcOff + q))) return false;
    if ((q === 4 || q === 16) && v.quotedDstOff >= 0 && v.quotedDstOff + q <= v.end && this.isRaw(record.subarray(v.quotedDstOff, v.quotedDstOff + q))) return false;
    return true;
  }

  /** Wipes the table (at stop). */
  wipe(): void {
    sodium.sodium_memzero(this.table);
    this.used = 0;
  }

  private insert(src: Buffer, off: number): void {
    if (this.isZero(src, off)) return; // the all-zero hash marks empty slots; 2^-64 odds
    if (this.find(src, off) >= 0) return;
    if ((this.used + 1) * 2 > this.slots) this.grow();
    this.place(this.table, this.slots, src, off);
    this.used++;
  }

  private place(table: Buffer, slots: number, src: Buffer, off: number): void {
    let i = src.readUInt32LE(off) & (slots - 1);
    while (!this.isZero(table, i * addressHashBytes)) i = (i + 1) & (slots - 1);
    src.copy(table, i * addressHashBytes, off, off + addressHashBytes);
  }

  private find(h: Buffer, off: number): number {
    let i = h.readUInt32LE(off) & (this.slots - 1);
    for (;;) {
      const at = i * addressHashBytes;
      if (this.isZero(this.table, at)) return -1;
      if (this.table.compare(h, off, off + addressHashBytes, at, at + addressHashBytes) === 0) return i;
      i = (i + 1) & (this.slots - 1);
    }
  }

  private isZero(b: Buffer, off: number): boolean {
    return b.readUInt32LE(off) === EMPTY && b.readUInt32LE(off + 4) === EMPTY;
  }

  private grow(): void {
    const slots = this.slots * 2;
    const table = sodium.sodium_malloc(slots * addressHashBytes);
    sodium.sodium_memzero(table);
    for (let i = 0; i < this.slots; i++) {
      const at = i * addressHashBytes;
      if (!this.isZero(this.table, at)) this.place(table, slots, this.table, at);
    }
    sodium.sodium_memzero(this.table);
    this.table = table;
    this.slots = slots;
  }
}
