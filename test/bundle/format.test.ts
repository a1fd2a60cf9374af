// The .sfw container: framing, names and limits, independent of signatures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BundleError, decodeArchive, encodeArchive, isPlainEntryName, MAGIC, MAX_BUNDLE_BYTES, MAX_ENTRIES, MAX_PAYLOAD_BYTES,
} from '../../firmware/bundle/format';
import { rawArchive } from '../lib/bundle-fixtures';

function decodeError(buf: Buffer): string {
  try {
    decodeArchive(buf);
  } catch (err) {
    assert.instance(err, BundleError);
    return (err as Error).message;
  }
  throw new Error('the archive was accepted but must be refused');
}

test('encodes magic, entries and end marker byte for byte', () => {
  const buf = encodeArchive([{ name: 'ab', data: Buffer.from([1, 2, 3]) }]);
  const want = Buffer.concat([MAGIC, Buffer.from([2]), Buffer.from('ab'), Buffer.from([0, 0, 0, 3, 1, 2, 3, 0])]);
  assert.equal(buf, want);
});

test('decodes what it encodes, as views in order', () => {
  const entries = [{ name: 'format', data: Buffer.from('x') }, { name: 'run.json', data: Buffer.from('{}') }, { name: 'e', data: Buffer.alloc(0) }];
  const back = decodeArchive(encodeArchive(entries));
  assert.equal(back.map((e) => e.name), ['format', 'run.json', 'e']);
  assert.equal(back.map((e) => e.data.toString()), ['x', '{}', '']);
});

test('refuses a file that is not a bundle (bad magic)', () => {
  assert.match(decodeError(Buffer.from('PK\x03\x04 not a bundle')), /not a sealtap bundle \(bad magic\)/);
});

test('refuses bytes after the end marker', () => {
  const buf = Buffer.concat([encodeArchive([{ name: 'a', data: Buffer.from('1') }]), Buffer.from('junk')]);
  assert.match(decodeError(buf), /4 unexpected bytes follow the end of the archive/);
});

test('refuses an entry length far beyond the end without allocating it', () => {
  const buf = rawArchive([{ name: 'module.js', data: Buffer.alloc(4) }]);
  buf.writeUInt32BE(0xfffffff0, MAGIC.length + 1 + 'module.js'.length);
  assert.match(decodeError(buf), /module\.js is 4294967280 bytes, over the \d+-byte limit/);
  buf.writeUInt32BE(MAX_PAYLOAD_BYTES, MAGIC.length + 1 + 'module.js'.length);
  assert.match(decodeError(buf), /truncated: module\.js claims 8388608 bytes but only 5 remain/);
});

test('refuses a header cut in the middle', () => {
  const buf = rawArchive([{ name: 'module.js', data: Buffer.alloc(4) }]).subarray(0, MAGIC.length + 4);
  assert.match(decodeError(buf), /truncated inside the header of entry 1/);
});

test('refuses more entries than the limit', () => {
  const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => ({ name: `e${i}`, data: Buffer.alloc(0) }));
  assert.match(decodeError(rawArchive(many)), new RegExp(`more than ${MAX_ENTRIES} entries`));
});

test('refuses a name longer than 64 bytes', () => {
  assert.match(decodeError(rawArchive([{ name: 'a'.repeat(65), data: Buffer.alloc(0) }])), /65-byte name, over the 64-byte limit/);
});

test('refuses a name with control or non-ASCII bytes', () => {
  assert.match(decodeError(rawArchive([{ name: Buffer.from([0x6d, 0x00, 0x6a]), data: Buffer.alloc(0) }])), /is not a plain file name/);
  assert.match(decodeError(rawArchive([{ name: Buffer.from('r\u00e9sum\u00e9', 'latin1'), data: Buffer.alloc(0) }])), /is not a plain file name/);
});

test('refuses an archive larger than the bundle limit before parsing it', () => {
  const big = Buffer.alloc(MAX_BUNDLE_BYTES + 1);
  MAGIC.copy(big);
  assert.match(decodeError(big), /over the 16777216-byte limit/);
});

test('plain entry names: accepts file names, refuses anything path-like', () => {
  for (const ok of ['module.js', 'run.json', 'a-b_c.1']) assert.ok(isPlainEntryName(ok), ok);
  for (const bad of ['', '..', '../x', 'a/b', '/x', '.x', 'a..b', 'x\\y', 'a b', 'a'.repeat(65)]) assert.not.ok(isPlainEntryName(bad), bad);
});

test('the encoder refuses what the decoder would refuse', () => {
  assert.throws(() => encodeArchive([{ name: '../x', data: Buffer.alloc(0) }]), /not a plain file name/);
  assert.throws(() => encodeArchive([{ name: 'manifest.json', data: Buffer.alloc(70000) }]), /over the 65536-byte limit/);
});

test.run();
