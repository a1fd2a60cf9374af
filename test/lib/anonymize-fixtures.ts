// Shared by the anonymize tests: the published Crypto-PAn vectors, a seeded random
// source (failures reproduce), and a slow textbook Crypto-PAn (one AES call per bit)
// to check the fast batched and cached implementation against.
import * as fs from 'fs';
import * as path from 'path';
import { createCipheriv } from 'crypto';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const VECTORS_PATH = path.resolve(REPO_ROOT, '../shared/vectors/cryptopan-reference.tsv');

export interface CryptoPanVectors {
  key: Buffer;
  keyHex: string;
  v4: Array<[string, string]>;
  v6: Array<[string, string]>;
}

export function readCryptoPanVectors(): CryptoPanVectors {
  let keyHex = '';
  const v4: Array<[string, string]> = [];
  const v6: Array<[string, string]> = [];
  for (const line of fs.readFileSync(VECTORS_PATH, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [a, b] = line.split('\t');
    if (a === 'key') keyHex = b.trim();
    else (a.includes(':') ? v6 : v4).push([a.trim(), b.trim()]);
  }
  if (keyHex.length !== 64) throw new Error(`no key line in ${VECTORS_PATH}`);
  return { key: Buffer.from(keyHex, 'hex'), keyHex, v4, v6 };
}

/** mulberry32: small, seeded, good enough to pick test inputs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0);
  };
}

export function randomBytes(next: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

/** Crypto-PAn as the paper describes it, one bit and one AES call at a time. */
export function slowCryptoPan(key: Buffer, addr: Buffer): Buffer {
  const aes = (block: Buffer): Buffer => {
    const c = createCipheriv('aes-128-ecb', key.subarray(0, 16), null);
    c.setAutoPadding(false);
    return c.update(block);
  };
  const pad = aes(key.subarray(16, 32));
  const bits = addr.length * 8;
  const out = Buffer.from(addr);
  for (let i = 0; i < bits; i++) {
    const block = Buffer.from(pad);
    for (let j = 0; j < i; j++) {
      const byte = j >> 3;
      const mask = 0x80 >> (j & 7);
      block[byte] = (block[byte] & ~mask) | (addr[byte] & mask);
    }
    const flip = aes(block)[0] >> 7;
    out[i >> 3] ^= flip << (7 - (i & 7));
  }
  return out;
}

/** Number of leading bits two equal-length buffers share. */
export function commonPrefixBits(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.length * 8;
}
