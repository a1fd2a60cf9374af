// sealtap run --bundle / --medium on a development host: the researcher runs the bundle
// they will flash as the box will run it (the box's checks, its merge with --config's
// source, spool and channel, its sandbox), through the real CLI, on a real pcap, with
// the results line read back by the real receiver. Each run gets a TMPDIR of its own,
// so the sealtap-firmware-* directories counted there are that run's alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeArchive } from '../../firmware/bundle/format';
import { blake2b256Hex } from '../../firmware/bundle/hash';
import { flashBundle } from '../../firmware/bundle/flash';
import { initMedium } from '../../firmware/bundle/medium';
import { readPublicKeyFile, readSecretKeyFile } from '../../firmware/bundle/signing-keys';
import { readLines, receive, sampleTrace } from '../lib/run-box';
import { flashUnchecked, makeBundle, makeUncheckedBundle, newKey, runSealtap, tempDir, TestKey } from '../lib/bundle-fixtures';

const work = tempDir('runbundle');
// The module's sandbox runs as an unprivileged uid: it must be able to pass through
// every directory above the unpacked module (os.tmpdir() of the run is under work).
fs.chmodSync(work, 0o711);
const sample = sampleTrace(work, ['--packets', '400']);

// The researcher's key pair, made by the real CLI; only its public half is trusted.
const trusted = path.join(work, 'trusted');
fs.mkdirSync(trusted);
const keygen = runSealtap(['bundle', 'keygen', '--out', path.join(trusted, 'lab')]);
if (keygen.status !== 0) throw new Error(`sealtap bundle keygen failed: ${keygen.stderr}`);
const labKey = path.join(work, 'lab.key');
fs.renameSync(path.join(trusted, 'lab.key'), labKey);
const lab: TestKey = { pk: readPublicKeyFile(path.join(trusted, 'lab.pub')), sk: readSecretKeyFile(labKey) };

const goodBundle = path.join(work, 'good.sfw');
fs.writeFileSync(goodBundle, makeBundle({ key: lab }));

interface Workstation {
  dir: string;
  /** --config: a pcap source, a spool and a recorded results line. */
  config: string;
  spool: string;
  line: string;
  /** The run's TMPDIR. */
  tmp: string;
}

function workstation(): Workstation {
  const dir = fs.mkdtempSync(path.join(work, 'ws-'));
  fs.chmodSync(dir, 0o711);
  const spool = path.join(dir, 'spool');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(spool);
  fs.mkdirSync(tmp);
  fs.chmodSync(tmp, 0o711);
  const line = path.join(dir, 'line.raw');
  const config = path.join(dir, 'run.json');
  fs.writeFileSync(config, JSON.stringify({ source: { pcap: sample.file }, spool: { dir: 'spool', bytes: 8 * 1048576 }, channel: { path: line }, outputs: ['flows'] }));
  return { dir, config, spool, line, tmp };
}

function run(ws: Workstation, args: string[]) {
  return runSealtap(['run', '--config', ws.config, ...args], { TMPDIR: ws.tmp });
}

function firmwareDirs(ws: Workstation): string[] {
  return fs.readdirSync(ws.tmp).filter((n) => n.startsWith('sealtap-firmware-'));
}

/** BLAKE2b-256 of the signed manifest entry, the bundle hash BOOT carries. */
function manifestHash(sfw: string): string {
  return blake2b256Hex(decodeArchive(fs.readFileSync(sfw))[1].data);
}

/** The bundle with its manifest changed after signing (same length, so still well framed). */
function alterManifest(bundle: Buffer, from: string, to: string): Buffer {
  const at = bundle.indexOf(from);
  if (at < 0 || from.length !== to.length) throw new Error(`cannot alter ${from}`);
  const out = Buffer.from(bundle);
  out.write(to, at, 'latin1');
  return out;
}

test('--bundle runs the bundle end to end, and BOOT names its firmware name, version and hash', () => {
  const ws = workstation();
  const sfw = path.join(ws.dir, 'port-histogram.sfw');
  const built = runSealtap(['bundle', 'build', 'examples/port-histogram', '--key', labKey, '--board', 'qemu-x86_64', '--version', '1.2.3', '--out', sfw]);
  assert.is(built.status, 0, built.stderr);
  const r = run(ws, ['--bundle', sfw, '--as-board', 'qemu-x86_64', '--trusted', trusted]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /analysis firmware port-histogram 1\.2\.3 \(security version 1\) from .*port-histogram\.sfw, manifest [0-9a-f]{16}, approved by researcher [0-9a-f]{16}, privacy statement [0-9a-f]{16}/);
  const got = receive(ws.line);
  assert.is(got.summary.firmware.name, 'port-histogram');
  assert.is(got.summary.firmware.version, '1.2.3');
  assert.is(got.summary.firmware.hash, manifestHash(sfw));
  // Source from --config (the bundle's run.json says eth1), analysis from the bundle:
  // its module ran in its sandbox and sent its stream; no built-in output was asked for.
  assert.is(got.summary.captured, sample.expect.packets);
  assert.ok(readLines(path.join(got.outDir, 'ports.jsonl')).length > 0, 'the module sent nothing');
  assert.is(got.summary.outputs.flows, 0, 'a flow record, though the bundle asks for none');
  assert.equal(firmwareDirs(ws), [], 'the unpacked bundle was left behind');
});

test('a bundle signed by a key not in --trusted is refused: exit 1, the reason, no temporary directory left', () => {
  const ws = workstation();
  const foreign = path.join(ws.dir, 'foreign.sfw');
  fs.writeFileSync(foreign, makeBundle({ key: newKey() }));
  const before = firmwareDirs(ws).length;
  const r = run(ws, ['--bundle', foreign, '--as-board', 'qemu-x86_64', '--trusted', trusted]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /fatal: analysis firmware refused in .*foreign\.sfw: the bundle is not approved: .*by a key not in the trust configuration/);
  assert.is(firmwareDirs(ws).length, before, 'a temporary directory was left behind');
  assert.not.ok(fs.existsSync(ws.line), 'the line was opened');
  assert.equal(fs.readdirSync(ws.spool), []);
});

const refusedActiveSlots = [
  {
    what: 'for its content',
    bundle: () => makeUncheckedBundle(lab.sk, { policy: '{"extends": "default", "fields": {"ip4.src": "keep"}}', version: '3.0.0' }),
    reason: /policy\.json is refused: policy\.fields\["ip4\.src"\]: "keep" would publish raw addresses/,
  },
  {
    what: 'for a bad signature',
    bundle: () => alterManifest(makeBundle({ key: lab, version: '3.0.0' }), '"version":"3.0.0"', '"version":"6.6.6"'),
    reason: /the signature by key [0-9a-f]{16} as researcher is over another manifest .*or this manifest was altered after signing/,
  },
];

for (const c of refusedActiveSlots) {
  test(`--medium: an active slot A refused ${c.what} falls back to slot B, and says so`, () => {
    const ws = workstation();
    const medium = path.join(ws.dir, 'medium.img');
    initMedium(medium);
    flashBundle({ device: medium, bundle: makeBundle({ key: lab, version: '1.0.0' }) }); // slot A
    flashBundle({ device: medium, bundle: makeBundle({ key: lab, version: '2.0.0' }) }); // slot B, active
    flashUnchecked(medium, c.bundle()); // slot A, active again
    const r = run(ws, ['--medium', medium, '--as-board', 'qemu-x86_64', '--trusted', trusted]);
    assert.is(r.status, 0, r.stderr);
    const note = /active slot refused \(slot A \(active\): (.*)\); falling back to slot B/.exec(r.stderr);
    assert.ok(note, r.stderr);
    assert.match(note![1], c.reason);
    assert.match(r.stderr, /analysis firmware test 2\.0\.0 \(security version 1\) from slot B/);
    assert.is(receive(ws.line).summary.firmware.version, '2.0.0');
    assert.equal(firmwareDirs(ws), []);
  });
}

test('--bundle together with --medium is a usage error: exit 2, nothing read', () => {
  const ws = workstation();
  const r = run(ws, ['--bundle', goodBundle, '--medium', path.join(ws.dir, 'medium.img'), '--trusted', trusted]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--bundle and --medium exclude each other/);
  assert.equal(firmwareDirs(ws), []);
  assert.not.ok(fs.existsSync(ws.line), 'the line was opened');
});

test('--bundle or --medium on a board with a bundleDevice is refused: exit 2, the box reads only its own medium', () => {
  const ws = workstation();
  const medium = path.join(ws.dir, 'medium.img');
  initMedium(medium);
  for (const given of [['--bundle', goodBundle], ['--medium', medium]]) {
    const r = run(ws, [...given, '--board', 'qemu-x86_64', '--trusted', trusted]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${given[0]} is for a development host; board qemu-x86_64 is an appliance and runs only the bundle on its own medium /dev/vdb`));
    assert.equal(firmwareDirs(ws), []);
    assert.not.ok(fs.existsSync(ws.line), 'the line was opened');
  }
});

test('without --as-board the bundle is checked for --board\'s name (dev), and the run says how to check it for the box\'s board', () => {
  const ws = workstation();
  const r = run(ws, ['--bundle', goodBundle, '--trusted', trusted]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /verifying the analysis firmware in .*good\.sfw for board dev \(--as-board NAME checks it for your box's board\)/);
  assert.match(r.stderr, /fatal: analysis firmware refused in .*good\.sfw: the bundle is made for board qemu-x86_64, not for this board \(dev\)/);
  assert.equal(firmwareDirs(ws), []);
});

test('a missing --bundle, --medium or --trusted path is named with the fix: exit 1', () => {
  const ws = workstation();
  const missing = path.join(ws.dir, 'missing');
  const cases: Array<[string[], RegExp]> = [
    [['--bundle', `${missing}.sfw`, '--trusted', trusted], /fatal: --bundle .*missing\.sfw: no such file; give a bundle built with `sealtap bundle build/],
    [['--medium', `${missing}.img`, '--trusted', trusted], /fatal: --medium .*missing\.img: no such file; make one with `sealtap bundle medium init --device .*missing\.img`/],
    [['--bundle', goodBundle, '--trusted', missing], /fatal: --trusted .*missing: no such directory; give --trusted DIR holding the public key/],
  ];
  for (const [args, message] of cases) {
    const r = run(ws, args);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.equal(firmwareDirs(ws), []);
});

test.run();
