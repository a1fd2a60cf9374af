// COBS (Consistent Overhead Byte Stuffing): removes every 0x00 from a frame so that 0x00
// can delimit frames on the line. A receiver that starts mid-stream, or loses bytes,
// resynchronises at the next 0x00. Overhead: at most 1 byte per 254, plus 1.

/** Largest encoded size of n input bytes (without the trailing 0x00 delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/**
 * Encodes src into a new Buffer that contains no 0x00 byte. With `delimit`, the 0x00
 * delimiter follows in the same Buffer (one allocation per frame, not two).
 */
export function cobsEncode(src: Uint8Array, delimit = false): Buffer {
  const out = Buffer.allocUnsafe(cobsMaxEncodedLength(src.length) + (delimit ? 1 : 0));
  let codeAt = 0; // where the current block's length code goes
  let o = 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  if (delimit) out[o++] = 0;
  return out.subarray(0, o);
}

/**
 * Decodes one COBS block (the bytes between two 0x00 delimiters).
 * Returns null when the block is not valid COBS (a 0x00 inside, or a length code that
 * runs past the end): the receiver counts that as a bad frame.
 */
export function cobsDecode(src: Uint8Array): Buffer | null {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  let i = 0;
  while (i < src.length) {
    const code = src[i];
    if (code === 0) return null;
    const end = i + code;
    if (end > src.length) return null;
    for (let j = i + 1; j < end; j++) {
      const b = src[j];
      if (b === 0) return null;
      out[o++] = b;
    }
    i = end;
    // A block shorter than 0xff implies a zero, except after the last block.
    if (code !== 0xff && i < src.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
