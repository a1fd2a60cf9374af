// Big-endian reads and writes by plain indexing, for the per-packet paths (decoder and
// packet rewriter). Buffer's readUInt16BE/writeUInt32BE and friends validate their
// arguments on every call; with a dozen fields per packet that checking cost more than
// the decoding around it. These do no checking at all, so every caller must already
// know that [at, at + 2) or [at, at + 4) lies inside the buffer: the decoder reads a
// header only after its `p + length > v.limit` test (v.limit never passes the end of
// the captured bytes), and the rewriter touches only headers the decoder pushed, inside
// its preallocated output. A read past the end would not throw but give a wrong value
// (undefined turns into 0 in the bit operations), and a write past the end is dropped.

export function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Writes the low 16 bits of v. */
export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v;
}

/** Writes v as an unsigned 32-bit number (its low 32 bits). */
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
