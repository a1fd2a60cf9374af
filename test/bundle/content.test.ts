// The box's own validators on the workstation: build, sign, verify and flash refuse a
// bundle whose policy, run.json, stream declarations or module the box would refuse at
// boot — exit 2, the box's message, nothing written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { validatePolicy } from '../../firmware/anonymize/policy';
import { validateConfig } from '../../firmware/supervisor/config';
import { parseStreams } from '../../firmware/analysis/streams/schema';
import { blake2b256Hex } from '../../firmware/bundle/hash';
import { FirmwareFiles, makeUncheckedBundle, newKey, runSealtap, tempDir, writeFirmwareDir, writeTemp } from '../lib/bundle-fixtures';

function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the validator to refuse');
}

const keepSrc = '{"extends": "default", "fields": {"ip4.src": "keep"}}';
const typoRun = '{"outputs": ["flows"], "outptus": []}';
const badStream = { ports: { fields: { port: { type: 'portnumber' } } } };
const badStreamRun = JSON.stringify({ outputs: [], analysis: { module: 'module.js', streams: badStream } });
const brokenModule = "'use strict';\nmodule.exports = (ctx) => ({ name: 'x' ;\n";

interface Case { what: string; files: FirmwareFiles; message: RegExp | string }

const wiring = { source: { interface: 'eth0' }, spool: { dir: '/s', bytes: 33554432 }, channel: { path: '/dev/ttyS1' } };
const cases: Case[] = [
  { what: 'a policy that keeps ip4.src', files: { policy: keepSrc }, message: `policy.json is refused: ${thrown(() => validatePolicy(JSON.parse(keepSrc)))}` },
  { what: 'an unknown run.json key', files: { run: typoRun }, message: `run.json is refused: ${thrown(() => validateConfig({ ...JSON.parse(typoRun), ...wiring }, '/'))}` },
  { what: 'a bad stream declaration', files: { run: badStreamRun }, message: `run.json is refused: ${thrown(() => parseStreams(badStream))}` },
  { what: 'a module with a syntax error', files: { module: brokenModule }, message: /module\.js does not compile: SyntaxError: Unexpected token ';' \(line 2\)/ },
];

// The messages must be the validators' own, not a paraphrase.
test('the expected messages are those of the box\'s validators', () => {
  assert.match(cases[0].message as string, /policy\.fields\["ip4\.src"\]: "keep" would publish raw addresses/);
  assert.match(cases[1].message as string, /run\.json\.outptus: unknown key/);
  assert.match(cases[2].message as string, /analysis\.streams\.ports\.fields\.port/);
});

for (const c of cases) {
  test(`build refuses ${c.what}: exit 2, the box's message, no output file`, () => {
    const dir = tempDir('content-build');
    const r = runSealtap(['bundle', 'build', writeFirmwareDir(c.files), '--unsigned', '--board', 'qemu-x86_64', '--version', '1', '--out', path.join(dir, 'b.sfw')]);
    assert.is(r.status, 2, r.err);
    assert.match(r.err, c.message);
    assert.equal(fs.readdirSync(dir), [], 'an output or temporary file was written');
  });
}

const key = newKey();
const pub = writeTemp('content-pub', 'lab.pub', Buffer.concat([Buffer.from('SEALPK1\n', 'latin1'), key.pk]));

for (const c of cases) {
  test(`verify refuses a signed bundle with ${c.what}: exit 2, the box's message`, () => {
    const file = writeTemp('content-verify', 'b.sfw', makeUncheckedBundle(key.sk, c.files));
    const r = runSealtap(['bundle', 'verify', file, '--pub', pub, '--board', 'qemu-x86_64']);
    assert.is(r.status, 2, r.err);
    assert.match(r.err, 'is INVALID: ');
    assert.match(r.err, c.message);
    assert.is(r.out, '');
  });
}

function mediumWithGoodBundle(): string {
  const dir = tempDir('content-flash');
  const img = path.join(dir, 'medium.img');
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  const good = writeTemp('content-good', 'good.sfw', makeUncheckedBundle(key.sk, {}));
  const f = runSealtap(['bundle', 'flash', good, '--device', img, '--pub', pub, '--board', 'qemu-x86_64']);
  assert.is(f.status, 0, f.err);
  return img;
}

for (const c of cases) {
  test(`flash refuses a signed bundle with ${c.what} and leaves the medium unchanged`, () => {
    const img = mediumWithGoodBundle();
    const before = blake2b256Hex(fs.readFileSync(img));
    const file = writeTemp('content-flash', 'b.sfw', makeUncheckedBundle(key.sk, { ...c.files, version: '2.0.0' }));
    const r = runSealtap(['bundle', 'flash', file, '--device', img, '--pub', pub, '--board', 'qemu-x86_64']);
    assert.is(r.status, 2, r.err);
    assert.match(r.err, c.message);
    assert.is(blake2b256Hex(fs.readFileSync(img)), before, 'the medium was written');
    assert.equal(fs.readdirSync(path.dirname(img)), ['medium.img']);
  });
}

test('sign refuses to sign a bundle with content the box would refuse', () => {
  const dir = tempDir('content-sign');
  const unsigned = makeUncheckedBundle(key.sk, { policy: keepSrc });
  const file = writeTemp('content-sign-in', 'b.sfw', unsigned);
  const keyFile = path.join(dir, 'lab.key');
  assert.is(runSealtap(['bundle', 'keygen', '--out', path.join(dir, 'lab')]).status, 0);
  const r = runSealtap(['bundle', 'sign', file, '--key', keyFile, '--out', path.join(dir, 'signed.sfw')]);
  assert.is(r.status, 2, r.err);
  assert.match(r.err, cases[0].message);
  assert.not.ok(fs.existsSync(path.join(dir, 'signed.sfw')));
});

test('a bundle with stop.endOfSource is refused: the box always captures from a live interface', () => {
  const dir = tempDir('content-build');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ run: '{"stop": {"endOfSource": true}}' }), '--unsigned', '--board', 'qemu-x86_64', '--version', '1', '--out', path.join(dir, 'b.sfw')]);
  assert.is(r.status, 2, r.err);
  assert.match(r.err, /run\.json is refused: stop\.endOfSource: a live interface has no end/);
});

test.run();
