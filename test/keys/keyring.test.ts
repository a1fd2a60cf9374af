import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as util from 'util';
import * as sodium from 'sodium-native';
import { Keyring, KeyPurpose, KeyPurposeName, SecretKey } from '../../firmware/keys/keyring';
import { fixedKeyring, fixedMaster } from '../lib/fixed-keyring';

function bytesOf(key: SecretKey): Buffer {
  return key.use((k) => Buffer.from(k));
}

function referenceSubkey(master: Buffer, id: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  sodium.crypto_kdf_derive_from_key(out, id, Buffer.from('sealtap_'), master);
  return out;
}

test('derives the crypto_kdf subkey with context "sealtap_" and the purpose id', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('spool');
  assert.ok(bytesOf(key).equals(referenceSubkey(fixedMaster(), KeyPurpose.spool, 32)));
  ring.wipe();
});

test('derivation is deterministic for a given master', () => {
  const a = fixedKeyring();
  const b = fixedKeyring();
  for (const name of Object.keys(KeyPurpose) as KeyPurposeName[]) {
    assert.ok(bytesOf(a.subkey(name)).equals(bytesOf(b.subkey(name))), name);
  }
  a.wipe();
  b.wipe();
});

test('a purpose by name and by id give the same key', () => {
  const ring = fixedKeyring();
  assert.ok(bytesOf(ring.subkey('mac')).equals(bytesOf(ring.subkey(KeyPurpose.mac))));
  ring.wipe();
});

test('different purposes give different keys', () => {
  const ring = fixedKeyring();
  const seen = new Set<string>();
  for (const name of Object.keys(KeyPurpose) as KeyPurposeName[]) {
    seen.add(bytesOf(ring.subkey(name)).toString('hex'));
  }
  assert.is(seen.size, Object.keys(KeyPurpose).length);
  ring.wipe();
});

test('different masters give different keys', () => {
  const a = fixedKeyring(1);
  const b = fixedKeyring(2);
  assert.not.ok(bytesOf(a.subkey('spool')).equals(bytesOf(b.subkey('spool'))));
  a.wipe();
  b.wipe();
});

test('two generated keyrings have different masters', () => {
  const a = Keyring.generate();
  const b = Keyring.generate();
  const ka = bytesOf(a.subkey('spool'));
  assert.not.ok(ka.equals(bytesOf(b.subkey('spool'))));
  assert.not.ok(ka.equals(Buffer.alloc(32)));
  a.wipe();
  b.wipe();
});

test('derives a 64-byte dm-crypt key', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('dmcrypt', 64);
  assert.is(key.length, 64);
  assert.ok(bytesOf(key).equals(referenceSubkey(fixedMaster(), KeyPurpose.dmcrypt, 64)));
  ring.wipe();
});

test('refuses a subkey longer than crypto_kdf allows', () => {
  const ring = fixedKeyring();
  assert.throws(() => ring.subkey('spool', 65), /out of range/);
  ring.wipe();
});

test('refuses an unknown purpose', () => {
  const ring = fixedKeyring();
  assert.throws(() => ring.subkey('nonsense' as KeyPurposeName), /unknown key purpose/);
  assert.throws(() => ring.subkey(42 as never), /unknown key purpose/);
  ring.wipe();
});

test('refuses a test master of the wrong length', () => {
  assert.throws(() => Keyring.debugFromBytes(Buffer.alloc(31)), /32 bytes/);
});

test('keyring.wipe zeroes the master and every subkey handed out', () => {
  const ring = fixedKeyring();
  const keys = [ring.subkey('spool'), ring.subkey('address'), ring.subkey('dmcrypt', 64)];
  assert.not.ok(ring.debugIsZeroed());
  for (const k of keys) assert.not.ok(k.debugIsZeroed());
  ring.wipe();
  assert.ok(ring.debugIsZeroed());
  for (const k of keys) assert.ok(k.debugIsZeroed());
});

test('subkey after keyring.wipe throws', () => {
  const ring = fixedKeyring();
  ring.wipe();
  assert.throws(() => ring.subkey('spool'), /keyring was wiped/);
});

test('use() after wipe throws "key was wiped"', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('spool');
  key.wipe();
  assert.ok(key.debugIsZeroed());
  let called = false;
  assert.throws(
    () =>
      key.use(() => {
        called = true;
      }),
    /key was wiped/,
  );
  assert.not.ok(called);
  ring.wipe();
});

test('use() revokes access when the callback throws, and the key stays usable', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('spool');
  const before = bytesOf(key);
  assert.throws(
    () =>
      key.use(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.ok(bytesOf(key).equals(before));
  ring.wipe();
});

test('nested use() keeps the key readable until the outer call returns', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('spool');
  const outer = key.use((k) => {
    key.use((inner) => inner[0]);
    return k[31]; // would fault if the inner call had revoked access
  });
  assert.is(outer, bytesOf(key)[31]);
  ring.wipe();
});

test('refuses an async use() callback', () => {
  const ring = fixedKeyring();
  const key = ring.subkey('spool');
  assert.throws(() => key.use(() => Promise.resolve(1)), /synchronous/);
  ring.wipe();
});

test('SecretKey.fromBytes copies the key and zeroes the source', () => {
  const src = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
  const expected = Buffer.from(src);
  const key = SecretKey.fromBytes(src);
  assert.ok(src.equals(Buffer.alloc(32)));
  assert.ok(bytesOf(key).equals(expected));
  key.wipe();
  assert.ok(key.debugIsZeroed());
});

test('refuses to wrap ordinary memory as a SecretKey', () => {
  assert.throws(() => new SecretKey(Buffer.alloc(32)), /sodium_malloc/);
});

test('toString, JSON and inspect never reveal key bytes', () => {
  const ring = fixedKeyring();
  const k = ring.subkey('spool');
  const hex = bytesOf(k).toString('hex');
  const b64 = bytesOf(k).toString('base64');
  const renderings = [
    String(k),
    `${k}`,
    'x' + k,
    JSON.stringify({ k }),
    util.inspect(k),
    util.inspect({ k }, { showHidden: true, depth: 5 }),
    util.format('%s %o %O %j', k, k, k, { k }),
    String(ring),
    JSON.stringify({ ring }),
    util.inspect(ring, { showHidden: true }),
  ];
  for (const r of renderings) {
    assert.not.ok(r.includes(hex), r);
    assert.not.ok(r.includes(b64), r);
    assert.ok(r.includes('[secret]'), r);
  }
  ring.wipe();
});

test.run();
