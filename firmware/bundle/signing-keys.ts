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
import { BundleError, SIGNATURE_ENTRY_BYTES } from './format';
import { blake2b256 } from './hash';
import { writeSecretKeyFile } from '../keys/key-file';

export const SECRET_KEY_MAGIC = Buffer.from('SEALSK1\n', 'latin1');
export const PUBLIC_KEY_MAGIC = Buffer.from('SEALPK1\n', 'latin1');
export const KEY_ID_BYTES = 8;
/**
 * Signatures cover this context string followed by the manifest bytes, so a signature
 * made for anything else with the same key (or a future format) never verifies as a
 * bundle manifest. Changing it invalidates every signed bundle.
 */
export const SIGNATURE_DOMAIN = Buffer.from('sealtap analysis bundle manifest v1\0', 'latin1');

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

function signedMessage(manifest: Buffer): Buffer {
  return Buffer.concat([SIGNATURE_DOMAIN, manifest]);
}

/** The manifest.sig entry: key id (8 bytes) followed by the Ed25519 signature (64 bytes). */
export function signManifest(manifest: Buffer, secretKey: Buffer): Buffer {
  // libsodium secret keys end with the public key.
  const pk = secretKey.subarray(sodium.crypto_sign_SECRETKEYBYTES - sodium.crypto_sign_PUBLICKEYBYTES);
  const entry = Buffer.alloc(SIGNATURE_ENTRY_BYTES);
  Buffer.from(keyId(pk), 'hex').copy(entry, 0);
  sodium.crypto_sign_detached(entry.subarray(KEY_ID_BYTES), signedMessage(manifest), secretKey);
  return entry;
}

export function signatureKeyId(entry: Buffer): string | null {
  return entry.length === SIGNATURE_ENTRY_BYTES ? entry.subarray(0, KEY_ID_BYTES).toString('hex') : null;
}

/**
 * Returns the id of the trusted key that verifies the signature, or throws a
 * BundleError that tells an unknown signer apart from a broken signature.
 */
export function verifyManifestSignature(manifest: Buffer, entry: Buffer, trustedKeys: Buffer[]): string {
  if (entry.length === 0) throw new BundleError('the bundle is not signed: sign it with `sealtap bundle sign FILE --key PREFIX.key --out FILE2`');
  if (entry.length !== SIGNATURE_ENTRY_BYTES) throw new BundleError(`manifest.sig is ${entry.length} bytes, expected ${SIGNATURE_ENTRY_BYTES}`);
  const id = entry.subarray(0, KEY_ID_BYTES).toString('hex');
  const candidates = trustedKeys.filter((pk) => pk.length === sodium.crypto_sign_PUBLICKEYBYTES && keyId(pk) === id);
  if (candidates.length === 0) {
    const known = trustedKeys.map(keyId).join(', ') || 'none';
    throw new BundleError(`the bundle is signed by key ${id}, which is not trusted here (trusted: ${known}): sign it with a trusted key or install its .pub`);
  }
  const message = signedMessage(manifest);
  const sig = entry.subarray(KEY_ID_BYTES);
  for (const pk of candidates) if (sodium.crypto_sign_verify_detached(sig, message, pk)) return id;
  throw new BundleError(`the manifest signature by key ${id} is invalid: manifest.json was altered after signing; rebuild or re-sign the bundle`);
}
