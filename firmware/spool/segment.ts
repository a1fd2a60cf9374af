// The on-disk format of one spool segment: a fixed header that is the AEAD
// associated data, a random nonce, and the sealed body of pcap records.
//
//   off  size  field                      (all integers little-endian)
//     0     4  magic "STSG"
//     4     2  format version (2)
//     6     2  AEAD: 0 XChaCha20-Poly1305-IETF (libsodium), 1 AES-256-GCM (OpenSSL)
//     8     4  link type (pcap LINKTYPE_*)
//    12    16  run id
//    28     8  sequence number (u64, kept below 2^53)
//    36     4  first packet ts seconds      40  4  first packet ts microseconds
//    44     4  last packet ts seconds       48  4  last packet ts microseconds
//    52     4  packet count
//    56     4  body length (plaintext bytes)
//    60     4  sealed length (= 104 + body length: header + nonce + ciphertext + tag)
//    64    24  nonce, random per segment: XChaCha20 uses all 24 bytes, AES-256-GCM the
//              first 12 (the other 12 are zero, and anything else is refused as 'auth')
//    88   ...  ciphertext of the body, then the 16-byte tag
//
// Body: pcap records back to back, each a 16-byte header (ts_sec, ts_usec, caplen,
// origlen; u32 LE) followed by caplen bytes — the classic pcap record layout, so a
// reader walks it with readUInt32LE and no per-packet allocation.
//
// The AEAD is chosen once per boot by measurement (chooseSegmentAead), because no one
// choice is fastest everywhere. On the x86-64 development machine (AES-NI, VAES) the
// system OpenSSL's AES-256-GCM, called from the project's addon
// (native/capture/sealtap-capture.c, gcmSeal) into a reused buffer, seals a 4 MiB
// segment at about 3.5 GB/s, libsodium's XChaCha20-Poly1305 at about 1.3 GB/s, and
// node:crypto's AES-256-GCM at about 1.0 GB/s (its update() returns a new buffer for
// every segment; hence the addon), so AES-256-GCM is chosen there (docs/benchmarks.md,
// `make bench-capture` phase 0). On a CPU without AES instructions (the Raspberry Pi 4's Cortex-A72) ChaCha20 is faster,
// and the box measures so. Either way: a fresh key each boot and a random nonce per
// segment (2^32 GCM segments would take centuries at line rate). The analysis processes
// open segments through the same addon (gcmOpen, straight into the body's buffer). The
// AES key is copied into OpenSSL's cipher context for one segment and cleared when
// OpenSSL frees it; it never leaves the supervisor and the trusted analysis processes.
//
// Because the header is authenticated, a reader trusts nothing in it until the tag
// verifies. Within one boot this process is the only writer, so any header that is
// not exactly what sealSegment wrote (bad magic, unknown version, lengths that do not
// agree) can only come from tampering or corruption and is reported as 'auth'.
import * as sodium from 'sodium-native';
import { SecretKey } from '../keys/keyring';
import { countRecords, PCAP_RECORD_HEADER_BYTES } from './pcap-records';
// The system OpenSSL's AES-256-GCM and the record count come through the project's
// addon: the supervisor seals, each analysis process opens, both into the caller's
// buffers (node:crypto's update() returns a new buffer per call, which would then be
// copied: a fresh 4 MiB of page faults per segment and shard).
import { addon } from '../capture/addon';

export { countRecords, PCAP_RECORD_HEADER_BYTES };

export const SEGMENT_MAGIC = 0x47535453; // "STSG" read as u32 LE
export const SEGMENT_VERSION = 2;

/** The segment's AEAD, as written at header offset 6. */
export const SegmentAead = { xchacha20poly1305: 0, aes256gcm: 1 } as const;
export type SegmentAead = (typeof SegmentAead)[keyof typeof SegmentAead];
export const SEGMENT_AEAD_NAMES: Record<SegmentAead, string> = { 0: 'XChaCha20-Poly1305', 1: 'AES-256-GCM' };
const GCM_IV_BYTES = 12;
export const SEGMENT_HEADER_BYTES = 64;
export const SEGMENT_NONCE_BYTES = 24; // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
export const SEGMENT_TAG_BYTES = 16; // both AEADs' tag
export const SEGMENT_OVERHEAD = SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES + SEGMENT_TAG_BYTES;
export const SEGMENT_KEY_BYTES = 32;
export const RUN_ID_BYTES = 16;

// Field offsets; changing any of them is a new format version.
const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_AEAD = 6;
const OFF_LINKTYPE = 8;
const OFF_RUNID = 12;
const OFF_SEQ = 28;
const OFF_FIRST_SEC = 36;
const OFF_FIRST_USEC = 40;
const OFF_LAST_SEC = 44;
const OFF_LAST_USEC = 48;
const OFF_PACKETS = 52;
const OFF_BODY_LEN = 56;
const OFF_SEALED_LEN = 60;
const TWO_32 = 0x1_0000_0000;

export interface SegmentHeader {
  version: number;
  aead: SegmentAead;
  linkType: number;
  runId: Buffer;
  seq: number;
  firstTsSec: number;
  firstTsUsec: number;
  lastTsSec: number;
  lastTsUsec: number;
  packetCount: number;
  bodyLength: number;
  sealedLength: number;
}

/**
 * What a writer supplies; version and the two lengths are filled in by sealSegment, and
 * the AEAD is XChaCha20-Poly1305 unless given.
 */
export type SegmentHeaderInit = Omit<SegmentHeader, 'version' | 'aead' | 'bodyLength' | 'sealedLength'> &
  Partial<Pick<SegmentHeader, 'version' | 'aead' | 'bodyLength' | 'sealedLength'>>;

export type SegmentOpenError = 'auth' | 'format' | 'torn';
export type OpenedSegment = { header: SegmentHeader; body: Buffer } | { error: SegmentOpenError };

/** Bytes a sealed segment with a body of bodyLength bytes occupies in its slot. */
export function sealedSize(bodyLength: number): number {
  return SEGMENT_OVERHEAD + bodyLength;
}

/** Largest body that fits a slot of slotBytes. */
export function maxBodyBytes(slotBytes: number): number {
  return slotBytes - SEGMENT_OVERHEAD;
}

/**
 * Seals header+body into out (header ‖ nonce ‖ ciphertext ‖ tag) and returns the sealed
 * length. body may be a subarray of a larger capture buffer but must not overlap out.
 * Throws on a body whose records do not add up to header.packetCount: that is a
 * writer bug, and sealing it would only move the failure to the reader.
 */
export function sealSegment(key: SecretKey, header: SegmentHeaderInit, body: Buffer, out: Buffer): number {
  const sealedLength = sealedSize(body.length);
  if (out.length < sealedLength) {
    throw new RangeError(`segment output buffer holds ${out.length} bytes, the sealed segment needs ${sealedLength}: size it with sealedSize(body.length)`);
  }
  if (key.length !== SEGMENT_KEY_BYTES) {
    throw new RangeError(`spool key must be ${SEGMENT_KEY_BYTES} bytes, got ${key.length}: derive it with keyring.subkey('spool')`);
  }
  const aead = header.aead ?? SegmentAead.xchacha20poly1305;
  writeHeader(out, header, aead, body.length, sealedLength);
  const ad = out.subarray(0, SEGMENT_HEADER_BYTES);
  const nonce = out.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES);
  // A random nonce per segment: no counter to persist or get wrong across analysis
  // restarts, and collisions are negligible at any realistic segment count per key.
  sodium.randombytes_buf(nonce);
  const cipher = out.subarray(SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES, sealedLength);
  // The records are counted where the cipher reads them: the body arrives cold from the
  // capture thread's core, and a walk of its record headers before or after sealing took
  // a cache miss per record (5% of the supervisor's CPU on 1518-byte frames counted
  // before, 12% of its thread on IMIX counted after).
  const records = key.use((k) => encrypt(aead, k, nonce, ad, body, cipher));
  if (records !== header.packetCount) {
    out.fill(0, 0, sealedLength);
    throw new Error(`segment ${header.seq}: body holds ${records < 0 ? 'malformed records' : records + ' records'} but packetCount is ${header.packetCount}`);
  }
  return sealedLength;
}

/** cipher receives the ciphertext and then the tag (body.length + 16 bytes); returns countRecords(body). */
function encrypt(aead: SegmentAead, k: Buffer, nonce: Buffer, ad: Buffer, body: Buffer, cipher: Buffer): number {
  if (aead === SegmentAead.xchacha20poly1305) {
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, body, ad, null, nonce, k);
    return addon().countRecords(body);
  }
  nonce.fill(0, GCM_IV_BYTES);
  return addon().gcmSeal(k, nonce.subarray(0, GCM_IV_BYTES), ad, body, cipher);
}


/** Decrypts into body; false when the tag (or a GCM nonce's zero half) does not verify. */
function decrypt(aead: SegmentAead, k: Buffer, nonce: Buffer, ad: Buffer, cipher: Buffer, body: Buffer): boolean {
  if (aead === SegmentAead.xchacha20poly1305) {
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, null, cipher, ad, nonce, k);
      return true;
    } catch {
      return false; // sodium-native throws on a bad tag
    }
  }
  if (!isAllZero(nonce.subarray(GCM_IV_BYTES))) return false;
  const tagAt = cipher.length - SEGMENT_TAG_BYTES;
  if (body.length !== tagAt) return false;
  return addon().gcmOpen(k, nonce.subarray(0, GCM_IV_BYTES), ad, cipher.subarray(0, tagAt), cipher.subarray(tagAt), body);
}

/** What chooseSegmentAead measured, in GB/s of body sealed, and what it chose. */
export interface AeadChoice {
  aead: SegmentAead;
  name: string;
  gbps: Record<string, number>;
}

/**
 * Seals a 256 KiB body a few times with each AEAD under a throwaway key and picks the
 * faster: the box's CPU decides, not a table of boards. In a run's boot it took 4-10 ms
 * (a 1 MiB body took 14-25 ms), with the same choice and figures within a tenth.
 */
export function chooseSegmentAead(): AeadChoice {
  const body = Buffer.alloc(256 << 10);
  sodium.randombytes_buf(body);
  const k = Buffer.alloc(SEGMENT_KEY_BYTES);
  sodium.randombytes_buf(k);
  const nonce = Buffer.alloc(SEGMENT_NONCE_BYTES);
  const ad = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const cipher = Buffer.alloc(body.length + SEGMENT_TAG_BYTES);
  const gbps: Record<string, number> = {};
  let best: SegmentAead = SegmentAead.xchacha20poly1305;
  for (const aead of [SegmentAead.xchacha20poly1305, SegmentAead.aes256gcm] as const) {
    let min = Infinity;
    for (let i = 0; i < 4; i++) {
      const t0 = process.hrtime.bigint();
      encrypt(aead, k, nonce, ad, body, cipher);
      min = Math.min(min, Number(process.hrtime.bigint() - t0));
    }
    gbps[SEGMENT_AEAD_NAMES[aead]] = body.length / min;
    if (gbps[SEGMENT_AEAD_NAMES[aead]] > gbps[SEGMENT_AEAD_NAMES[best]]) best = aead;
  }
  sodium.sodium_memzero(k);
  return { aead: best, name: SEGMENT_AEAD_NAMES[best], gbps };
}

/**
 * Authenticates and decrypts a sealed segment. sealed may be longer than the segment
 * (a whole slot): trailing bytes are ignored. If expectedSeq is given, an authentic
 * segment with another sequence number (a slot whose new segment never landed) is
 * reported as 'torn'. The body is only parsed after the tag verified. With `into` (a
 * buffer the caller reuses from segment to segment, and long enough) the body is
 * decrypted into it instead of a new buffer: the caller must be done with the last one.
 */
export function openSegment(key: SecretKey, sealed: Buffer, expectedSeq?: number, into?: Buffer): OpenedSegment {
  if (key.length !== SEGMENT_KEY_BYTES) {
    throw new RangeError(`spool key must be ${SEGMENT_KEY_BYTES} bytes, got ${key.length}: derive it with keyring.subkey('spool')`);
  }
  if (sealed.length < SEGMENT_HEADER_BYTES) return { error: 'torn' };
  const headerBytes = sealed.subarray(0, SEGMENT_HEADER_BYTES);
  if (isAllZero(headerBytes)) return { error: 'format' }; // a slot that never held a segment
  const header = readHeaderUnauthenticated(headerBytes);
  if (header === null) return { error: 'auth' };
  if (sealed.length < header.sealedLength) return { error: 'torn' };

  const nonce = sealed.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES);
  const cipher = sealed.subarray(SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES, header.sealedLength);
  const body = into && into.length >= header.bodyLength ? into.subarray(0, header.bodyLength) : Buffer.allocUnsafe(header.bodyLength);
  let ok = false;
  key.use((k) => { ok = decrypt(header.aead, k, nonce, headerBytes, cipher, body); });
  if (!ok) {
    body.fill(0);
    return { error: 'auth' };
  }
  if (expectedSeq !== undefined && header.seq !== expectedSeq) return { error: 'torn' };
  // Authentic but inconsistent means our own writer is broken, not an attack.
  if (addon().countRecords(body) !== header.packetCount) return { error: 'format' };
  return { header, body };
}

/**
 * Unauthenticated peek at the sealed length in a segment header, for sizing a read
 * of a slot file. Returns -1 for anything that is not a plausible header. Never use
 * other header fields before openSegment has authenticated them.
 */
export function peekSealedLength(headerBytes: Buffer): number {
  if (headerBytes.length < SEGMENT_HEADER_BYTES) return -1;
  const header = readHeaderUnauthenticated(headerBytes);
  return header === null ? -1 : header.sealedLength;
}

/** Unauthenticated peek at the sequence number, for sanity checks by the writer; -1 if implausible. */
export function peekSegmentSeq(headerBytes: Buffer): number {
  if (headerBytes.length < SEGMENT_HEADER_BYTES) return -1;
  const header = readHeaderUnauthenticated(headerBytes);
  return header === null ? -1 : header.seq;
}

/**
 * Appends one pcap record (header + data) to body at offset and returns the offset
 * after it, or -1 if it does not fit (the caller closes the segment and starts the
 * next one). For writers that build bodies on the main thread and for tests.
 */
export function appendRecord(body: Buffer, offset: number, tsSec: number, tsUsec: number, data: Buffer, origLen: number): number {
  const next = offset + PCAP_RECORD_HEADER_BYTES + data.length;
  if (next > body.length) return -1;
  body.writeUInt32LE(tsSec >>> 0, offset);
  body.writeUInt32LE(tsUsec >>> 0, offset + 4);
  body.writeUInt32LE(data.length, offset + 8);
  body.writeUInt32LE(origLen >>> 0, offset + 12);
  data.copy(body, offset + PCAP_RECORD_HEADER_BYTES);
  return next;
}

function writeHeader(out: Buffer, h: SegmentHeaderInit, aead: SegmentAead, bodyLength: number, sealedLength: number): void {
  if (!Buffer.isBuffer(h.runId) || h.runId.length !== RUN_ID_BYTES) {
    throw new RangeError(`segment run id must be ${RUN_ID_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(h.seq) || h.seq < 0) {
    throw new RangeError(`segment sequence ${h.seq} must be a non-negative safe integer`);
  }
  if (h.version !== undefined && h.version !== SEGMENT_VERSION) {
    throw new RangeError(`segment format version ${h.version} is not writable: this build writes version ${SEGMENT_VERSION}`);
  }
  out.writeUInt32LE(SEGMENT_MAGIC, OFF_MAGIC);
  out.writeUInt16LE(SEGMENT_VERSION, OFF_VERSION);
  if (SEGMENT_AEAD_NAMES[aead] === undefined) throw new RangeError(`segment AEAD ${aead} is unknown: use SegmentAead`);
  out.writeUInt16LE(aead, OFF_AEAD);
  out.writeUInt32LE(h.linkType >>> 0, OFF_LINKTYPE);
  h.runId.copy(out, OFF_RUNID);
  out.writeUInt32LE(h.seq % TWO_32, OFF_SEQ);
  out.writeUInt32LE(Math.floor(h.seq / TWO_32), OFF_SEQ + 4);
  out.writeUInt32LE(h.firstTsSec >>> 0, OFF_FIRST_SEC);
  out.writeUInt32LE(h.firstTsUsec >>> 0, OFF_FIRST_USEC);
  out.writeUInt32LE(h.lastTsSec >>> 0, OFF_LAST_SEC);
  out.writeUInt32LE(h.lastTsUsec >>> 0, OFF_LAST_USEC);
  out.writeUInt32LE(h.packetCount >>> 0, OFF_PACKETS);
  out.writeUInt32LE(bodyLength, OFF_BODY_LEN);
  out.writeUInt32LE(sealedLength, OFF_SEALED_LEN);
}

// Returns null for any header sealSegment could not have written.
function readHeaderUnauthenticated(b: Buffer): SegmentHeader | null {
  if (b.readUInt32LE(OFF_MAGIC) !== SEGMENT_MAGIC) return null;
  if (b.readUInt16LE(OFF_VERSION) !== SEGMENT_VERSION) return null;
  const aead = b.readUInt16LE(OFF_AEAD);
  if (aead !== SegmentAead.xchacha20poly1305 && aead !== SegmentAead.aes256gcm) return null;
  const seqHigh = b.readUInt32LE(OFF_SEQ + 4);
  if (seqHigh > 0x1f_ffff) return null; // beyond 2^53
  const bodyLength = b.readUInt32LE(OFF_BODY_LEN);
  const sealedLength = b.readUInt32LE(OFF_SEALED_LEN);
  if (sealedLength !== sealedSize(bodyLength)) return null;
  return {
    version: SEGMENT_VERSION,
    aead,
    linkType: b.readUInt32LE(OFF_LINKTYPE),
    runId: Buffer.from(b.subarray(OFF_RUNID, OFF_RUNID + RUN_ID_BYTES)),
    seq: seqHigh * TWO_32 + b.readUInt32LE(OFF_SEQ),
    firstTsSec: b.readUInt32LE(OFF_FIRST_SEC),
    firstTsUsec: b.readUInt32LE(OFF_FIRST_USEC),
    lastTsSec: b.readUInt32LE(OFF_LAST_SEC),
    lastTsUsec: b.readUInt32LE(OFF_LAST_USEC),
    packetCount: b.readUInt32LE(OFF_PACKETS),
    bodyLength,
    sealedLength,
  };
}

function isAllZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
