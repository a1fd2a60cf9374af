// The privacy statement: printed from the bundle alone by `bundle inspect --privacy`,
// its hash in the manifest (so every signature approves it), and a bundle whose
// statement is not the signed one refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { canonicalJson } from '../../firmware/bundle/canonical-json';
import { blake2b256Hex } from '../../firmware/bundle/hash';
import { encodeManifest, makeManifest } from '../../firmware/bundle/manifest';
import { assembleBundle } from '../../firmware/bundle/build';
import { signManifest } from '../../firmware/bundle/signing-keys';
import { newKey, runSealtap, tempDir, writeFirmwareDir, writeTemp } from '../lib/bundle-fixtures';

const keys = tempDir('privacy-keys');
const lab = path.join(keys, 'lab');
assert.is(runSealtap(['bundle', 'keygen', '--out', lab]).status, 0);

const moduleJs = "const { defineModule } = require('sealtap/sdk');\nmodule.exports = defineModule(() => ({ name: 'rtt', onPacket() {} }));\n";
const streams = {
  rtt: {
    fields: {
      client: { type: 'address' },
      server: { type: 'address' },
      rttUs: { type: 'duration', max: 10_000_000 },
      bytes: { type: 'count', max: 1_000_000, round: 1000 },
      qname: { type: 'name', maxLabels: 3, suffixes: ['com', 'net'] },
      kind: { type: 'enum', values: ['syn', 'synack'] },
    },
    maxPerSecond: 100,
    minCount: { field: 'bytes', k: 5 },
  },
};
const run = JSON.stringify({ source: { interface: 'eth1' }, outputs: ['flows'], analysis: { module: 'module.js', streams } });
const truncating = JSON.stringify({ extends: 'default', description: 'handshake RTT study', fields: { 'ip4.src': { action: 'truncate', prefixLen: 24 }, 'ip6.src': { action: 'truncate', prefixLen: 48 } } });

function build(policy = truncating, runJson = run): string {
  const out = path.join(tempDir('privacy-build'), 'rtt.sfw');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ module: moduleJs, policy, run: runJson }), '--key', `${lab}.key`, '--board', 'qemu-x86_64', '--version', '1.0.0', '--out', out]);
  assert.is(r.status, 0, r.err);
  return out;
}

const file = build();

test('inspect --privacy prints every stream, field, type, unit, transform, limit, k and capacity bound', () => {
  const r = runSealtap(['bundle', 'inspect', file, '--privacy']);
  assert.is(r.status, 0, r.err);
  const t = r.out;
  assert.match(t, /^bundle \S+ 1\.0\.0 \(manifest [0-9a-f]{64}\)\nprivacy statement [0-9a-f]{64}\n/);
  assert.match(t, /module: \d+ bytes, BLAKE2b-256 [0-9a-f]{64}/);
  assert.match(t, /built-in outputs: flows \(policy: handshake RTT study\)/);
  assert.match(t, /  ip4\.src +truncate \/24\n/);
  assert.match(t, /  rtt: at most 100 records a second of packet time; records with bytes below 5 suppressed\n/);
  // 2 addresses (129 each) + duration log2(1e7+1) + count log2(1001) + name 3*60+… + enum 1
  assert.match(t, /    residual capacity: at most \d+ bits a record, \d+\.\d kbit\/s\n/);
  assert.match(t, /    client: address \(address; 129 bits\): IPv4: Crypto-PAn \(keyed, prefix-preserving\), then cut to \/24; IPv6: Crypto-PAn \(keyed, prefix-preserving\), then cut to \/48\n/);
  assert.match(t, /    rttUs: duration \(microseconds; 24 bits\): rounded down to 1000 us, 0 to 10000000\n/);
  assert.match(t, /    bytes: count \(count; 10 bits\): rounded down to a multiple of 1000, 0 to 1000000\n/);
  assert.match(t, /    qname: name \(DNS name; \d+ bits\): last 3 labels, each keyed-hashed; up to 1 final labels stay readable when they are one of com, net\n/);
  assert.match(t, /    kind: enum \(word; 1 bits\): one of syn, synack\n/);
});

test('inspect --privacy --json gives the same statement as data; its hash is the manifest\'s', () => {
  const r = runSealtap(['bundle', 'inspect', file, '--privacy', '--json']);
  assert.is(r.status, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.hash, blake2b256Hex(Buffer.from(canonicalJson(j.statement), 'utf8')));
  assert.equal(Object.keys(j.statement.streams), ['rtt']);
  assert.is(j.statement.streams.rtt.fields.bytes.transform, 'rounded down to a multiple of 1000, 0 to 1000000');
  assert.is(j.statement.streams.rtt.maxPerSecond, 100);
  const { bitsPerRecord, bitsPerSecond } = j.statement.streams.rtt;
  assert.ok(bitsPerSecond <= bitsPerRecord * 100 && bitsPerSecond > (bitsPerRecord - 1) * 100, 'bits a second is bits a record times the rate limit');
  const manifestPrivacy = /privacy +([0-9a-f]{64})/.exec(runSealtap(['bundle', 'inspect', file]).out)?.[1];
  assert.is(manifestPrivacy, j.hash);
  assert.match(runSealtap(['bundle', 'verify', file, '--pub', `${lab}.pub`]).out, new RegExp(`privacy statement ${j.hash}`));
});

test('a policy that keeps more changes the statement, so an approval does not carry over', () => {
  const stricter = JSON.parse(runSealtap(['bundle', 'inspect', file, '--privacy', '--json']).out).hash;
  const looser = JSON.parse(runSealtap(['bundle', 'inspect', build('{"extends": "default"}'), '--privacy', '--json']).out).hash;
  assert.is.not(looser, stricter);
});

test('a bundle whose manifest names another privacy statement is refused with exit 2', () => {
  const key = newKey();
  const dir = writeFirmwareDir({ module: moduleJs, policy: truncating, run });
  const payloads = ['module.js', 'policy.json', 'run.json'].map((n) => fs.readFileSync(path.join(dir, n)));
  // The statement of a looser policy, signed over a bundle that ships the strict one.
  const manifest = makeManifest({ name: 'test', boards: ['qemu-x86_64'], version: '1.0.0', securityVersion: 1, created: new Date('2026-12-01T00:00:00Z'), privacy: 'ab'.repeat(32) }, payloads);
  const bundle = writeTemp('privacy-mismatch', 'b.sfw', assembleBundle(manifest, signManifest(encodeManifest(manifest), key.sk), payloads));
  const pub = writeTemp('privacy-pub', 'k.pub', Buffer.concat([Buffer.from('SEALPK1\n', 'latin1'), key.pk]));
  const v = runSealtap(['bundle', 'verify', bundle, '--pub', pub]);
  assert.is(v.status, 2, v.err);
  assert.match(v.err, /the privacy statement this firmware derives from the bundle \([0-9a-f]{16}\) is not the one in its manifest \(abababababababab\), which is what was approved/);
  const i = runSealtap(['bundle', 'inspect', bundle, '--privacy']);
  assert.is(i.status, 2);
  assert.is(i.out, '');
});

test('inspect: --json needs --privacy; --privacy takes no keys', () => {
  const a = runSealtap(['bundle', 'inspect', file, '--json']);
  assert.is(a.status, 2);
  assert.match(a.err, /--json goes with --privacy/);
  const b = runSealtap(['bundle', 'inspect', file, '--privacy', '--pub', `${lab}.pub`]);
  assert.is(b.status, 2);
  assert.match(b.err, /--privacy prints the statement from the bundle alone/);
});

test('a bundle without a module states so, and lists the header fields of its built-in outputs', () => {
  const r = runSealtap(['bundle', 'inspect', build('{"extends": "default"}', '{"source": {"interface": "eth1"}, "outputs": ["flows", "dns"]}'), '--privacy']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out, /module: none \(built-in analysis only\)/);
  assert.match(r.out, /built-in outputs: flows, dns\n/);
  assert.match(r.out, /  ip4\.src +cryptopan\n/);
  assert.match(r.out, /streams declared by the module: none/);
});

test.run();
