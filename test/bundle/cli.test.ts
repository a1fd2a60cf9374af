// `sealtap bundle ...` exactly as researchers type it: the real bin/sealtap, spawned.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { runSealtap, tempDir, writeFirmwareDir } from '../lib/bundle-fixtures';

function keygen(dir: string, name: string): string {
  const prefix = path.join(dir, name);
  const r = runSealtap(['bundle', 'keygen', '--out', prefix]);
  assert.is(r.status, 0, r.err);
  return prefix;
}

// Key pairs made once with the real CLI and shared by tests that do not alter them
// (each node start costs time; keygen itself is tested on its own above).
const shared = new Map<string, string>();
function sharedKey(name: string): string {
  if (!shared.has(name)) shared.set(name, keygen(tempDir('cli-keys'), name));
  return shared.get(name)!;
}

function build(dir: string, prefix: string, out: string, extra: string[] = []): void {
  const r = runSealtap(['bundle', 'build', dir, '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', out, ...extra]);
  assert.is(r.status, 0, r.err);
}

test('keygen writes PREFIX.pub and PREFIX.key with mode 0600 and never prints the key', () => {
  const dir = tempDir('cli');
  const prefix = path.join(dir, 'lab');
  const r = runSealtap(['bundle', 'keygen', '--out', prefix]);
  assert.is(r.status, 0, r.err);
  assert.is(fs.statSync(`${prefix}.key`).mode & 0o777, 0o600);
  assert.is(fs.statSync(`${prefix}.pub`).size, 40);
  const secret = fs.readFileSync(`${prefix}.key`).subarray(8);
  const printed = r.out + r.err;
  for (const form of [secret.toString('hex'), secret.toString('base64'), secret.subarray(0, 32).toString('hex'), secret.subarray(0, 32).toString('base64')]) {
    assert.not.ok(printed.includes(form), 'a form of the secret key was printed');
  }
  assert.match(r.out, /key id [0-9a-f]{16}/);
});

test('keygen refuses to overwrite an existing key', () => {
  const dir = tempDir('cli');
  const prefix = keygen(dir, 'lab');
  const before = fs.readFileSync(`${prefix}.key`);
  const r = runSealtap(['bundle', 'keygen', '--out', prefix]);
  assert.is(r.status, 1);
  assert.match(r.err, /already exists: choose another --out prefix/);
  assert.equal(fs.readFileSync(`${prefix}.key`), before);
});

test('build refuses a signing key readable by others', () => {
  const dir = tempDir('cli');
  const prefix = keygen(dir, 'lab');
  fs.chmodSync(`${prefix}.key`, 0o644);
  const r = runSealtap(['bundle', 'build', writeFirmwareDir(), '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', path.join(dir, 'x.sfw'), '--version', '1.0.0']);
  assert.is(r.status, 1);
  assert.match(r.err, /readable by other users \(mode 644\): run chmod 600/);
});

test('build then verify: exit 0 for the right key and board', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const out = path.join(dir, 'b.sfw');
  build(writeFirmwareDir(), prefix, out, ['--version', '3.2.1', '--security-version', '4']);
  const r = runSealtap(['bundle', 'verify', out, '--pub', `${prefix}.pub`, '--board', 'qemu-x86_64']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out, /valid — .* 3\.2\.1 \(security version 4\) for qemu-x86_64/);
});

test('verify exits 1 for a key it was not signed with', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const other = sharedKey('other');
  const out = path.join(dir, 'b.sfw');
  build(writeFirmwareDir(), prefix, out, ['--version', '1.0.0']);
  const r = runSealtap(['bundle', 'verify', out, '--pub', `${other}.pub`]);
  assert.is(r.status, 1);
  assert.match(r.err, /INVALID: the bundle is not approved: .*the signature by key [0-9a-f]{16} as researcher is by a key not in the trust configuration/);
});

test('verify exits 1 for another board and for a tampered file', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const out = path.join(dir, 'b.sfw');
  build(writeFirmwareDir(), prefix, out, ['--version', '1.0.0']);
  const wrongBoard = runSealtap(['bundle', 'verify', out, '--pub', `${prefix}.pub`, '--board', 'dev']);
  assert.is(wrongBoard.status, 1);
  assert.match(wrongBoard.err, /not for this board \(dev\)/);
  const bytes = fs.readFileSync(out);
  bytes[bytes.length - 5] ^= 1;
  fs.writeFileSync(out, bytes);
  const tampered = runSealtap(['bundle', 'verify', out, '--pub', `${prefix}.pub`]);
  assert.is(tampered.status, 1);
  assert.match(tampered.err, /run\.json does not match its BLAKE2b-256 hash/);
});

test('verify requires --pub', () => {
  const r = runSealtap(['bundle', 'verify', '/nonexistent.sfw']);
  assert.is(r.status, 2);
  assert.match(r.err, /--pub PREFIX\.pub is required/);
});

test('build refuses a board that does not exist, listing the known boards (exit 2, no output file)', () => {
  const dir = tempDir('cli');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir(), '--unsigned', '--board', 'qemu-x86-64', '--version', '1', '--out', path.join(dir, 'b.sfw')]);
  assert.is(r.status, 2);
  assert.match(r.err, /--board qemu-x86-64: no such board \(there is no board\/qemu-x86-64\/board\.json\); known boards: .*qemu-x86_64/);
  assert.match(r.err, /dev, pc-x86_64, qemu-x86_64, qemu-x86_64-usb, rpi4/);
  assert.equal(fs.readdirSync(dir), []);
});

test('build refuses an unknown board named in DIR/bundle.json', () => {
  const dir = tempDir('cli');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ bundleJson: '{"boards": ["rpi5"]}' }), '--unsigned', '--version', '1', '--out', path.join(dir, 'b.sfw')]);
  assert.is(r.status, 2);
  assert.match(r.err, /--board rpi5: no such board .*known boards: /);
});

test('build says plainly that a public key was given as --key, instead of advising chmod', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir(), '--key', `${prefix}.pub`, '--board', 'qemu-x86_64', '--version', '1', '--out', path.join(dir, 'b.sfw')]);
  assert.is(r.status, 1);
  assert.match(r.err, `${prefix}.pub is a public key: --key needs the secret signing key, ${prefix}.key,`);
  assert.not.match(r.err, /chmod/);
  assert.equal(fs.readdirSync(dir), []);
});

test('build takes version and security version from DIR/bundle.json, options override', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const fw = writeFirmwareDir({ bundleJson: '{"name": "flows-x", "version": "5.0.0", "securityVersion": 9}' });
  const out = path.join(dir, 'b.sfw');
  build(fw, prefix, out);
  let r = runSealtap(['bundle', 'inspect', out]);
  assert.match(r.out, /name +flows-x/);
  assert.match(r.out, /version +5\.0\.0/);
  assert.match(r.out, /security version 9/);
  build(fw, prefix, out, ['--version', '5.0.1']);
  r = runSealtap(['bundle', 'inspect', out]);
  assert.match(r.out, /version +5\.0\.1/);
});

test('build takes module, policy and run config as three files, and the box side verifies the result', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const fw = writeFirmwareDir();
  const out = path.join(dir, 'files.sfw');
  const r = runSealtap(['bundle', 'build', '--module', path.join(fw, 'module.js'), '--policy', path.join(fw, 'policy.json'), '--run', path.join(fw, 'run.json'),
    '--name', 'loose-files', '--version', '1.2.3', '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', out]);
  assert.is(r.status, 0, r.err);
  const v = runSealtap(['bundle', 'verify', out, '--pub', `${prefix}.pub`, '--board', 'qemu-x86_64']);
  assert.is(v.status, 0, v.err);
  const shown = runSealtap(['bundle', 'inspect', out]);
  assert.match(shown.out, /loose-files/);
  assert.match(shown.out, /1\.2\.3/);
});

test('build refuses --module without --policy and --run', () => {
  const dir = tempDir('cli');
  const fw = writeFirmwareDir();
  const r = runSealtap(['bundle', 'build', '--module', path.join(fw, 'module.js'), '--name', 'x', '--version', '1', '--unsigned', '--board', 'qemu-x86_64', '--out', path.join(dir, 'b.sfw')]);
  assert.is(r.status, 2);
  assert.match(r.err, /--module, --policy and --run go together/);
});

test('build refuses a directory without run.json', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const fw = writeFirmwareDir();
  fs.unlinkSync(path.join(fw, 'run.json'));
  const r = runSealtap(['bundle', 'build', fw, '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', path.join(dir, 'b.sfw'), '--version', '1']);
  assert.is(r.status, 1);
  assert.match(r.err, /run\.json is missing: an analysis firmware directory holds module\.js, policy\.json, run\.json/);
});

test('build refuses a policy.json that is not JSON', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const fw = writeFirmwareDir({ policy: '{"extends": ' });
  const r = runSealtap(['bundle', 'build', fw, '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', path.join(dir, 'b.sfw'), '--version', '1']);
  assert.is(r.status, 1);
  assert.match(r.err, /policy\.json is not valid JSON/);
});

test('build without --key needs --unsigned; sign makes it valid', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const fw = writeFirmwareDir();
  const unsigned = path.join(dir, 'u.sfw');
  const missing = runSealtap(['bundle', 'build', fw, '--board', 'qemu-x86_64', '--out', unsigned, '--version', '1']);
  assert.is(missing.status, 2);
  assert.match(missing.err, /--key PREFIX\.key is required \(or --unsigned/);
  assert.is(runSealtap(['bundle', 'build', fw, '--board', 'qemu-x86_64', '--out', unsigned, '--version', '1', '--unsigned']).status, 0);
  const before = runSealtap(['bundle', 'verify', unsigned, '--pub', `${prefix}.pub`]);
  assert.is(before.status, 1);
  assert.match(before.err, /the bundle is not signed/);
  const signed = path.join(dir, 's.sfw');
  const s = runSealtap(['bundle', 'sign', unsigned, '--key', `${prefix}.key`, '--out', signed]);
  assert.is(s.status, 0, s.err);
  assert.is(runSealtap(['bundle', 'verify', signed, '--pub', `${prefix}.pub`]).status, 0);
});

test('sign adds a second signature, keeping manifest, payload and the first signature', () => {
  const dir = tempDir('cli');
  const a = sharedKey('lab');
  const b = sharedKey('other');
  const first = path.join(dir, '1.sfw');
  const second = path.join(dir, '2.sfw');
  build(writeFirmwareDir(), a, first, ['--version', '1']);
  assert.is(runSealtap(['bundle', 'sign', first, '--key', `${b}.key`, '--out', second]).status, 0);
  assert.is(runSealtap(['bundle', 'verify', second, '--pub', `${b}.pub`]).status, 0);
  assert.is(runSealtap(['bundle', 'verify', second, '--pub', `${a}.pub`]).status, 0);
  assert.match(runSealtap(['bundle', 'inspect', second]).out, /1\. key [0-9a-f]{16} as researcher, over this manifest\n  2\. key [0-9a-f]{16} as researcher, over this manifest/);
  const manifestHash = (f: string) => /bundle hash +([0-9a-f]{64})/.exec(runSealtap(['bundle', 'inspect', f]).out)?.[1];
  assert.ok(manifestHash(first));
  assert.is(manifestHash(first), manifestHash(second));
});

test('sign refuses a tampered bundle instead of blessing it', () => {
  const dir = tempDir('cli');
  const a = sharedKey('lab');
  const file = path.join(dir, '1.sfw');
  build(writeFirmwareDir(), a, file, ['--version', '1']);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 5] ^= 1;
  fs.writeFileSync(file, bytes);
  const r = runSealtap(['bundle', 'sign', file, '--key', `${a}.key`, '--out', path.join(dir, '2.sfw')]);
  assert.is(r.status, 1);
  assert.match(r.err, /does not match its BLAKE2b-256 hash/);
  assert.not.ok(fs.existsSync(path.join(dir, '2.sfw')));
});

test('inspect prints manifest, payload hashes and signature status', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const out = path.join(dir, 'b.sfw');
  build(writeFirmwareDir(), prefix, out, ['--version', '1.0.0']);
  const r = runSealtap(['bundle', 'inspect', out, '--pub', `${prefix}.pub`]);
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /boards +qemu-x86_64/);
  assert.match(r.out, /module\.js +\d+ bytes +blake2b [0-9a-f]{64} +ok/);
  assert.match(r.out, /1\. key [0-9a-f]{16} as researcher, over this manifest/);
  assert.match(r.out, /approved by researcher [0-9a-f]{16}/);
  const bytes = fs.readFileSync(out);
  bytes[bytes.length - 5] ^= 1;
  fs.writeFileSync(out, bytes);
  const bad = runSealtap(['bundle', 'inspect', out]);
  assert.is(bad.status, 1);
  assert.match(bad.out, /run\.json +\d+ bytes +blake2b [0-9a-f]{64} +HASH MISMATCH/);
});

test('flash and medium status through the CLI', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const out = path.join(dir, 'b.sfw');
  const img = path.join(dir, 'medium.img');
  build(writeFirmwareDir(), prefix, out, ['--version', '1.0.0']);
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  const again = runSealtap(['bundle', 'medium', 'init', '--device', img]);
  assert.is(again.status, 1);
  assert.match(again.err, /pass --force to erase it/);
  const f = runSealtap(['bundle', 'flash', out, '--device', img, '--pub', `${prefix}.pub`, '--board', 'qemu-x86_64']);
  assert.is(f.status, 0, f.err);
  assert.match(f.out, /into slot A .* slot A is now active/);
  const s = runSealtap(['bundle', 'medium', 'status', '--device', img]);
  assert.match(s.out, /active slot: A/);
  assert.match(s.out, /slot A: \d+ bytes, matches the recorded hash; sealtap-fw-\w+ 1\.0\.0/);
  assert.match(s.out, /slot B: empty/);
});

test('flash refuses a medium that was not initialised', () => {
  const dir = tempDir('cli');
  const prefix = sharedKey('lab');
  const out = path.join(dir, 'b.sfw');
  build(writeFirmwareDir(), prefix, out, ['--version', '1.0.0']);
  const img = path.join(dir, 'blank.img');
  fs.writeFileSync(img, Buffer.alloc(1 << 20));
  const r = runSealtap(['bundle', 'flash', out, '--device', img]);
  assert.is(r.status, 1);
  assert.match(r.err, /no valid slot table .*sealtap bundle medium init --device/);
});

test('help: `sealtap bundle --help` and `sealtap bundle <sub> --help`', () => {
  const top = runSealtap(['bundle', '--help']);
  assert.is(top.status, 0);
  assert.match(top.out, /sealtap bundle keygen --out PREFIX/);
  assert.match(top.out, /sealtap bundle flash FILE\.sfw --device DEV-or-IMAGE/);
  const sub = runSealtap(['bundle', 'verify', '--help']);
  assert.is(sub.status, 0);
  assert.match(sub.out, /^usage: sealtap bundle verify FILE\.sfw --trusted DIR/);
});

test('an unknown subcommand or option is a usage error (exit 2)', () => {
  const r = runSealtap(['bundle', 'frobnicate']);
  assert.is(r.status, 2);
  assert.match(r.err, /unknown bundle subcommand "frobnicate"/);
  const o = runSealtap(['bundle', 'inspect', 'x.sfw', '--pbu', 'k.pub']);
  assert.is(o.status, 2);
  assert.match(o.err, /unknown option --pbu/);
});

test.run();
