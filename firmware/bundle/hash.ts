// BLAKE2b-256 (libsodium crypto_generichash), the hash of bundle payloads, manifests
// and medium slot contents.
import * as sodium from 'sodium-native';

export const HASH_BYTES = 32;

export function blake2b256(data: Buffer): Buffer {
  const out = Buffer.alloc(HASH_BYTES);
  sodium.crypto_generichash(out, data);
  return out;
}

export function blake2b256Hex(data: Buffer): string {
  return blake2b256(data).toString('hex');
}
