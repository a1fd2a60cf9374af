// One test per reason the box refuses a bundle; each checks the reason names the problem.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as sodium from 'sodium-native';
import { decodeArchive, MAX_MANIFEST_BYTES } from '../../firmware/bundle/format';
import { encodeManifest, parseManifest } from '../../firmware/bundle/manifest';
import { signManifest } from '../../firmware/bundle/signing-keys';
import { verifyBundle, VerifyOptions } from '../../firmware/bundle/verify';
import { makeBundle, newKey, rawArchive } from '../lib/bundle-fixtures';
import { trustAnyOf } from '../../firmware/bundle/trust';

const key = newKey();
const good = makeBundle({ key, boards: ['qemu-x86_64'], securityVersion: 3 });
const box: VerifyOptions = { trust: trustAnyOf([key.pk], 'test keys'), board: 'qemu-x86_64', minSecurityVersion: 0 };

function entries(bytes: Buffer): { name: string; data: Buffer }[] {
  return decodeArchive(bytes).map((e) => ({ name: e.name, data: Buffer.from(e.data) }));
}

function refusal(bytes: Buffer, opts: VerifyOptions = box): string {
  const r = verifyBundle(bytes, opts);
  if (r.ok) throw new assert.Assertion({ message: 'the bundle was accepted but must be refused', actual: 'accepted', expects: 'refused', operator: 'refusal' });
  return r.reason;
}

test('accepts the untouched bundle (the baseline the refusals below alter)', () => {
  const r = verifyBundle(good, box);
  assert.ok(r.ok);
  if (r.ok) assert.is(r.bundle.manifest.securityVersion, 3);
});

test('refuses a tampered manifest', () => {
  const e = entries(good);
  const text = e[1].data.toString('utf8').replace('"version":"1.0.0"', '"version":"9.0.0"');
  assert.is.not(text, e[1].data.toString('utf8'));
  e[1].data = Buffer.from(text, 'utf8');
  assert.match(refusal(rawArchive(e)), /the bundle is not approved: no signature by a trusted key .*set aside: the signature by key [0-9a-f]{16} as researcher is over another manifest .*or this manifest was altered after signing/);
});

test('refuses a tampered payload', () => {
  const e = entries(good);
  e[3].data[0] ^= 0x01;
  assert.match(refusal(rawArchive(e)), /module\.js does not match its BLAKE2b-256 hash in the manifest/);
});

test('refuses a truncated archive', () => {
  const reason = refusal(good.subarray(0, good.length - 10));
  assert.match(reason, /the archive is truncated: run\.json claims \d+ bytes but only \d+ remain/);
});

test('refuses an archive cut at an entry boundary (no end marker)', () => {
  const e = entries(good);
  assert.match(refusal(rawArchive(e, { endMarker: false })), /truncated: it ends at byte \d+ without its end marker/);
});

test('refuses reordered payload entries', () => {
  const e = entries(good);
  [e[4], e[5]] = [e[5], e[4]];
  assert.match(refusal(rawArchive(e)), /entry 5 is run\.json, expected policy\.json: entries must be in the order format, manifest\.json, manifest\.sig/);
});

test('refuses a signature placed before the manifest', () => {
  const e = entries(good);
  [e[1], e[2]] = [e[2], e[1]];
  assert.match(refusal(rawArchive(e)), /entry 2 is manifest\.sig, expected manifest\.json/);
});

test('refuses an extra file not listed in the manifest', () => {
  const e = entries(good);
  e.push({ name: 'extra.sh', data: Buffer.from('echo hi\n') });
  assert.match(refusal(rawArchive(e)), /holds extra\.sh, which the manifest does not list/);
});

test('refuses a second copy of a listed file', () => {
  const e = entries(good);
  e.push({ name: 'run.json', data: e[5].data });
  assert.match(refusal(rawArchive(e)), /1 more entries than the manifest lists/);
});

test('refuses a path traversal entry name', () => {
  const e = entries(good);
  e[5].name = '../run.json';
  assert.match(refusal(rawArchive(e)), /entry name "\.\.\/run\.json" is not a plain file name/);
});

test('refuses an absolute or nested entry name', () => {
  for (const name of ['/etc/passwd', 'a/b.js', '.hidden', 'a\\b']) {
    const e = entries(good);
    e.push({ name, data: Buffer.alloc(1) });
    assert.match(refusal(rawArchive(e)), /is not a plain file name/, name);
  }
});

test('refuses a bundle signed by an unknown key', () => {
  const other = newKey();
  const reason = refusal(good, { ...box, trust: trustAnyOf([other.pk], 'test keys') });
  assert.match(reason, /not approved: no signature by a trusted key .*set aside: the signature by key [0-9a-f]{16} as researcher is by a key not in the trust configuration/);
});

test('accepts a bundle signed by any one of several trusted keys', () => {
  const other = newKey();
  const r = verifyBundle(good, { ...box, trust: trustAnyOf([other.pk, key.pk], 'test keys') });
  assert.ok(r.ok);
});

test('refuses a bundle made for another board', () => {
  assert.match(refusal(good, { ...box, board: 'pc-engines-apu2' }), /made for board qemu-x86_64, not for this board \(pc-engines-apu2\)/);
});

test('refuses a downgrade below the minimum security version', () => {
  assert.match(refusal(good, { ...box, minSecurityVersion: 4 }), /security version 3, below this box's minimum 4: downgrades are refused/);
});

test('accepts a bundle at exactly the minimum security version', () => {
  assert.ok(verifyBundle(good, { ...box, minSecurityVersion: 3 }).ok);
});

test('refuses an oversized manifest', () => {
  const e = entries(good);
  e[1].data = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
  assert.match(refusal(rawArchive(e)), new RegExp(`manifest\\.json is ${MAX_MANIFEST_BYTES + 1} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`));
});

test('refuses an empty bundle', () => {
  assert.match(refusal(Buffer.alloc(0)), /the bundle is empty \(0 bytes\)/);
});

test('refuses an archive with no entries', () => {
  assert.match(refusal(rawArchive([])), /the bundle has no entries/);
});

test('refuses an unsigned bundle', () => {
  const unsigned = makeBundle({ key: null });
  assert.match(refusal(unsigned), /the bundle is not signed: sign it with `sealtap bundle sign/);
});

test('refuses a manifest that is signed but not in canonical form', () => {
  const e = entries(good);
  const pretty = Buffer.from(JSON.stringify(parseManifest(e[1].data), null, 2), 'utf8');
  e[1].data = pretty;
  e[2].data = signManifest(pretty, key.sk);
  assert.match(refusal(rawArchive(e)), /not in canonical form/);
});

test('refuses a signed manifest with an unknown key', () => {
  const e = entries(good);
  const m = JSON.parse(e[1].data.toString('utf8'));
  m.debug = true;
  const bytes = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(m).sort())), 'utf8');
  e[1].data = bytes;
  e[2].data = signManifest(bytes, key.sk);
  assert.match(refusal(rawArchive(e)), /unknown key "debug" in the manifest/);
});

test('refuses a payload whose size differs from the manifest', () => {
  const e = entries(good);
  e[4].data = Buffer.concat([e[4].data, Buffer.from(' ')]);
  assert.match(refusal(rawArchive(e)), /policy\.json is \d+ bytes, the manifest says \d+: the payload was altered/);
});

test('refuses a bundle missing a payload file', () => {
  const e = entries(good).slice(0, 5);
  assert.match(refusal(rawArchive(e)), /missing run\.json, which the manifest lists/);
});

test('refuses an unknown format marker', () => {
  const e = entries(good);
  e[0].data = Buffer.from('sealtap analysis bundle v9\n');
  assert.match(refusal(rawArchive(e)), /unsupported bundle format/);
});

test('refuses a bundle whose manifest is signed with a signature for another purpose', () => {
  // A raw Ed25519 signature over the manifest without the domain prefix must not verify.
  const e = entries(good);
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, e[1].data, key.sk);
  e[2].data = Buffer.concat([e[2].data.subarray(0, 72), sig]);
  assert.match(refusal(rawArchive(e)), /the signature by key [0-9a-f]{16} as researcher is invalid: manifest.json was altered/);
});

test('the manifest the refusals start from is canonical', () => {
  const m = parseManifest(entries(good)[1].data);
  assert.equal(encodeManifest(m), entries(good)[1].data);
});

test.run();
