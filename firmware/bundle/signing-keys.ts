// Ed25519 signing keys for bundles and the signature over a manifest.
//
// Key files are binary, never text, so a key is never hex/base64 text that could be
// pasted into a log or a chat:
//   PREFIX.key  "SEALSK1\n" + libsodium secret key (64 bytes), mode 0600, workstation only
//   PREFIX.pub  "SEALPK1\n" + public key (32 bytes), installed on the box as a trusted key
// A key is named by its key id: the first 8 bytes of BLAKE2b-256 of the public key,
// shown as 16 hex digits. The id is not secret and is what messages print.
import * as fs from 'fs';
import * as sodium from 'sodium-native';
import { BundleError, SIGNATURE_RECORD_BYTES } from './format';
import { blake2b256 } from './hash';
import { writeSecretKeyFile } from '../keys/key-file';

export const SECRET_KEY_MAGIC = Buffer.from('SEALSK1\n', 'latin1');
export const PUBLIC_KEY_MAGIC = Buffer.from('SEALPK1\n', 'latin1');
export const KEY_ID_BYTES = 8;
/**
 * Signatures cover this context string, then the role and the manifest bytes, so a
 * signature made for anything else with the same key (or a future format) never
 * verifies as a bundle approval. Changing it invalidates every signed bundle.
 */
export const SIGNATURE_DOMAIN = Buffer.from('sealtap analysis bundle approval v2\0', 'latin1');

export function keyId(publicKey: Buffer): string {
  return blake2b256(publicKey).subarray(0, KEY_ID_BYTES).toString('hex');
}

/**
 * Creates PREFIX.pub and PREFIX.key. Refuses to overwrite either file: losing a
 * signing key that boxes trust means reflashing every box's trusted keys.
 */
export function writeKeyPair(prefix: string): { pubPath: string; keyPath: string; keyId: string } {
  const pubPath = `${prefix}.pub`;
  const keyPath = `${prefix}.key`;
  for (const p of [pubPath, keyPath]) {
    if (fs.existsSync(p)) throw new BundleError(`${p} already exists: choose another --out prefix or move the old key away (it is never overwritten)`);
  }
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
  const sk = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  try {
    sodium.crypto_sign_keypair(pk, sk);
    writeSecretKeyFile(keyPath, SECRET_KEY_MAGIC, sk);
    const pfd = fs.openSync(pubPath, 'wx', 0o644);
    try {
      fs.writeSync(pfd, Buffer.concat([PUBLIC_KEY_MAGIC, pk]));
    } finally {
      fs.closeSync(pfd);
    }
  } finally {
    sodium.sodium_memzero(sk);
    sodium.sodium_free(sk);
  }
  return { pubPath, keyPath, keyId: keyId(pk) };
}

export function parsePublicKey(file: Buffer, where: string): Buffer {
  if (file.length !== PUBLIC_KEY_MAGIC.length + sodium.crypto_sign_PUBLICKEYBYTES || !file.subarray(0, PUBLIC_KEY_MAGIC.length).equals(PUBLIC_KEY_MAGIC)) {
    throw new BundleError(`${where} is not a sealtap public key: use the .pub file written by \`sealtap bundle keygen\``);
  }
  return Buffer.from(file.subarray(PUBLIC_KEY_MAGIC.length));
}

export function readPublicKeyFile(path: string): Buffer {
  let file: Buffer;
  try {
    file = fs.readFileSync(path);
  } catch (err) {
    throw new BundleError(`cannot read public key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePublicKey(file, path);
}

/**
 * Reads PREFIX.key into libsodium secure memory. The caller must pass the result to
 * freeSecretKey when done. Refuses a key file others can read, like ssh does.
 */
export function readSecretKeyFile(path: string): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    throw new BundleError(`cannot read signing key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; create one with \`sealtap bundle keygen --out PREFIX\``);
  }
  if (isPublicKeyFile(path, st.size)) {
    const secret = path.endsWith('.pub') ? `${path.slice(0, -4)}.key` : 'the .key file';
    throw new BundleError(`${path} is a public key: --key needs the secret signing key, ${secret}, which \`sealtap bundle keygen\` wrote next to it`);
  }
  if ((st.mode & 0o077) !== 0) throw new BundleError(`signing key ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${path}`);
  const want = SECRET_KEY_MAGIC.length + sodium.crypto_sign_SECRETKEYBYTES;
  if (st.size !== want) throw new BundleError(`${path} is not a sealtap signing key (${st.size} bytes, expected ${want}): use the .key file written by \`sealtap bundle keygen\``);
  const file = fs.readFileSync(path);
  try {
    if (!file.subarray(0, SECRET_KEY_MAGIC.length).equals(SECRET_KEY_MAGIC)) throw new BundleError(`${path} is not a sealtap signing key: use the .key file written by \`sealtap bundle keygen\``);
    const sk = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
    file.copy(sk, 0, SECRET_KEY_MAGIC.length);
    return sk;
  } finally {
    sodium.sodium_memzero(file);
  }
}

/**
 * A .pub given where the .key belongs: said plainly, instead of advising chmod 600 on a
 * file that is meant to be public. Reading it is harmless: it holds no secret.
 */
function isPublicKeyFile(path: string, size: number): boolean {
  if (size !== PUBLIC_KEY_MAGIC.length + sodium.crypto_sign_PUBLICKEYBYTES) return false;
  try {
    return fs.readFileSync(path).subarray(0, PUBLIC_KEY_MAGIC.length).equals(PUBLIC_KEY_MAGIC);
  } catch {
    return false;
  }
}

export function freeSecretKey(sk: Buffer): void {
  sodium.sodium_memzero(sk);
  sodium.sodium_free(sk);
}

/**
 * One approval in manifest.sig, SIGNATURE_RECORD_BYTES long:
 *   0   8 bytes  key id of the signing key
 *   8  32 bytes  role name, ASCII, padded with NUL bytes
 *  40  32 bytes  BLAKE2b-256 of the manifest this signature is over
 *  72  64 bytes  Ed25519 signature over SIGNATURE_DOMAIN + role (32 bytes) + manifest
 * The manifest hash is not needed to verify (the signature covers the manifest itself);
 * it lets a refusal say "over an older build" instead of just "invalid".
 */
export interface SignatureRecord {
  keyId: string;
  role: string;
  manifestHash: string;
  signature: Buffer;
}

export const ROLE_BYTES = 32;
const ROLE_RE = /^[a-z][a-z0-9-]{0,31}$/;
export function isRoleName(s: string): boolean { return ROLE_RE.test(s); }
export const DEFAULT_ROLE = 'researcher';

function roleField(role: string): Buffer {
  if (!isRoleName(role)) throw new BundleError(`role ${JSON.stringify(role)} is not a role name: 1-32 lowercase letters, digits or "-", starting with a letter`);
  const b = Buffer.alloc(ROLE_BYTES);
  b.write(role, 'latin1');
  return b;
}

function signedMessage(role: string, manifest: Buffer): Buffer {
  return Buffer.concat([SIGNATURE_DOMAIN, roleField(role), manifest]);
}

/** A new approval of `manifest` by `secretKey` in `role`, encoded as one record. */
export function signManifest(manifest: Buffer, secretKey: Buffer, role = DEFAULT_ROLE): Buffer {
  // libsodium secret keys end with the public key.
  const pk = secretKey.subarray(sodium.crypto_sign_SECRETKEYBYTES - sodium.crypto_sign_PUBLICKEYBYTES);
  const rec = Buffer.alloc(SIGNATURE_RECORD_BYTES);
  Buffer.from(keyId(pk), 'hex').copy(rec, 0);
  roleField(role).copy(rec, KEY_ID_BYTES);
  blake2b256(manifest).copy(rec, KEY_ID_BYTES + ROLE_BYTES);
  sodium.crypto_sign_detached(rec.subarray(KEY_ID_BYTES + ROLE_BYTES + 32), signedMessage(role, manifest), secretKey);
  return rec;
}

/** The records of a manifest.sig entry; throws when the entry is not a whole number of well-formed records. */
export function parseSignatures(entry: Buffer): SignatureRecord[] {
  if (entry.length % SIGNATURE_RECORD_BYTES !== 0) {
    throw new BundleError(`manifest.sig is ${entry.length} bytes, not a whole number of ${SIGNATURE_RECORD_BYTES}-byte signatures: the bundle was not signed by \`sealtap bundle sign\``);
  }
  const out: SignatureRecord[] = [];
  for (let at = 0; at < entry.length; at += SIGNATURE_RECORD_BYTES) {
    const rec = entry.subarray(at, at + SIGNATURE_RECORD_BYTES);
    const roleBytes = rec.subarray(KEY_ID_BYTES, KEY_ID_BYTES + ROLE_BYTES);
    const end = roleBytes.indexOf(0);
    const role = roleBytes.subarray(0, end === -1 ? ROLE_BYTES : end).toString('latin1');
    const n = out.length + 1;
    if (!isRoleName(role) || (end !== -1 && roleBytes.subarray(end).some((b) => b !== 0))) {
      throw new BundleError(`signature ${n} in manifest.sig names no valid role: the bundle was not signed by \`sealtap bundle sign\``);
    }
    out.push({
      keyId: rec.subarray(0, KEY_ID_BYTES).toString('hex'),
      role,
      manifestHash: rec.subarray(KEY_ID_BYTES + ROLE_BYTES, KEY_ID_BYTES + ROLE_BYTES + 32).toString('hex'),
      signature: Buffer.from(rec.subarray(KEY_ID_BYTES + ROLE_BYTES + 32)),
    });
  }
  return out;
}

/** True when `pk` made `rec.signature` over `manifest` in `rec.role`. */
export function signatureHolds(rec: SignatureRecord, manifest: Buffer, pk: Buffer): boolean {
  return pk.length === sodium.crypto_sign_PUBLICKEYBYTES && sodium.crypto_sign_verify_detached(rec.signature, signedMessage(rec.role, manifest), pk);
}
