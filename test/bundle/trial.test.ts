// The module trial: build, sign, verify and flash run a bundle's module in its real
// sandbox on a generated trace, and refuse one the box's log reports as failing, with
// the box's line, before anything is written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { runSealtap, tempDir, writeFirmwareDir } from '../lib/bundle-fixtures';

const keys = tempDir('trial-keys');
const lab = path.join(keys, 'lab');
assert.is(runSealtap(['bundle', 'keygen', '--out', lab]).status, 0);

const run = JSON.stringify({
  source: { interface: 'eth1' }, outputs: [],
  analysis: { module: 'module.js', streams: { n: { fields: { packets: { type: 'count' } }, maxPerSecond: 10 } } },
});
const sdk = "'use strict';\nconst { defineModule } = require('sealtap/sdk');\n";
const modules = {
  good: `${sdk}module.exports = defineModule(() => { let n = 0; return { name: 'good', onPacket() { n++; }, onEnd(ts, emit) { emit.record('n', { packets: n }); } }; });\n`,
  // Compiles, so the syntax check passes; the sandbox refuses the require when it loads.
  requiresFs: `${sdk}const fs = require('fs');\nmodule.exports = defineModule(() => ({ name: 'fs', onPacket() { fs.readFileSync('/etc/passwd'); } }));\n`,
  throwsAtStart: `${sdk}module.exports = defineModule(() => { throw new Error('never starts'); });\n`,
  throwsOnPackets: `${sdk}module.exports = defineModule(() => ({ name: 'bad', onPacket(view) { if (view.ipProto === 17) throw new Error('no UDP please'); } }));\n`,
};

function build(module: string, extra: string[] = []): ReturnType<typeof runSealtap> & { file: string } {
  const file = path.join(tempDir('trial-build'), 'b.sfw');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ module, run }), '--key', `${lab}.key`, '--board', 'qemu-x86_64', '--version', '1.0.0', '--out', file, ...extra]);
  return Object.assign(r, { file });
}

test('a module that runs cleanly in its sandbox builds', () => {
  const r = build(modules.good);
  assert.is(r.status, 0, r.err);
  assert.ok(fs.existsSync(r.file));
});

const failing: Array<[string, string, RegExp]> = [
  ['requires a module the sandbox refuses', modules.requiresFs, /module\.js fails in its sandbox on a 300-packet generated trace: analysis could not load or start its analysis modules \(check run\.json analysis\.module\)$/m],
  ['throws when it starts', modules.throwsAtStart, /module\.js fails in its sandbox on a 300-packet generated trace: analysis could not load or start its analysis modules/],
  ['throws on some packets', modules.throwsOnPackets, /module\.js fails in its sandbox on a 300-packet generated trace: analysis/],
];
for (const [what, module, message] of failing) {
  test(`build refuses a module that ${what}: exit 2, the box's line, no file`, () => {
    const r = build(module);
    assert.is(r.status, 2, r.err);
    assert.match(r.err, message);
    assert.not.ok(fs.existsSync(r.file), 'a bundle was written');
    assert.equal(fs.readdirSync(path.dirname(r.file)), []);
  });
}

test('--no-trial builds without the trial and says so; verify, sign and flash then refuse it', () => {
  const b = build(modules.throwsAtStart, ['--no-trial']);
  assert.is(b.status, 0, b.err);
  assert.match(b.err, /module trial skipped \(--no-trial\): the module was not run in its sandbox/);
  const v = runSealtap(['bundle', 'verify', b.file, '--pub', `${lab}.pub`]);
  assert.is(v.status, 2, v.err);
  assert.match(v.err, /INVALID: module\.js fails in its sandbox/);
  const s = runSealtap(['bundle', 'sign', b.file, '--key', `${lab}.key`, '--role', 'privacy-officer', '--out', path.join(path.dirname(b.file), 'signed.sfw')]);
  assert.is(s.status, 2, s.err);
  assert.not.ok(fs.existsSync(path.join(path.dirname(b.file), 'signed.sfw')));
  const img = path.join(tempDir('trial-medium'), 'medium.img');
  assert.is(runSealtap(['bundle', 'medium', 'init', '--device', img]).status, 0);
  const before = fs.readFileSync(img);
  const f = runSealtap(['bundle', 'flash', b.file, '--device', img]);
  assert.is(f.status, 2, f.err);
  assert.match(f.err, /module\.js fails in its sandbox/);
  assert.ok(fs.readFileSync(img).equals(before), 'the medium was written');
});

test('a host that cannot build the sandbox cannot run the trial: exit 1 saying so, and how to skip it', () => {
  // A TMPDIR the jail's uid cannot pass through stands in for a host without the sandbox.
  const closed = tempDir('trial-closed');
  fs.chmodSync(closed, 0o700);
  const file = path.join(tempDir('trial-build'), 'b.sfw');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir({ module: modules.good, run }), '--key', `${lab}.key`, '--board', 'qemu-x86_64', '--version', '1.0.0', '--out', file], { TMPDIR: closed });
  assert.is(r.status, 1, r.err);
  assert.match(r.err, /cannot try module\.js in its sandbox on this host: .*pass --no-trial to skip the trial/);
  assert.not.ok(fs.existsSync(file));
  assert.equal(fs.readdirSync(closed), [], 'the trial left files behind');
});

test('records refused by the stream limits are not a failure: limits are there to refuse', () => {
  const chatty = `${sdk}module.exports = defineModule(() => ({ name: 'chatty', onPacket(v, b, ts, emit) { emit.record('n', { packets: 1 }); emit.record('undeclared', { x: 1 }); } }));\n`;
  const r = build(chatty);
  assert.is(r.status, 0, r.err);
});

test('a bundle without a module has nothing to try', () => {
  const file = path.join(tempDir('trial-build'), 'b.sfw');
  const r = runSealtap(['bundle', 'build', writeFirmwareDir(), '--key', `${lab}.key`, '--board', 'qemu-x86_64', '--version', '1.0.0', '--out', file]);
  assert.is(r.status, 0, r.err);
  assert.not.match(r.err, /trial/);
});

test.run();
