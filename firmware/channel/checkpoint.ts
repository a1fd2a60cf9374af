// CHECKPOINT records: a signed hash chain over the frames of a session, so a receiver
// can prove which spans of the line it got exactly as the box sent them.
//
//   digest(frame) = SHA-256(header ‖ payload ‖ crc)                (the frame before COBS)
//   hash_k        = BLAKE2b-256(hash_{k-1} ‖ digest(firstSeq) ‖ … ‖ digest(lastSeq))
//   hash_0        = 32 zero bytes
//   sig_k         = Ed25519(per-boot checkpoint key, CHECKPOINT_CONTEXT ‖ session ‖
//                           u32 firstSeq ‖ u32 lastSeq ‖ hash_{k-1} ‖ hash_k)
// A checkpoint covers every frame after the previous CHECKPOINT frame (BOOT, LOG, FLOW…,
// FEC repair frames too) up to the frame just before itself, over the bytes as sent
// (ciphertext when results are encrypted). Receivers record the digest of every frame,
// repair frames included, whether or not they use them, so verification is the same
// with or without FEC. The public key is announced in BOOT.
//
// Every byte of the line is digested twice, once by the box and once by the receiver:
// SHA-256 there because CPUs hash it in hardware (x86's SHA extensions, ARMv8's SHA2
// instructions), 2.5 times BLAKE2b's speed in software where this was measured. The
// chain hash takes in 32 bytes a frame and stays BLAKE2b. The context's "v2" is the
// SHA-256 digest: a receiver that digests frames otherwise finds every signature bad.
import sodium from 'sodium-native';
import { addon } from '../capture/addon';

export const CHECKPOINT_CONTEXT = Buffer.from('sealtap checkpoint v2\0');
export const DIGEST_BYTES = 32;
export const ZERO_HASH = Buffer.alloc(DIGEST_BYTES);

/** Body of a CHECKPOINT record (JSON). Hashes and signature in hex: they are not secrets. */
export interface CheckpointRecord {
  firstSeq: number;
  lastSeq: number;
  prev: string;
  hash: string;
  sig: string;
}

/**
 * digest(frame) by node:crypto: the definition, which the tests hold frameDigest to.
 * node:crypto is loaded here only: the box and the receiver do not need it, and it
 * takes milliseconds to load at every start.
 */
export function frameDigestReference(raw: Uint8Array): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(raw).digest();
}

/**
 * digest(frame), by OpenSSL in the capture addon: node:crypto's hashes cost an object
 * or a new Buffer and more work per call, 1.5 (crypto.hash) to 2-3 times (createHash)
 * as long on 4 KiB frames.
 */
export function frameDigest(raw: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(DIGEST_BYTES);
  addon().sha256(raw, 0, raw.length, out);
  return out;
}

export function chainHash(prev: Buffer, digests: Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(DIGEST_BYTES);
  sodium.crypto_generichash_batch(out, [prev, ...digests]);
  return out;
}

export function checkpointMessage(session: Buffer, firstSeq: number, lastSeq: number, prev: Buffer, hash: Buffer): Buffer {
  const seqs = Buffer.allocUnsafe(8);
  seqs.writeUInt32BE(firstSeq >>> 0, 0);
  seqs.writeUInt32BE(lastSeq >>> 0, 4);
  return Buffer.concat([CHECKPOINT_CONTEXT, session, seqs, prev, hash]);
}

export function verifyCheckpointSignature(publicKey: Buffer, session: Buffer, cp: CheckpointRecord): boolean {
  const prev = Buffer.from(cp.prev, 'hex');
  const hash = Buffer.from(cp.hash, 'hex');
  const sig = Buffer.from(cp.sig, 'hex');
  if (prev.length !== DIGEST_BYTES || hash.length !== DIGEST_BYTES || sig.length !== 64 || publicKey.length !== 32) return false;
  return sodium.crypto_sign_verify_detached(sig, checkpointMessage(session, cp.firstSeq, cp.lastSeq, prev, hash), publicKey);
}
