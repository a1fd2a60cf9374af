// manifest.json: canonical JSON, field checks, and what the build puts in it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson } from '../../firmware/bundle/canonical-json';
import { encodeManifest, makeManifest, parseManifest } from '../../firmware/bundle/manifest';
import { blake2b256Hex } from '../../firmware/bundle/hash';

const payloads = [Buffer.from('module'), Buffer.from('{}'), Buffer.from('{"a":1}')];
const fields = { name: 'x', boards: ['qemu-x86_64'], version: '1.2.3', securityVersion: 7, created: new Date('2026-11-23T09:00:00.123Z'), privacy: 'ab'.repeat(32) };

test('canonical JSON sorts keys at every level and has no whitespace', () => {
  assert.is(canonicalJson({ b: 1, a: [{ d: true, c: null }, 'x'] }), '{"a":[{"c":null,"d":true},"x"],"b":1}');
});

test('canonical JSON refuses floats, which have several spellings', () => {
  assert.throws(() => canonicalJson({ a: 1.5 }), /safe integers/);
});

test('the manifest lists each payload with size and BLAKE2b-256 hash', () => {
  const m = makeManifest(fields, payloads);
  assert.equal(m.payload.map((p) => p.name), ['module.js', 'policy.json', 'run.json']);
  assert.is(m.payload[2].size, 7);
  assert.is(m.payload[0].blake2b, blake2b256Hex(Buffer.from('module')));
  assert.is(m.created, '2026-11-23T09:00:00Z');
  assert.is(m.product, 'sealtap');
});

test('the build id depends on the payload, so equal trees give equal ids', () => {
  const a = makeManifest(fields, payloads);
  const b = makeManifest({ ...fields, created: new Date('2030-01-01T00:00:00Z') }, payloads);
  const c = makeManifest(fields, [Buffer.from('module2'), payloads[1], payloads[2]]);
  assert.is(a.buildId, b.buildId);
  assert.is.not(a.buildId, c.buildId);
});

test('parses what it encodes', () => {
  const m = makeManifest(fields, payloads);
  assert.equal(parseManifest(encodeManifest(m)), m);
});

test('refuses a manifest that is not JSON', () => {
  assert.throws(() => parseManifest(Buffer.from('{"product":')), /manifest\.json: not valid JSON/);
});

test('refuses a manifest with a missing field', () => {
  const m = makeManifest(fields, payloads) as unknown as Record<string, unknown>;
  delete m.securityVersion;
  assert.throws(() => parseManifest(Buffer.from(canonicalJson(m))), /missing key "securityVersion"/);
});

test('refuses a manifest for another product', () => {
  const m = { ...makeManifest(fields, payloads), product: 'other' };
  assert.throws(() => parseManifest(Buffer.from(canonicalJson(m))), /not a sealtap analysis bundle/);
});

test('refuses a negative or fractional security version', () => {
  const m = { ...makeManifest(fields, payloads), securityVersion: -1 };
  assert.throws(() => parseManifest(Buffer.from(canonicalJson(m))), /securityVersion must be an integer/);
});

test('refuses payload listed in another order', () => {
  const m = makeManifest(fields, payloads);
  m.payload.reverse();
  assert.throws(() => parseManifest(Buffer.from(canonicalJson(m))), /payload\[0\] is "run\.json", expected "module\.js"/);
});

test.run();
