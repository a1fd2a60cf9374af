// The frame format of the results line: encoder, decoder and constants in one place.
//
//   line  = frame*            frame = COBS(header ‖ payload ‖ crc) 0x00
//   header (16 bytes, big-endian):
//     0      version (high 4 bits) | flags (low 4 bits)
//     1      record type (records.ts RecordType)
//     2..9   session id (random per boot)
//     10..13 sequence number, u32, +1 per frame of the session, starting at 0
//     14..15 payload length in bytes as carried (after deflate)
//   crc     = CRC-32C of header ‖ payload, u32 big-endian
//   payload = if FLAG_DEFLATED: raw deflate (RFC 1951) of the body, else the body
//   body    = FLAG_FRAGMENT clear: (u16 length ‖ record)+, all of the header's type
//             FLAG_FRAGMENT set:   u32 record length ‖ u32 offset ‖ bytes of one record
// docs/channel.md has the same layout with examples. Changing any offset or constant
// here is a new FRAME_VERSION: receivers refuse versions they do not know.
import { cobsDecodeFast, cobsEncode } from './cobs';
import { crc32cFast } from './crc32c';
import { recordTypeName } from './records';

export const FRAME_VERSION = 1;
export const HEADER_BYTES = 16;
export const CRC_BYTES = 4;
export const SESSION_BYTES = 8;
/**
 * Body size the framer aims for on a tty: big enough for deflate to help, small enough
 * that one bad byte loses little and FEC repairs a frame from a few hundred bytes.
 */
export const TARGET_BODY_BYTES = 1024;
/** Decoders refuse longer payloads/bodies: bounds memory against a corrupted or hostile line. */
export const MAX_PAYLOAD_BYTES = 4096;
/**
 * Body size the framer aims for on a recording file or a pipe, which lose no bytes:
 * the largest whose payload still fits MAX_PAYLOAD_BYTES once encrypted (the AEAD tag).
 * Per-frame costs (digest, CRC, COBS call, header, the CHECKPOINT signature every 64
 * frames, on both ends) then count once per 4 KiB instead of once per 1 KiB.
 */
export const LARGE_BODY_BYTES = MAX_PAYLOAD_BYTES - 16;

/** How a framer aiming for bodyBytes of body splits records: packed up to maxRecord, longer ones in chunk-byte pieces. */
export function bodyLimits(bodyBytes: number): { maxRecord: number; chunk: number } {
  if (!Number.isInteger(bodyBytes) || bodyBytes < 64 || bodyBytes > LARGE_BODY_BYTES) {
    throw new RangeError(`frame body size ${bodyBytes} must be an integer from 64 to ${LARGE_BODY_BYTES}`);
  }
  // A batch body holds a u16 length before each record; a fragment body a u32 total and a u32 offset.
  return { maxRecord: bodyBytes - 2, chunk: bodyBytes - 8 };
}

/** On a tty, a record longer than this is carried in fragments of FRAGMENT_CHUNK_BYTES. */
export const { maxRecord: MAX_UNFRAGMENTED_RECORD, chunk: FRAGMENT_CHUNK_BYTES } = bodyLimits(TARGET_BODY_BYTES);
export const MAX_BODY_BYTES = 8192;
/** Largest record a receiver reassembles from fragments (a PACKET of 256 KiB plus its header). */
export const MAX_RECORD_BYTES = 262144 + 16;

export const FLAG_DEFLATED = 0x1;
export const FLAG_ENCRYPTED = 0x2;
export const FLAG_FEC = 0x4;
export const FLAG_FRAGMENT = 0x8;

export interface FrameFields {
  flags: number;
  type: number;
  session: Buffer;
  seq: number;
  payload: Buffer;
}

export interface DecodedFrame extends FrameFields {
  /** header ‖ payload ‖ crc as it was on the line (before COBS): what checkpoints hash. */
  raw: Buffer;
}

/** Why a block between two delimiters is not a frame; the receiver counts each reason. */
export type FrameError = 'cobs' | 'short' | 'crc' | 'version' | 'length' | 'type';

/** Bytes of the largest raw frame (header ‖ payload ‖ crc): a scratch buffer this long fits any. */
export const MAX_RAW_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES + CRC_BYTES;

/**
 * header ‖ payload ‖ crc, before COBS. In a new Buffer, or at the start of `into` (at
 * least MAX_RAW_FRAME_BYTES long) when given: a view of it, valid until the next build.
 */
export function buildFrame(f: FrameFields, into?: Buffer): Buffer {
  if (f.payload.length > MAX_PAYLOAD_BYTES) throw new Error(`frame payload of ${f.payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const size = HEADER_BYTES + f.payload.length + CRC_BYTES;
  const raw = into ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  writeFrameHeader(raw, f, f.payload.length);
  f.payload.copy(raw, HEADER_BYTES);
  const end = HEADER_BYTES + f.payload.length;
  const crc = crc32cFast(raw, 0, end);
  raw[end] = crc >>> 24;
  raw[end + 1] = (crc >>> 16) & 0xff;
  raw[end + 2] = (crc >>> 8) & 0xff;
  raw[end + 3] = crc & 0xff;
  return raw;
}

/**
 * Writes the 16-byte header into raw[0..16). Encryption needs the header before the
 * payload exists (it is the AEAD's associated data), hence a function of its own.
 */
export function writeFrameHeader(raw: Buffer, f: Omit<FrameFields, 'payload'>, payloadLength: number): void {
  // Byte stores, not Buffer's writeUInt*BE and copy: this runs once per frame, too few
  // times to be optimized under bin/sealtap's interrupt budget, and unoptimized, each of
  // those is a dozen property loads through the inline caches.
  raw[0] = (FRAME_VERSION << 4) | (f.flags & 0x0f);
  raw[1] = f.type;
  const session = f.session;
  if (session.length !== SESSION_BYTES) throw new Error(`session id must be ${SESSION_BYTES} bytes, got ${session.length}`);
  for (let i = 0; i < SESSION_BYTES; i++) raw[2 + i] = session[i];
  const seq = f.seq >>> 0;
  raw[10] = seq >>> 24;
  raw[11] = (seq >>> 16) & 0xff;
  raw[12] = (seq >>> 8) & 0xff;
  raw[13] = seq & 0xff;
  raw[14] = payloadLength >>> 8;
  raw[15] = payloadLength & 0xff;
}

/** What goes on the line for one frame: COBS(raw) followed by the 0x00 delimiter. */
export function frameToWire(raw: Buffer): Buffer {
  return cobsEncode(raw, true);
}

/** Decodes the bytes between two 0x00 delimiters (delimiters excluded). */
export function decodeFrame(block: Uint8Array): DecodedFrame | FrameError {
  const raw = cobsDecodeFast(block);
  if (raw === null) return 'cobs';
  return decodeRawFrame(raw);
}

/** Decodes header ‖ payload ‖ crc (a frame after COBS decoding, or one rebuilt by FEC). */
export function decodeRawFrame(raw: Buffer): DecodedFrame | FrameError {
  if (raw.length < HEADER_BYTES + CRC_BYTES) return 'short';
  const end = raw.length - CRC_BYTES;
  if (crc32cFast(raw, 0, end) !== raw.readUInt32BE(end)) return 'crc';
  if (raw[0] >> 4 !== FRAME_VERSION) return 'version';
  const len = raw.readUInt16BE(14);
  if (len !== end - HEADER_BYTES || len > MAX_PAYLOAD_BYTES) return 'length';
  const type = raw[1];
  if (recordTypeName[type] === undefined) return 'type';
  return {
    flags: raw[0] & 0x0f,
    type,
    session: raw.subarray(2, 10),
    seq: raw.readUInt32BE(10),
    payload: raw.subarray(HEADER_BYTES, end),
    raw,
  };
}

/**
 * Body of a batch frame: each record with a u16 length prefix. In a new Buffer, or at
 * the start of `into` when it is long enough: a view of it, valid until the next pack.
 */
export function packRecords(records: Buffer[], maxRecord = MAX_UNFRAGMENTED_RECORD, into?: Buffer): Buffer {
  let n = 0;
  for (const r of records) {
    if (r.length > maxRecord) throw new Error(`record of ${r.length} bytes must be fragmented`);
    n += 2 + r.length;
  }
  const body = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
  let o = 0;
  for (const r of records) {
    body.writeUInt16BE(r.length, o);
    r.copy(body, o + 2);
    o += 2 + r.length;
  }
  return body;
}

/** How many records a batch body holds, or -1 if a length runs past the end (unpackRecords's null), without a view per record. */
export function countPackedRecords(body: Buffer): number {
  let n = 0;
  let o = 0;
  while (o < body.length) {
    if (o + 2 > body.length) return -1;
    o += 2 + ((body[o] << 8) | body[o + 1]);
    if (o > body.length) return -1;
    n++;
  }
  return n;
}

/** Splits a batch body back into records; null if a length runs past the end. */
export function unpackRecords(body: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let o = 0;
  while (o < body.length) {
    if (o + 2 > body.length) return null;
    const len = body.readUInt16BE(o);
    if (o + 2 + len > body.length) return null;
    out.push(body.subarray(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return out;
}

/** Bodies of the fragment frames that carry one long record, in order. */
export function fragmentRecord(record: Buffer, chunk = FRAGMENT_CHUNK_BYTES): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < record.length; off += chunk) {
    const piece = record.subarray(off, Math.min(record.length, off + chunk));
    const body = Buffer.allocUnsafe(8 + piece.length);
    body.writeUInt32BE(record.length, 0);
    body.writeUInt32BE(off, 4);
    piece.copy(body, 8);
    out.push(body);
  }
  return out;
}

export interface Fragment {
  total: number;
  offset: number;
  bytes: Buffer;
}

export function parseFragment(body: Buffer): Fragment | null {
  if (body.length < 8) return null;
  const total = body.readUInt32BE(0);
  const offset = body.readUInt32BE(4);
  const bytes = body.subarray(8);
  if (total > MAX_RECORD_BYTES || offset + bytes.length > total || bytes.length === 0) return null;
  return { total, offset, bytes };
}

/**
 * node:zlib, loaded at the first frame to deflate or inflate: a file or pipe line sends
 * its frames uncompressed (writer.ts), and loading it took 1-4 ms of each start of the
 * supervisor and the receiver.
 */
let zlibModule: typeof import('node:zlib') | null = null;
function zlib(): typeof import('node:zlib') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (zlibModule ??= require('node:zlib') as typeof import('node:zlib'));
}

/**
 * A 2 KiB window instead of zlib's 32 KiB: matches reach back at most the window minus
 * 262 bytes (1786), more than any body the framer makes, so the output is byte for byte
 * the same, while each call sets up and clears a far smaller zlib state (the per-frame
 * cost that bounds the writer: docs/benchmarks.md). Any raw inflater reads it. Bodies
 * longer than 1786 bytes would only compress a little less.
 */
const DEFLATE_OPTIONS = { level: 6, windowBits: 11 };

/** Deflates a body when that makes it shorter (never across frames: each frame inflates alone). */
export function compressBody(body: Buffer): { payload: Buffer; flags: number } {
  if (body.length >= 64) {
    const z = zlib().deflateRawSync(body, DEFLATE_OPTIONS);
    if (z.length < body.length) return { payload: z, flags: FLAG_DEFLATED };
  }
  return { payload: body, flags: 0 };
}

/** The body of a decoded frame, or null if the deflate stream is bad or too large. */
export function frameBody(f: FrameFields): Buffer | null {
  if (!(f.flags & FLAG_DEFLATED)) return f.payload;
  try {
    return zlib().inflateRawSync(f.payload, { maxOutputLength: MAX_BODY_BYTES });
  } catch {
    return null;
  }
}
