// How anonymizers take their keys. The box hands them a SecretKey from the keyring
// (firmware/keys); tools and tests hand them a plain Buffer. Either way the bytes are
// read once, synchronously, and the anonymizer keeps only what its hot path needs.
import * as sodium from 'sodium-native';

/** Anything with SecretKey's use() (firmware/keys/secret-key.ts), or raw bytes. */
export interface KeyUser {
  use<T>(fn: (bytes: Buffer) => T): T;
}
export type KeyMaterial = Buffer | KeyUser;

/**
 * Runs fn with the key bytes after checking their length. `what` names the key in the
 * error ("Crypto-PAn key"), never its value.
 */
export function withKeyBytes<T>(key: KeyMaterial, length: number, what: string, fn: (bytes: Buffer) => T): T {
  const run = (bytes: Buffer): T => {
    if (bytes.length !== length) {
      throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}: derive it with keyring.subkey(purpose, ${length})`);
    }
    return fn(bytes);
  };
  if (Buffer.isBuffer(key)) return run(key);
  if (key && typeof (key as KeyUser).use === 'function') return (key as KeyUser).use(run);
  throw new TypeError(`${what} must be a Buffer or a SecretKey`);
}

/**
 * Copies key bytes into libsodium secure memory (mlock'ed, guard pages, no core dump)
 * and makes it read-only. Hot paths read it on every packet, so it cannot be
 * no-access between uses the way SecretKey is; call wipeSecureCopy() when done.
 */
export function secureCopy(bytes: Buffer): Buffer {
  const buf = sodium.sodium_malloc(bytes.length);
  bytes.copy(buf);
  sodium.sodium_mprotect_readonly(buf);
  return buf;
}

export function wipeSecureCopy(buf: Buffer): void {
  sodium.sodium_mprotect_readwrite(buf);
  sodium.sodium_memzero(buf);
}
