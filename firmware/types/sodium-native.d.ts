// The subset of sodium-native (libsodium bindings) that sealtap uses.
declare module 'sodium-native' {
  export const crypto_kdf_KEYBYTES: number;
  export const crypto_kdf_CONTEXTBYTES: number;
  export const crypto_kdf_BYTES_MIN: number;
  export const crypto_kdf_BYTES_MAX: number;
  export const crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
  export const crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
  export const crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
  export const crypto_sign_PUBLICKEYBYTES: number;
  export const crypto_sign_SECRETKEYBYTES: number;
  export const crypto_sign_SEEDBYTES: number;
  export const crypto_sign_BYTES: number;
  export const crypto_generichash_BYTES: number;
  export const crypto_generichash_BYTES_MIN: number;
  export const crypto_generichash_BYTES_MAX: number;
  export const crypto_generichash_KEYBYTES: number;
  export const crypto_box_PUBLICKEYBYTES: number;
  export const crypto_box_SECRETKEYBYTES: number;
  export const crypto_box_SEALBYTES: number;
  export const crypto_shorthash_BYTES: number;
  export const crypto_shorthash_KEYBYTES: number;

  export function sodium_malloc(size: number): Buffer;
  export function sodium_free(buf: Buffer): void;
  export function sodium_memzero(buf: Buffer): void;
  export function sodium_mprotect_noaccess(buf: Buffer): void;
  export function sodium_mprotect_readonly(buf: Buffer): void;
  export function sodium_mprotect_readwrite(buf: Buffer): void;
  export function sodium_memcmp(a: Buffer, b: Buffer): boolean;
  export function sodium_is_zero(buf: Buffer, len?: number): boolean;
  export function randombytes_buf(buf: Buffer): void;

  export function crypto_kdf_keygen(key: Buffer): void;
  export function crypto_kdf_derive_from_key(subkey: Buffer, subkeyId: number, ctx: Buffer, key: Buffer): void;

  export function crypto_aead_xchacha20poly1305_ietf_encrypt(c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer): number;
  export function crypto_aead_xchacha20poly1305_ietf_decrypt(m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer): number;

  export function crypto_sign_keypair(pk: Buffer, sk: Buffer): void;
  export function crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
  export function crypto_sign_detached(sig: Buffer, m: Buffer, sk: Buffer): void;
  export function crypto_sign_verify_detached(sig: Buffer, m: Buffer, pk: Buffer): boolean;

  export function crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void;
  export function crypto_generichash_batch(out: Buffer, inputs: Buffer[], key?: Buffer): void;
  export function crypto_shorthash(out: Buffer, input: Buffer, key: Buffer): void;

  export function crypto_box_keypair(pk: Buffer, sk: Buffer): void;
  export function crypto_box_seal(c: Buffer, m: Buffer, pk: Buffer): void;
  export function crypto_box_seal_open(m: Buffer, c: Buffer, pk: Buffer, sk: Buffer): boolean;
  export function crypto_scalarmult_base(q: Buffer, n: Buffer): void;
}
