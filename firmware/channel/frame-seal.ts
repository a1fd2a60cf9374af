// Results encrypted to the researcher: someone tapping the serial wire learns nothing
// of the records. Box side (FrameSealer) and workstation side (openSessionKey,
// openFramePayload) in one place, because they are one format.
//
//   session key  32 random bytes per boot, in sodium secure memory, no-access between uses
//   BOOT         encryption = { alg: ENCRYPTION_ALG, sealedKey: hex(crypto_box_seal(session key, recipient)) }
//   frame        flags |= FLAG_ENCRYPTED; payload = XChaCha20-Poly1305-IETF(deflated body)
//                nonce = session id (8) ‖ u32 seq (big-endian) ‖ 12 zero bytes
//                associated data = the 16-byte frame header (as sent, with the encrypted length)
//
// The nonce is never reused: the key is new every boot and the sequence number never
// repeats within a session (the sequencer stops before it would wrap). Changing the
// nonce layout or the associated data makes every recording unreadable.
//
// Which frames stay clear, and why:
//   BOOT        a receiver must read it to sync to a session and to find the sealed key.
//               It tells a tapper the board and firmware identity, nothing about traffic.
//   CHECKPOINT  hashes and a signature over frames as sent (ciphertext): no plaintext in
//               them, and a receiver without the key can still prove what arrived intact.
//   FEC repair  linear combinations of frames as sent, i.e. of ciphertext and BOOT/CHECKPOINT.
// STATUS, LOG, FLOW, PACKET, DNS and END are encrypted.
import sodium from 'sodium-native';
import { FrameFields, HEADER_BYTES, CRC_BYTES, writeFrameHeader, FLAG_ENCRYPTED, SESSION_BYTES } from './frame';
import { crc32cFast } from './crc32c';
import { RecordType } from './records';

export const ENCRYPTION_ALG = 'x25519-sealedbox+xchacha20poly1305-ietf';
export const SESSION_KEY_BYTES = 32;
export const RECIPIENT_KEY_BYTES = 32;
/** crypto_box_seal overhead: ephemeral public key + MAC. */
export const SEALED_KEY_BYTES = SESSION_KEY_BYTES + 48;
export const TAG_BYTES = 16;
const NONCE_BYTES = 24;

/** The BOOT field that tells a receiver the session is encrypted and how to get the key. */
export interface BootEncryption {
  alg: string;
  /** crypto_box_seal of the session key to the researcher's X25519 key, hex. Ciphertext: fine to send. */
  sealedKey: string;
}

/** Frames of these types are never encrypted (see above). */
export function staysClear(type: number): boolean {
  return type === RecordType.BOOT || type === RecordType.CHECKPOINT || type === RecordType.FEC;
}

function frameNonce(session: Buffer, seq: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  session.copy(n, 0, 0, SESSION_BYTES);
  n.writeUInt32BE(seq >>> 0, SESSION_BYTES);
  return n;
}

/** Box side: the per-boot session key. Never converted to a string; wipe() at close. */
export class FrameSealer {
  private readonly key: Buffer;
  private wiped = false;
  readonly boot: BootEncryption;

  /** `recipient`: the researcher's X25519 public key (32 bytes) from run.json channel.recipient. */
  constructor(recipient: Buffer) {
    if (recipient.length !== RECIPIENT_KEY_BYTES) {
      throw new Error(`channel recipient key must be ${RECIPIENT_KEY_BYTES} bytes, got ${recipient.length}: give the 64 hex digits of the .pub file from \`sealtap receive keygen\``);
    }
    this.key = sodium.sodium_malloc(SESSION_KEY_BYTES);
    sodium.randombytes_buf(this.key);
    const sealed = Buffer.alloc(SEALED_KEY_BYTES);
    try {
      sodium.crypto_box_seal(sealed, this.key, recipient);
    } catch {
      this.wipe();
      throw new Error('channel.recipient is not a usable X25519 public key: give the 64 hex digits of the .pub file from `sealtap receive keygen`');
    }
    sodium.sodium_mprotect_noaccess(this.key);
    this.boot = { alg: ENCRYPTION_ALG, sealedKey: sealed.toString('hex') };
  }

  /** header ‖ AEAD(body) ‖ crc, before COBS, with FLAG_ENCRYPTED added to `f.flags`. */
  sealFrame(f: Omit<FrameFields, 'payload'>, body: Buffer): Buffer {
    if (this.wiped) throw new Error('channel session key already wiped: the channel is closed');
    const len = body.length + TAG_BYTES;
    const raw = Buffer.allocUnsafe(HEADER_BYTES + len + CRC_BYTES);
    writeFrameHeader(raw, { ...f, flags: f.flags | FLAG_ENCRYPTED }, len);
    const header = raw.subarray(0, HEADER_BYTES);
    const out = raw.subarray(HEADER_BYTES, HEADER_BYTES + len);
    sodium.sodium_mprotect_readonly(this.key);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, body, header, null, frameNonce(f.session, f.seq), this.key);
    } finally {
      sodium.sodium_mprotect_noaccess(this.key);
    }
    raw.writeUInt32BE(crc32cFast(raw, 0, HEADER_BYTES + len), HEADER_BYTES + len);
    return raw;
  }

  wipe(): void {
    if (this.wiped) return;
    this.wiped = true;
    sodium.sodium_mprotect_readwrite(this.key);
    sodium.sodium_memzero(this.key);
    sodium.sodium_free(this.key);
  }

  toString(): string { return '[secret]'; }
  toJSON(): string { return '[secret]'; }
}

/** Workstation side: the researcher's key pair (secret half in secure memory). */
export interface ResultsKey {
  publicKey: Buffer;
  secretKey: Buffer;
}

/** The session key out of BOOT's sealedKey, in secure memory; null if this key cannot open it. */
export function openSessionKey(enc: BootEncryption, key: ResultsKey): Buffer | null {
  if (enc.alg !== ENCRYPTION_ALG || typeof enc.sealedKey !== 'string') return null;
  const sealed = Buffer.from(enc.sealedKey, 'hex');
  if (sealed.length !== SEALED_KEY_BYTES) return null;
  const sk = sodium.sodium_malloc(SESSION_KEY_BYTES);
  if (!sodium.crypto_box_seal_open(sk, sealed, key.publicKey, key.secretKey)) {
    freeKey(sk);
    return null;
  }
  return sk;
}

/** The deflated body of an encrypted frame; null if it fails authentication (tampered, or another key). */
export function openFramePayload(sessionKey: Buffer, f: { session: Buffer; seq: number; payload: Buffer; raw: Buffer }): Buffer | null {
  if (f.payload.length < TAG_BYTES) return null;
  const plain = Buffer.allocUnsafe(f.payload.length - TAG_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, f.payload, f.raw.subarray(0, HEADER_BYTES), frameNonce(f.session, f.seq), sessionKey);
    return plain;
  } catch {
    return null;
  }
}

export function freeKey(k: Buffer): void {
  sodium.sodium_memzero(k);
  sodium.sodium_free(k);
}
