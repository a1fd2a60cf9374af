// Copying a packet's few dozen header bytes, done twice per packet on the output path
// (input → record, record → output chunk). Buffer.copy's argument checks and the
// Uint8Array view it makes cost more than the copy itself at this size, and a byte loop
// is twice as slow as moving four bytes at a time through DataViews (unaligned 32-bit
// loads and stores; each DataView is made once per buffer, not per packet).

/** Copies up to this many bytes with the word loop; longer runs take Buffer.copy. */
export const SMALL_COPY = 256;

/** A DataView over exactly the bytes of b. */
export function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * src[from, to) into dst at `at`; srcView and dstView are viewOf(src) and viewOf(dst).
 * Every access is bounds-checked, so a wrong range never touches other memory: a word
 * past either end throws (DataView); in the byte tail, a read past the source's end
 * gives 0 and a write past the destination's end is dropped. Callers pass ranges the
 * decoder has bounded.
 */
export function copyBytes(src: Buffer, srcView: DataView, from: number, to: number, dst: Buffer, dstView: DataView, at: number): void {
  if (to - from > SMALL_COPY) {
    src.copy(dst, at, from, to);
    return;
  }
  let i = from;
  let o = at;
  // Little-endian on both sides: the bytes land in the order they were read.
  for (; i + 4 <= to; i += 4, o += 4) dstView.setUint32(o, srcView.getUint32(i, true), true);
  for (; i < to; i++, o++) dst[o] = src[i];
}
