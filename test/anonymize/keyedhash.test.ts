import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyedHash, LABEL_CHARS } from '../../firmware/anonymize/keyedhash';

const keyA = Buffer.alloc(32, 0xa1);
const keyB = Buffer.alloc(32, 0xb2);

test('hashLabel is stable for one key and gives a fixed-length DNS-safe token', () => {
  const h = new KeyedHash(keyA);
  const t = h.hashLabel('example');
  assert.is(t, new KeyedHash(keyA).hashLabel('example'));
  assert.is(t, h.hashLabel(Buffer.from('example')));
  assert.is(t.length, LABEL_CHARS);
  assert.match(t, /^[a-z2-7]+$/);
  assert.is.not(h.hashLabel('example2'), t);
});

test('hashLabel differs across keys', () => {
  assert.is.not(new KeyedHash(keyA).hashLabel('example'), new KeyedHash(keyB).hashLabel('example'));
});

test('hashName keeps the last N labels and hashes the others', () => {
  const h = new KeyedHash(keyA);
  const one = h.hashName('www.example.com', 1).split('.');
  assert.is(one.length, 3);
  assert.is(one[2], 'com');
  assert.not.ok(one[0].includes('www') || one[1].includes('example'));
  const two = h.hashName('www.example.co.uk', 2).split('.');
  assert.equal(two.slice(2), ['co', 'uk']);
  assert.is(h.hashName('example.com', 2), 'example.com');
  assert.ok(h.hashName('example.com', 0).split('.').every((l) => l.length === LABEL_CHARS));
});

test('hashName keeps the hierarchy: names under one domain share its token', () => {
  const h = new KeyedHash(keyA);
  const a = h.hashName('www.example.com', 1).split('.');
  const b = h.hashName('mail.example.com', 1).split('.');
  assert.is(a[1], b[1]);
  assert.is.not(a[0], b[0]);
});

test('hashName gives the same label different tokens under different parents', () => {
  const h = new KeyedHash(keyA);
  assert.is.not(h.hashName('www.example.com', 1).split('.')[0], h.hashName('www.example.org', 1).split('.')[0]);
});

test('hashName folds case and keeps a trailing dot', () => {
  const h = new KeyedHash(keyA);
  assert.is(h.hashName('WWW.Example.COM.', 1), h.hashName('www.example.com', 1) + '.');
  assert.ok(h.hashName('WWW.Example.COM.', 1).endsWith('.com.'));
});

test('hashName passes the root name through', () => {
  assert.is(new KeyedHash(keyA).hashName('.', 1), '.');
});

test('hashName refuses a negative suffix count', () => {
  assert.throws(() => new KeyedHash(keyA).hashName('a.b', -1), /keepSuffixLabels/);
});

test('hashNumber reduces to the asked number of bits, stable per key', () => {
  const h = new KeyedHash(keyA);
  for (let v = 0; v < 500; v++) {
    const x = h.hashNumber(v, 12);
    assert.ok(x >= 0 && x < 4096);
    assert.is(x, h.hashNumber(v, 12));
  }
  assert.is.not(h.hashNumber(7, 32), new KeyedHash(keyB).hashNumber(7, 32));
});

test('refuses a key that is not 32 bytes', () => {
  assert.throws(() => new KeyedHash(Buffer.alloc(8)), /must be 32 bytes, got 8/);
});

test.run();
