// The box's boot from its bundle medium, through the real CLI: the verified bundle's
// analysis runs and is announced; a damaged active slot falls back to the other one;
// nothing valid at all is fatal before any key or packet. The medium is a disk image
// file, as `sealtap bundle flash` writes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildBundle } from '../../firmware/bundle/build';
import { flashBundle } from '../../firmware/bundle/flash';
import { closeMedium, initMedium, openMedium, slotOffset } from '../../firmware/bundle/medium';
import { readSecretKeyFile, writeKeyPair, freeSecretKey } from '../../firmware/bundle/signing-keys';
import { blake2b256Hex } from '../../firmware/bundle/hash';
import { encodeManifest } from '../../firmware/bundle/manifest';
import { receive, sampleTrace, sealtap, tempDir } from '../lib/run-box';
import { flashUnchecked, makeUncheckedBundle } from '../lib/bundle-fixtures';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const work = tempDir('fwboot');
const sample = sampleTrace(work, ['--packets', '400']);
const trusted = path.join(work, 'trusted');
fs.mkdirSync(trusted);
const lab = writeKeyPair(path.join(trusted, 'lab'));
// Only the public half belongs in the trusted directory.
const labKey = path.join(work, 'lab.key');
fs.renameSync(lab.keyPath, labKey);

const manifestHash = new Map<string, string>();
const privacyHash = new Map<string, string>();
function bundle(version: string, securityVersion = 1): Buffer {
  const sk = readSecretKeyFile(labKey);
  try {
    const b = buildBundle({ dir: path.join(repoRoot, 'examples', 'port-histogram'), boards: ['qemu-x86_64'], version, securityVersion, secretKey: sk });
    // The identity hash names the signed manifest (which covers every payload hash).
    manifestHash.set(version, blake2b256Hex(encodeManifest(b.manifest)));
    privacyHash.set(version, b.manifest.privacy);
    return b.bytes;
  } finally {
    freeSecretKey(sk);
  }
}

/** A board like qemu-x86_64 whose bundle medium is a file, and the image's wiring. */
function box(medium: string): { dir: string; board: string; wiring: string; line: string } {
  const dir = fs.mkdtempSync(path.join(work, 'box-'));
  fs.mkdirSync(path.join(dir, 'spool'));
  const board = path.join(dir, 'board.json');
  fs.writeFileSync(board, JSON.stringify({ name: 'qemu-x86_64', leds: { status: null, fault: null }, bundleDevice: medium, atExit: 'exit' }));
  const wiring = path.join(dir, 'run.json');
  const line = path.join(dir, 'line.raw');
  fs.writeFileSync(wiring, JSON.stringify({ source: { pcap: sample.file }, spool: { dir: 'spool', bytes: 8 * 1048576 }, channel: { path: line }, outputs: ['flows'] }));
  return { dir, board, wiring, line };
}

function run(b: ReturnType<typeof box>) {
  return spawnSync(sealtap, ['run', '--config', b.wiring, '--board', b.board, '--trusted', trusted], { encoding: 'utf8', timeout: 120_000 });
}

function newMedium(): string {
  const m = path.join(fs.mkdtempSync(path.join(work, 'medium-')), 'medium.img');
  initMedium(m);
  return m;
}

test('runs the analysis of the bundle in the active slot and announces it in BOOT and the summary', () => {
  const medium = newMedium();
  const v2 = bundle('2.0.0');
  flashBundle({ device: medium, bundle: v2 });
  const b = box(medium);
  const r = run(b);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /analysis firmware port-histogram 2\.0\.0 \(security version 1\) from slot A/);
  const s = receive(b.line).summary;
  assert.is(s.firmware.name, 'port-histogram');
  assert.is(s.firmware.version, '2.0.0');
  assert.is(s.firmware.hash, manifestHash.get('2.0.0'));
  // The privacy statement the bundle's signer approved is the one the run announced.
  assert.match(r.stderr, new RegExp(`approved by researcher ${lab.keyId}, privacy statement ${privacyHash.get('2.0.0')!.slice(0, 16)}`));
  assert.is(s.privacy, privacyHash.get('2.0.0'));
  assert.is(s.module.blake2b, blake2b256Hex(fs.readFileSync(path.join(repoRoot, 'examples', 'port-histogram', 'module.js'))));
  const schema = JSON.parse(fs.readFileSync(path.join(path.dirname(b.line), 'out', 'schema.json'), 'utf8'));
  assert.equal(schema.ports.fields.firstUs, { type: 'time', unit: 'microseconds since 1970', transform: 'moved back by the run\'s secret origin, then rounded down to 1000 us', bits: 53 });
  assert.is(schema.ports.maxPerSecond, 2000);
  assert.ok(schema.ports.bitsPerRecord > 0);
  assert.is(s.captured, sample.expect.packets);
  // The bundle's run.json asks for no built-in output: the records are the histogram
  // module's own (its ports stream), and its source/channel (eth1, ttyS1) were not used.
  const ports = fs.readFileSync(path.join(path.dirname(b.line), 'out', 'ports.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(ports.length > 0, 'the module sent nothing');
  assert.is(s.outputs.flows, 0, 'a flow record not made by the port histogram');
});

test('a damaged active slot is refused and reported, and the previous bundle runs', () => {
  const medium = newMedium();
  flashBundle({ device: medium, bundle: bundle('2.0.0') });
  flashBundle({ device: medium, bundle: bundle('3.0.0') });
  const m = openMedium(medium, false);
  const active = m.table.active as 0 | 1;
  const off = slotOffset(m.table, active) + m.table.slots[active].length - 20;
  closeMedium(m);
  const fd = fs.openSync(medium, 'r+');
  fs.writeSync(fd, Buffer.from('tampered'), 0, 8, off);
  fs.closeSync(fd);
  const b = box(medium);
  const r = run(b);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /active slot refused \(slot B \(active\): .+\); falling back to slot A/);
  const s = receive(b.line).summary;
  assert.is(s.firmware.version, '2.0.0');
  assert.is(s.firmware.hash, manifestHash.get('2.0.0'));
});

test('a signed bundle whose policy the box refuses is refused in the active slot, and the previous bundle runs', () => {
  const medium = newMedium();
  flashBundle({ device: medium, bundle: bundle('2.0.0') });
  // Signed with the trusted key and flashed without the workstation's checks.
  const sk = readSecretKeyFile(labKey);
  const keepsSrc = makeUncheckedBundle(sk, { policy: '{"extends": "default", "fields": {"ip4.src": "keep"}}', version: '3.0.0' });
  freeSecretKey(sk);
  flashUnchecked(medium, keepsSrc);
  const b = box(medium);
  const r = run(b);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /active slot refused \(slot B \(active\): policy\.json is refused: policy\.fields\["ip4\.src"\]: "keep" would publish raw addresses.*\); falling back to slot A/);
  const s = receive(b.line).summary;
  assert.is(s.firmware.version, '2.0.0');
  assert.is(s.firmware.hash, manifestHash.get('2.0.0'));
});

test('refuses to start when no slot holds a valid bundle: fatal, exit 1, no key, no packet', () => {
  const medium = newMedium();
  const b = box(medium);
  const r = run(b);
  assert.is(r.status, 1);
  assert.match(r.stderr, /fatal: analysis firmware refused on .*medium\.img: .*holds no bundle yet/);
  assert.not.ok(fs.existsSync(b.line), 'the line was opened');
  assert.equal(fs.readdirSync(path.join(b.dir, 'spool')), []);
});

test('refuses a bundle signed by a key the box does not trust', () => {
  const medium = newMedium();
  const other = writeKeyPair(path.join(work, 'other'));
  const sk = readSecretKeyFile(other.keyPath);
  const foreign = buildBundle({ dir: path.join(repoRoot, 'examples', 'port-histogram'), boards: ['qemu-x86_64'], version: '9.0.0', securityVersion: 1, secretKey: sk }).bytes;
  freeSecretKey(sk);
  flashBundle({ device: medium, bundle: foreign });
  const b = box(medium);
  const r = run(b);
  assert.is(r.status, 1);
  assert.match(r.stderr, /fatal: analysis firmware refused .*by a key not in the trust configuration/);
});

test('refuses a bundle the image\'s trust.json wants a privacy officer to approve too', () => {
  const medium = newMedium();
  flashBundle({ device: medium, bundle: bundle('2.0.0') });
  const twoParty = fs.mkdtempSync(path.join(work, 'two-party-'));
  fs.copyFileSync(lab.pubPath, path.join(twoParty, 'lab.pub'));
  const dpo = writeKeyPair(path.join(twoParty, 'dpo'));
  fs.rmSync(dpo.keyPath);
  fs.writeFileSync(path.join(twoParty, 'trust.json'), JSON.stringify({ roles: { researcher: { keys: ['lab.pub'] }, 'privacy-officer': { keys: ['dpo.pub'] } } }));
  const b = box(medium);
  const r = spawnSync(sealtap, ['run', '--config', b.wiring, '--board', b.board, '--trusted', twoParty], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /fatal: analysis firmware refused .*slot A \(active\): the bundle is not approved: role privacy-officer has not approved it/);
  assert.equal(fs.readdirSync(path.join(b.dir, 'spool')), []);
});

test('refuses to boot with no trusted keys in the image', () => {
  const medium = newMedium();
  flashBundle({ device: medium, bundle: bundle('2.0.0') });
  const b = box(medium);
  const empty = fs.mkdtempSync(path.join(work, 'none-'));
  const r = spawnSync(sealtap, ['run', '--config', b.wiring, '--board', b.board, '--trusted', empty], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /fatal: trust configuration .*: no public keys \(\*\.pub\): add the keys bundles must be signed with; build the image with the approvers' public keys/);
});

test.run();
