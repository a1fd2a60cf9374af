// Two-party approval: a trust configuration naming roles (researcher, privacy officer),
// `bundle sign --role` adding signatures, and verify, flash and the box refusing a
// bundle below the threshold, each refusal with its own message. Through the real CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { decodeArchive, SIGNATURE_RECORD_BYTES } from '../../firmware/bundle/format';
import { selectBundle } from '../../firmware/bundle/boot-select';
import { readTrust } from '../../firmware/bundle/trust';
import { newKey, rawArchive, runSealtap, tempDir, writeFirmwareDir, writeTemp } from '../lib/bundle-fixtures';
import { signBundle } from '../../firmware/bundle/build';

const keys = tempDir('approval-keys');
function keygen(name: string): string {
  const prefix = path.join(keys, name);
  const r = runSealtap(['bundle', 'keygen', '--out', prefix]);
  assert.is(r.status, 0, r.err);
  return prefix;
}
const researcher = keygen('alice');
const officer1 = keygen('dpo-1');
const officer2 = keygen('dpo-2');
const stranger = keygen('mallory');

/** A trust directory like the image's /etc/sealtap/trusted, with these public keys and trust.json. */
function trustDir(trust: unknown, pubs: string[] = [researcher, officer1, officer2]): string {
  const dir = tempDir('approval-trust');
  for (const p of pubs) fs.copyFileSync(`${p}.pub`, path.join(dir, path.basename(`${p}.pub`)));
  if (trust !== undefined) fs.writeFileSync(path.join(dir, 'trust.json'), typeof trust === 'string' ? trust : JSON.stringify(trust));
  return dir;
}

const twoParty = trustDir({ roles: { researcher: { keys: ['alice.pub'] }, 'privacy-officer': { keys: ['dpo-1.pub', 'dpo-2.pub'] } } });
const twoOfficers = trustDir({ roles: { researcher: { keys: ['alice.pub'] }, 'privacy-officer': { keys: ['dpo-1.pub', 'dpo-2.pub'], threshold: 2 } } });

function built(version = '1.0.0', module?: string): string {
  const out = path.join(tempDir('approval-build'), 'fw.sfw');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ module }), '--key', `${researcher}.key`, '--role', 'researcher', '--board', 'qemu-x86_64', '--version', version, '--out', out]);
  assert.is(r.status, 0, r.err);
  return out;
}

function sign(file: string, prefix: string, role: string): string {
  const out = `${file.replace(/\.sfw$/, '')}+${path.basename(prefix)}.sfw`;
  const r = runSealtap(['bundle', 'sign', file, '--key', `${prefix}.key`, '--role', role, '--out', out]);
  assert.is(r.status, 0, r.err);
  return out;
}

function verify(file: string, trust = twoParty): ReturnType<typeof runSealtap> {
  return runSealtap(['bundle', 'verify', file, '--trusted', trust, '--board', 'qemu-x86_64']);
}

/** The bundle with manifest.sig replaced: signature records taken from wherever a test needs. */
function withSignatures(file: string, sig: Buffer): string {
  const e: { name: string; data: Buffer }[] = decodeArchive(fs.readFileSync(file)).map((x) => ({ name: x.name, data: Buffer.from(x.data) }));
  e[2].data = sig;
  const out = path.join(tempDir('approval-crafted'), 'crafted.sfw');
  fs.writeFileSync(out, rawArchive(e));
  return out;
}

function signatures(file: string): Buffer {
  return Buffer.from(decodeArchive(fs.readFileSync(file))[2].data);
}

test('researcher signs, privacy officer countersigns: verify, inspect, flash and the box accept it', () => {
  const approved = sign(built(), officer1, 'privacy-officer');
  const v = verify(approved);
  assert.is(v.status, 0, v.err);
  assert.match(v.out, /approved by researcher [0-9a-f]{16}, privacy-officer [0-9a-f]{16}/);
  const ins = runSealtap(['bundle', 'inspect', approved, '--trusted', twoParty]);
  assert.is(ins.status, 0, ins.out);
  assert.match(ins.out, /approval required \(.*\): researcher: 1 of [0-9a-f]{16}; privacy-officer: 1 of [0-9a-f]{16}, [0-9a-f]{16}/);
  const img = path.join(tempDir('approval-medium'), 'medium.img');
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  const f = runSealtap(['bundle', 'flash', approved, '--device', img, '--trusted', twoParty, '--board', 'qemu-x86_64']);
  assert.is(f.status, 0, f.err);
  const r = selectBundle({ device: img, trust: readTrust(twoParty), board: 'qemu-x86_64' });
  assert.ok(r.ok, r.ok ? '' : r.refusals.join('; '));
  if (r.ok) assert.match(r.identity.approvedBy, /^researcher [0-9a-f]{16}, privacy-officer [0-9a-f]{16}$/);
});

test('refused: a missing role (the researcher alone)', () => {
  const v = verify(built());
  assert.is(v.status, 1);
  assert.match(v.err, /INVALID: the bundle is not approved: role privacy-officer has not approved it \(needs a signature of [0-9a-f]{16}, [0-9a-f]{16}\)/);
  assert.is(v.out, '');
});

test('refused: two signatures by the same key count once', () => {
  const once = sign(built(), officer1, 'privacy-officer');
  assert.is(verify(once, twoOfficers).status, 1);
  // The CLI will not add a second signature by the same key in the same role…
  const again = runSealtap(['bundle', 'sign', once, '--key', `${officer1}.key`, '--role', 'privacy-officer', '--out', path.join(tempDir('approval-again'), 'x.sfw')]);
  assert.is(again.status, 1);
  assert.match(again.err, /key [0-9a-f]{16} has already signed this bundle as privacy-officer: a second signature by one key counts once/);
  // …and a bundle carrying one anyway (its record copied) is still one signature short.
  const sig = signatures(once);
  const dpoRecord = sig.subarray(SIGNATURE_RECORD_BYTES);
  const doubled = withSignatures(once, Buffer.concat([sig, dpoRecord]));
  const v = verify(doubled, twoOfficers);
  assert.is(v.status, 1);
  assert.match(v.err, /role privacy-officer has 1 of the 2 signatures by distinct keys it needs/);
  assert.match(v.err, /set aside: key [0-9a-f]{16} signed as privacy-officer more than once; counted once/);
  // Two officers with their own keys meet the threshold.
  assert.is(verify(sign(once, officer2, 'privacy-officer'), twoOfficers).status, 0);
});

test('refused: a signature by an unknown key does not count', () => {
  const v = verify(sign(built(), stranger, 'privacy-officer'));
  assert.is(v.status, 1);
  assert.match(v.err, /role privacy-officer has not approved it .*set aside: the signature by key [0-9a-f]{16} as privacy-officer is by a key not in the trust configuration/);
});

test('refused: a key signing in a role that is not its own', () => {
  const v = verify(sign(built(), researcher, 'privacy-officer'));
  assert.is(v.status, 1);
  assert.match(v.err, /role privacy-officer has not approved it .*set aside: the signature by key ([0-9a-f]{16}) as privacy-officer: key \1 approves as researcher, not as privacy-officer/);
});

test('refused: a countersignature over an older manifest, moved onto a new build', () => {
  const v1 = sign(built('1.0.0'), officer1, 'privacy-officer');
  assert.is(verify(v1).status, 0);
  const v2 = built('1.0.1', "module.exports = { name: 'test', version: '1.0.1', outputs: ['flows'] };\n");
  const moved = withSignatures(v2, Buffer.concat([signatures(v2), signatures(v1).subarray(SIGNATURE_RECORD_BYTES)]));
  const v = verify(moved);
  assert.is(v.status, 1);
  assert.match(v.err, /role privacy-officer has not approved it .*the signature by key [0-9a-f]{16} as privacy-officer is over another manifest \([0-9a-f]{16}\), not this one \([0-9a-f]{16}\): it approves another build/);
});

test('refused: a signature that names this manifest but does not verify (altered after signing)', () => {
  const approved = sign(built(), officer1, 'privacy-officer');
  const sig = signatures(approved);
  sig[sig.length - 1] ^= 1;
  const v = verify(withSignatures(approved, sig));
  assert.is(v.status, 1);
  assert.match(v.err, /the signature by key [0-9a-f]{16} as privacy-officer is invalid: manifest.json was altered after signing/);
});

test('flash refuses a bundle below the threshold and leaves the medium untouched', () => {
  const img = path.join(tempDir('approval-flash'), 'medium.img');
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  const before = fs.readFileSync(img);
  const f = runSealtap(['bundle', 'flash', built(), '--device', img, '--trusted', twoParty]);
  assert.is(f.status, 1);
  assert.match(f.err, /role privacy-officer has not approved it/);
  assert.ok(fs.readFileSync(img).equals(before), 'the medium was written');
});

test('the box falls back to the approved bundle when the active slot lacks a role', () => {
  const img = path.join(tempDir('approval-box'), 'medium.img');
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  assert.is(runSealtap(['bundle', 'flash', sign(built('1.0.0'), officer2, 'privacy-officer'), '--device', img]).status, 0);
  // Flashed without --trusted (a workstation that does not know the box's roles).
  assert.is(runSealtap(['bundle', 'flash', built('2.0.0'), '--device', img]).status, 0);
  const r = selectBundle({ device: img, trust: readTrust(twoParty), board: 'qemu-x86_64' });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.bundle.manifest.version, '1.0.0');
  assert.ok(r.fellBack);
  assert.match(r.refusals[0], /slot B \(active\): the bundle is not approved: role privacy-officer has not approved it/);
});

test('a single-party trust directory (no trust.json) accepts any one of its keys', () => {
  const single = trustDir(undefined, [researcher]);
  assert.is(verify(built(), single).status, 0);
  const v = verify(sign(built(), stranger, 'researcher'), trustDir(undefined, [officer1]));
  assert.is(v.status, 1);
  assert.match(v.err, /no signature by a trusted key/);
});

const brokenTrust: Array<[string, unknown, RegExp]> = [
  ['a key in two roles', { roles: { researcher: { keys: ['alice.pub'] }, 'privacy-officer': { keys: ['alice.pub'] } } }, /key alice.pub \([0-9a-f]{16}\) is listed twice \(also in role "researcher"\); one key approves for one role only/],
  ['a threshold above the number of keys', { roles: { researcher: { keys: ['alice.pub'], threshold: 2 } } }, /threshold must be a whole number from 1 to 1/],
  ['a key file that is not there', { roles: { researcher: { keys: ['bob.pub'] } } }, /cannot read .*bob\.pub \(ENOENT\)/],
  ['an unknown key', { roles: { researcher: { keys: ['alice.pub'], quorum: 1 } } }, /unknown key "quorum" \(allowed: keys, threshold\)/],
  ['a bad role name', { roles: { Researcher: { keys: ['alice.pub'] } } }, /a role name is 1-32 lowercase letters/],
  ['no roles', { roles: {} }, /roles must name 1 to 8 roles/],
  ['not JSON', '{roles', /trust.json is not valid JSON/],
];
for (const [what, trust, message] of brokenTrust) {
  test(`a trust configuration with ${what} is refused with exit 2`, () => {
    const v = verify(built(), trustDir(trust));
    assert.is(v.status, 2, v.err);
    assert.match(v.err, message);
  });
}

test('bundle trust DIR says who must approve, or why the box would refuse the configuration', () => {
  const ok = runSealtap(['bundle', 'trust', twoOfficers]);
  assert.is(ok.status, 0, ok.err);
  assert.match(ok.out, /a bundle needs researcher: 1 of [0-9a-f]{16}; privacy-officer: 2 of [0-9a-f]{16}, [0-9a-f]{16}\n$/);
  const bad = runSealtap(['bundle', 'trust', trustDir({ roles: { researcher: { keys: ['alice.pub'], threshold: 0 } } })]);
  assert.is(bad.status, 2);
  assert.match(bad.err, /threshold must be a whole number from 1 to 1/);
});

test('a bundle carries at most 8 signatures; a ninth is refused', () => {
  let bytes: Buffer = fs.readFileSync(built());
  for (let i = 1; i < 8; i++) bytes = signBundle(bytes, newKey().sk, 'privacy-officer').bytes;
  assert.is(signatures(writeTemp('approval-eight', 'b.sfw', bytes)).length, 8 * SIGNATURE_RECORD_BYTES);
  assert.throws(() => signBundle(bytes, newKey().sk, 'privacy-officer'), /already holds 8 signatures, the most it can carry/);
});

test('verify takes --trusted or --pub, not both', () => {
  const r = runSealtap(['bundle', 'verify', built(), '--trusted', twoParty, '--pub', `${researcher}.pub`]);
  assert.is(r.status, 2);
  assert.match(r.err, /give --trusted DIR or --pub, not both/);
});

test('sign refuses a role name that is not one', () => {
  const r = runSealtap(['bundle', 'sign', built(), '--key', `${officer1}.key`, '--role', 'Privacy Officer', '--out', path.join(tempDir('approval-role'), 'x.sfw')]);
  assert.is(r.status, 2);
  assert.match(r.err, /--role "Privacy Officer" is not a role name/);
});

test.run();
