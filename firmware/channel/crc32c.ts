// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the check value of every frame.
// Chosen over zlib's CRC-32 for its better Hamming distance on frame-sized messages.
// Changing the polynomial or the init/final XOR breaks every receiver in the field.
import { addon } from '../capture/addon';

/**
 * Slicing-by-8 tables: TABLES[k * 256 + n] is the CRC of byte n followed by k zero
 * bytes, so eight input bytes cost eight lookups and one loop turn instead of eight
 * dependent turns. The writer checks every byte it sends (docs/benchmarks.md).
 */
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

/** CRC-32C of buf[start, end). "123456789" gives 0xE3069283. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const t = TABLES;
  let c = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    c =
      t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
      t[768 + buf[i + 4]] ^ t[512 + buf[i + 5]] ^ t[256 + buf[i + 6]] ^ t[buf[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * crc32c in C (the capture addon: the SSE 4.2 crc32 instruction where the CPU has it),
 * for the box's frame writer, where the JavaScript above was 3% of the supervisor's
 * thread on a packets line, and the receiver's check of every frame. Loaded at the
 * first call, as cobsEncode's. crc32c above stays the definition (the tests compare).
 */
export function crc32cFast(buf: Uint8Array, start = 0, end = buf.length): number {
  return addon().crc32c(buf, start, end);
}
