// COBS (Consistent Overhead Byte Stuffing): removes every 0x00 from a frame so that 0x00
// can delimit frames on the line. A receiver that starts mid-stream, or loses bytes,
// resynchronises at the next 0x00. Overhead: at most 1 byte per 254, plus 1.
import { addon } from '../capture/addon';

/** Largest encoded size of n input bytes (without the trailing 0x00 delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/**
 * Encodes src into a new Buffer that contains no 0x00 byte. With `delimit`, the 0x00
 * delimiter follows in the same Buffer (one allocation per frame, not two). The work is
 * done in C (the capture addon's cobsEncode: 1 GB/s on the frames of a packets line,
 * whose headers hold a zero every few bytes, where JavaScript managed 0.15-0.35 GB/s);
 * the addon is loaded at the first call.
 */
export function cobsEncode(src: Uint8Array, delimit = false): Buffer {
  return encodeSlabs.take(cobsMaxEncodedLength(src.length) + (delimit ? 1 : 0), (out) => {
    const o = addon().cobsEncode(src, out);
    if (!delimit) return o;
    out[o] = 0;
    return o + 1;
  })!;
}

/**
 * Buffers carved out of slabs, as Buffer.allocUnsafe does with its 8 KiB pool for small
 * sizes: a frame of a file line is 4 KiB, past that pool (or fits it only twice), and
 * one new ArrayBuffer per frame was garbage on every packets line, in the supervisor and
 * in the receiver. A slab lives while any buffer cut from it does.
 */
class Slabs {
  private slab = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly bytes: number) {}

  /**
   * The first n bytes that fill (given room for `max`) wrote, or null when it returned a
   * negative n; a buffer of its own when max is more than an eighth of a slab.
   */
  take(max: number, fill: (out: Buffer) => number): Buffer | null {
    const small = max <= this.bytes / 8;
    if (small && this.slab.length - this.used < max) {
      this.slab = Buffer.allocUnsafeSlow(this.bytes);
      this.used = 0;
    }
    const out = small ? this.slab.subarray(this.used) : Buffer.allocUnsafe(max);
    const n = fill(out);
    if (n < 0) return null;
    if (small) this.used += (n + 7) & ~7;
    return out.subarray(0, n);
  }
}

const encodeSlabs = new Slabs(256 * 1024);


/**
 * cobsDecode in C (the addon's cobsDecode), what the receiver decodes each frame with:
 * on the frames of a packets line the JavaScript below cost a tenth of the receiver's
 * time (docs/benchmarks.md). Same result, null included; cobsDecode stays the
 * definition, and test/channel/cobs.test.ts compares the two.
 */
export function cobsDecodeFast(src: Uint8Array): Buffer | null {
  return decodeSlabs.take(src.length, (out) => addon().cobsDecode(src, out));
}

/** Decoded frames come out of slabs of their own, smaller ones (decoded frames are let go soon). */
const decodeSlabs = new Slabs(64 * 1024);

/**
 * Decodes one COBS block (the bytes between two 0x00 delimiters).
 * Returns null when the block is not valid COBS (a 0x00 inside, or a length code that
 * runs past the end): the receiver counts that as a bad frame.
 *
 * Each zero of the input became a code byte in the same place, one byte after the
 * leading code: from the first data byte on, the block is the decoded bytes shifted by
 * one, with a code where each zero was. Only after a 0xff code (254 bytes and no zero)
 * does a code stand for nothing. So the block is copied in spans, one per run of codes
 * that ends with a 0xff or the end, and the zeros are written back where codes were:
 * one copy per frame, instead of one per run between zeros (a few bytes apart in
 * packet headers).
 */
export function cobsDecode(src: Uint8Array): Buffer | null {
  const s = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  const n = s.length;
  if (s.indexOf(0) >= 0) return null;
  const out = Buffer.allocUnsafe(n);
  let o = 0; // out's length so far
  let spanFrom = 1; // the first byte of s in the span being walked
  let zeros = 0; // codes in the span that stand for a zero: zeroAt[0, zeros)
  if (zeroAt.length < n) zeroAt = new Uint32Array(Math.max(n, 2 * zeroAt.length));
  let i = 0;
  while (i < n) {
    const code = s[i];
    const end = i + code;
    if (end > n) return null;
    if (code !== 0xff && end < n) {
      // The code at `end` stands for a zero; the span goes on past it.
      zeroAt[zeros++] = end;
    } else {
      // The span ends here: at the end of the block, or before a code that stands for nothing.
      const base = o - spanFrom;
      o = copyRun(s, spanFrom, end, out, o);
      for (let z = 0; z < zeros; z++) out[base + zeroAt[z]] = 0;
      zeros = 0;
      spanFrom = end + 1;
    }
    i = end;
  }
  return out.subarray(0, o);
}

/** Where cobsDecode's zeros go back, reused from block to block. */
let zeroAt = new Uint32Array(1024);

/**
 * Copies src[from, to) to out at o and returns the offset after it. Buffer.copy costs a
 * typed-array view per call, so a short span (a small block, or the few bytes between
 * two 0xff codes) goes byte by byte.
 */
function copyRun(src: Buffer, from: number, to: number, out: Buffer, o: number): number {
  if (to - from > 48) return o + src.copy(out, o, from, to);
  for (let j = from; j < to; j++) out[o++] = src[j];
  return o;
}
