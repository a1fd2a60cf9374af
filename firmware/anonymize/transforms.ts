// The small numeric actions of a policy: bucket, coarsen, time shift, per-flow TCP
// sequence offsets, prefix truncation. All work on plain numbers or in place on a
// Buffer at an offset, with no allocation, so the packet rewriter can call them per
// packet.
import * as sodium from 'sodium-native';
import { KeyMaterial, withKeyBytes, secureCopy, wipeSecureCopy } from './key-material';
import { truncateBits } from './ip-text';

/**
 * The lower edge of the bucket that holds value: the largest edge <= value. Values
 * below the first edge are clamped to it (a policy's first edge is normally 0).
 * edges must be sorted ascending (validatePolicy checks this).
 */
export function bucket(value: number, edges: readonly number[]): number {
  let lo = edges[0];
  for (let i = 1; i < edges.length; i++) {
    if (edges[i] > value) break;
    lo = edges[i];
  }
  return lo;
}

/** Rounds a timestamp in microseconds down to a multiple of granularityUs (> 0). */
export function coarsenMicros(us: number, granularityUs: number): number {
  return Math.floor(us / granularityUs) * granularityUs;
}

/** Adds offsetUs (usually negative, see secretTimeShiftUs) to a timestamp in µs. */
export function shiftTime(us: number, offsetUs: number): number {
  return us + offsetUs;
}

/**
 * The run's secret time shift in µs, derived from the time key: minus a keyed value
 * between 2^40 and 2^41 µs (about 12.7 to 25.4 days) that is not a whole number of
 * seconds, so published times reveal neither the date, the weekday nor the time of
 * day. Relative times (durations, gaps, diurnal shape) are kept.
 */
export function secretTimeShiftUs(key: KeyMaterial): number {
  const out = Buffer.alloc(16);
  withKeyBytes(key, 32, 'time key', (bytes) => {
    sodium.crypto_generichash(out, Buffer.from('sealtap time shift v1', 'latin1'), bytes);
  });
  // 40 bits from the digest: read as 8 + 32 bits to stay within exact integers.
  const r = out[0] * 2 ** 32 + out.readUInt32BE(1);
  out.fill(0);
  return -(2 ** 40 + r);
}

/** Zeroes every bit of an address after prefixLen, in place (len 4 or 16 bytes). */
export function truncatePrefix(buf: Buffer, off: number, len: number, prefixLen: number): void {
  truncateBits(buf, off, len, prefixLen);
}

/** truncatePrefix for an IPv4 address held as a u32. */
export function truncateV4(addr: number, prefixLen: number): number {
  return prefixLen <= 0 ? 0 : prefixLen >= 32 ? addr >>> 0 : (addr & (0xffffffff << (32 - prefixLen))) >>> 0;
}

/** seq + offset modulo 2^32. */
export function applyOffset(seq: number, offset: number): number {
  return (seq + offset) >>> 0;
}

/**
 * Keyed per-flow 32-bit offsets for TCP sequence numbers (the ISN reveals host state
 * and enables blind injection). One offset per *sequence space*, i.e. per direction:
 * the space of the sender src→dst is offsetV4(src, dst, sport, dport). The rewriter
 * adds it to seq of packets src→dst and to ack and SACK edges of packets dst→src
 * (which acknowledge that same space), so acks keep matching their data.
 */
export class FlowOffsets {
  readonly #key: Buffer;
  readonly #out = Buffer.alloc(16);
  // Canonical tuple: family (4|6), protocol (6), sport, dport, src, dst. Fixed-size
  // scratch per family so hashing never allocates a view.
  readonly #v4 = Buffer.alloc(2 + 4 + 8);
  readonly #v6 = Buffer.alloc(2 + 4 + 32);
  #destroyed = false;

  /** key: a 32-byte SecretKey (keyring.subkey('flow', 32)) or Buffer. */
  constructor(key: KeyMaterial) {
    this.#key = withKeyBytes(key, 32, 'flow offset key', secureCopy);
    this.#v4[0] = 4;
    this.#v4[1] = 6;
    this.#v6[0] = 6;
    this.#v6[1] = 6;
  }

  /** Offset for any caller-built canonical flow key. */
  flowOffset(flowKeyBytes: Buffer): number {
    if (this.#destroyed) throw new Error('flow offsets were destroyed: make new ones with the key');
    sodium.crypto_generichash(this.#out, flowKeyBytes, this.#key);
    return this.#out.readUInt32BE(0);
  }

  /** Offset of the sequence space sent by src:sport to dst:dport (IPv4 as u32). */
  offsetV4(src: number, dst: number, sport: number, dport: number): number {
    const k = this.#v4;
    k.writeUInt16BE(sport, 2);
    k.writeUInt16BE(dport, 4);
    k.writeUInt32BE(src >>> 0, 6);
    k.writeUInt32BE(dst >>> 0, 10);
    return this.flowOffset(k);
  }

  /** The same for IPv6 addresses read from buf at srcOff and dstOff. */
  offsetV6(buf: Buffer, srcOff: number, dstOff: number, sport: number, dport: number): number {
    const k = this.#v6;
    k.writeUInt16BE(sport, 2);
    k.writeUInt16BE(dport, 4);
    buf.copy(k, 6, srcOff, srcOff + 16);
    buf.copy(k, 22, dstOff, dstOff + 16);
    return this.flowOffset(k);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    wipeSecureCopy(this.#key);
    this.#v4.fill(0, 2);
    this.#v6.fill(0, 2);
  }
}
