// The researcher's X25519 key pair that results are encrypted to (frame-seal.ts).
//
//   PREFIX.pub  64 hex digits and a newline: the public key, pasted into run.json as
//               channel.recipient. Public; fine to print, mail, commit.
//   PREFIX.key  "SEALRK1\n" + 32-byte X25519 secret key, binary, mode 0600. It stays on
//               the workstation; it is read into secure memory and never printed.
// The public half is derived from the secret one when the key is read, so a .key file
// alone is enough to receive.
import * as fs from 'node:fs';
import { writeSecretKeyFile } from '../keys/key-file';
import sodium from 'sodium-native';

export const RESULTS_KEY_MAGIC = Buffer.from('SEALRK1\n', 'latin1');
const KEY_BYTES = 32;

export class ResultsKeyError extends Error {}

/** Creates PREFIX.pub and PREFIX.key; refuses to overwrite (a lost key makes its recordings unreadable). */
export function writeResultsKeyPair(prefix: string): { pubPath: string; keyPath: string; publicHex: string } {
  const pubPath = `${prefix}.pub`;
  const keyPath = `${prefix}.key`;
  for (const p of [pubPath, keyPath]) {
    if (fs.existsSync(p)) throw new ResultsKeyError(`${p} already exists: choose another --out prefix or move the old key away (it is never overwritten)`);
  }
  const pk = Buffer.alloc(KEY_BYTES);
  const sk = sodium.sodium_malloc(KEY_BYTES);
  try {
    sodium.crypto_box_keypair(pk, sk);
    writeSecretKeyFile(keyPath, RESULTS_KEY_MAGIC, sk);
    fs.writeFileSync(pubPath, pk.toString('hex') + '\n', { flag: 'wx', mode: 0o644 });
  } finally {
    sodium.sodium_memzero(sk);
    sodium.sodium_free(sk);
  }
  return { pubPath, keyPath, publicHex: pk.toString('hex') };
}

/** Reads PREFIX.key into secure memory; free the result with freeResultsKey. */
export function readResultsKey(file: string): { publicKey: Buffer; secretKey: Buffer } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new ResultsKeyError(`cannot read results key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; give the .key file from \`sealtap receive keygen --out PREFIX\``);
  }
  const want = RESULTS_KEY_MAGIC.length + KEY_BYTES;
  if (!st.isFile() || st.size !== want) {
    throw new ResultsKeyError(`${file} is not a sealtap results key (${st.size} bytes, expected ${want}): give the .key file from \`sealtap receive keygen\` (not the .pub)`);
  }
  if ((st.mode & 0o077) !== 0) throw new ResultsKeyError(`results key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${file}`);
  const bytes = fs.readFileSync(file);
  try {
    if (!bytes.subarray(0, RESULTS_KEY_MAGIC.length).equals(RESULTS_KEY_MAGIC)) {
      throw new ResultsKeyError(`${file} is not a sealtap results key: give the .key file from \`sealtap receive keygen\``);
    }
    const secretKey = sodium.sodium_malloc(KEY_BYTES);
    bytes.copy(secretKey, 0, RESULTS_KEY_MAGIC.length);
    const publicKey = Buffer.alloc(KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, secretKey);
    return { publicKey, secretKey };
  } finally {
    sodium.sodium_memzero(bytes);
  }
}

export function freeResultsKey(k: { secretKey: Buffer }): void {
  sodium.sodium_memzero(k.secretKey);
  sodium.sodium_free(k.secretKey);
}
