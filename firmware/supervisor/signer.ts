// The per-boot Ed25519 key that signs CHECKPOINT records. Its public half goes out in
// BOOT; its secret half lives in secure memory and is wiped at stop.
import * as sodium from 'sodium-native';

export class BootSigner {
  readonly publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
  private readonly secret = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);

  constructor() {
    sodium.crypto_sign_keypair(this.publicKey, this.secret);
    sodium.sodium_mprotect_noaccess(this.secret);
  }

  sign(msg: Buffer): Buffer {
    const sig = Buffer.alloc(sodium.crypto_sign_BYTES);
    sodium.sodium_mprotect_readonly(this.secret);
    try {
      sodium.crypto_sign_detached(sig, msg, this.secret);
    } finally {
      sodium.sodium_mprotect_noaccess(this.secret);
    }
    return sig;
  }

  wipe(): void {
    sodium.sodium_mprotect_readwrite(this.secret);
    sodium.sodium_memzero(this.secret);
    sodium.sodium_mprotect_noaccess(this.secret);
  }

  toString(): string { return '[secret]'; }
  toJSON(): string { return '[secret]'; }
}
