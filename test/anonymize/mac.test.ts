import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MacPermutation } from '../../firmware/anonymize/mac';
import { randomBytes, seededRandom } from '../lib/anonymize-fixtures';

const next = seededRandom(11);
const key = randomBytes(next, 32);

function anon(perm: MacPermutation, mac: Buffer): Buffer {
  const b = Buffer.from(mac);
  perm.anonymizeMacInto(b, 0);
  return b;
}

test('keeps the I/G (multicast) and U/L (local) bits of every MAC', () => {
  const perm = new MacPermutation(key);
  for (let i = 0; i < 5000; i++) {
    const mac = randomBytes(next, 6);
    assert.is(anon(perm, mac)[0] & 3, mac[0] & 3, mac.toString('hex'));
  }
});

test('maps broadcast ff:ff:ff:ff:ff:ff to itself', () => {
  const perm = new MacPermutation(key);
  assert.is(anon(perm, Buffer.alloc(6, 0xff)).toString('hex'), 'ffffffffffff');
});

test('changes ordinary MACs (it is not the identity)', () => {
  const perm = new MacPermutation(key);
  let same = 0;
  for (let i = 0; i < 1000; i++) {
    const mac = randomBytes(next, 6);
    if (anon(perm, mac).equals(mac)) same++;
  }
  assert.ok(same <= 1, `${same} of 1000 MACs unchanged`);
});

test('is a bijection: no two of 20000 random MACs collide and every one inverts', () => {
  const perm = new MacPermutation(key);
  const seen = new Map<string, string>();
  for (let i = 0; i < 20000; i++) {
    const mac = randomBytes(next, 6);
    const hex = mac.toString('hex');
    const out = anon(perm, mac);
    const outHex = out.toString('hex');
    const prev = seen.get(outHex);
    if (prev !== undefined) assert.is(prev, hex, `collision on ${outHex}`);
    seen.set(outHex, hex);
    perm.invertMacInto(out, 0);
    assert.is(out.toString('hex'), hex);
  }
});

test('is a bijection on a whole small slice of the space (all 2^14 low bits of one prefix)', () => {
  // Exhaustive over one corner, including the broadcast class, where cycle walking
  // moves the one MAC that would land on broadcast.
  const perm = new MacPermutation(key);
  for (const first of [0x00, 0x03]) {
    const outs = new Set<string>();
    const mac = Buffer.from([first, 0xff, 0xff, 0xff, 0, 0]);
    for (let v = 0; v < 16384; v++) {
      mac.writeUInt16BE(v, 4);
      outs.add(anon(perm, mac).toString('hex'));
    }
    assert.is(outs.size, 16384);
  }
});

test('the MAC that would map onto broadcast is sent elsewhere and still inverts', () => {
  const perm = new MacPermutation(key);
  const walker = Buffer.alloc(6, 0xff);
  perm.debugRawInverseInto(walker, 0); // the one MAC the raw Feistel sends to broadcast
  assert.is(walker[0] & 3, 3);
  const out = anon(perm, walker);
  assert.is.not(out.toString('hex'), 'ffffffffffff');
  // Its image is where broadcast itself would have gone: F(F(x)) = F(broadcast).
  const check = Buffer.from(out);
  perm.debugRawInverseInto(check, 0);
  assert.is(check.toString('hex'), 'ffffffffffff');
  perm.invertMacInto(out, 0);
  assert.ok(out.equals(walker));
});

test('rewrites in place at an offset and leaves the neighbours alone', () => {
  const perm = new MacPermutation(key);
  const frame = Buffer.from('aaaa001122334455bbbb', 'hex');
  perm.anonymizeMacInto(frame, 2);
  assert.is(frame.subarray(0, 2).toString('hex'), 'aaaa');
  assert.is(frame.subarray(8).toString('hex'), 'bbbb');
  assert.is(frame.subarray(2, 8).toString('hex'), anon(new MacPermutation(key), Buffer.from('001122334455', 'hex')).toString('hex'));
});

test('cached answers equal fresh answers', () => {
  const perm = new MacPermutation(key);
  const macs = Array.from({ length: 10000 }, () => randomBytes(next, 6));
  const first = macs.map((m) => anon(perm, m).toString('hex'));
  const fresh = new MacPermutation(key);
  macs.forEach((m, i) => {
    assert.is(anon(perm, m).toString('hex'), first[i]);
    if (i % 10 === 0) assert.is(anon(fresh, m).toString('hex'), first[i]);
  });
});

test('different keys give different permutations', () => {
  const a = new MacPermutation(key);
  const b = new MacPermutation(randomBytes(next, 32));
  const mac = Buffer.from('001122334455', 'hex');
  assert.is.not(anon(a, mac).toString('hex'), anon(b, mac).toString('hex'));
});

test('refuses a key that is not 32 bytes', () => {
  assert.throws(() => new MacPermutation(Buffer.alloc(31)), /must be 32 bytes, got 31/);
});

test('cached answers stay right when more MACs than cache slots share the pairs', () => {
  const perm = new MacPermutation(key);
  const macs = Array.from({ length: 40000 }, () => randomBytes(next, 6));
  const first = macs.map((m) => anon(perm, m).toString('hex'));
  const fresh = new MacPermutation(key);
  for (let i = macs.length - 1; i >= 0; i -= 11) {
    assert.is(anon(perm, macs[i]).toString('hex'), first[i]);
    assert.is(anon(fresh, macs[i]).toString('hex'), first[i]);
  }
});

test('refuses a MAC that does not fit in the buffer (and leaves the buffer alone)', () => {
  const perm = new MacPermutation(key);
  const b = Buffer.from('0011223344', 'hex');
  assert.throws(() => perm.anonymizeMacInto(b, 0), RangeError);
  assert.throws(() => perm.anonymizeMacInto(Buffer.alloc(12), 7), RangeError);
  assert.throws(() => perm.anonymizeMacInto(Buffer.alloc(12), -1), RangeError);
  assert.is(b.toString('hex'), '0011223344');
});

test.run();
