// The box refuses a signed bundle for its content (policy, run.json, stream declarations,
// module syntax) inside the slot selection, so it falls back to the bundle in the other
// slot exactly as for a bad signature, and says why. bootFromBundle in-process, on a
// medium image; the full boot through the CLI is in firmware-bundle.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootFromBundle } from '../../firmware/supervisor/firmware-bundle';
import { BundleRefused } from '../../firmware/supervisor/bundle-source';
import { flashBundle } from '../../firmware/bundle/flash';
import { initMedium } from '../../firmware/bundle/medium';
import type { Board } from '../../firmware/supervisor/board';
import { FirmwareFiles, flashUnchecked, makeBundle, makeUncheckedBundle, newKey, tempDir } from '../lib/bundle-fixtures';

const key = newKey();
const trusted = tempDir('fwc-trusted');
fs.writeFileSync(path.join(trusted, 'lab.pub'), Buffer.concat([Buffer.from('SEALPK1\n', 'latin1'), key.pk]));

function box(): { board: Board; wiring: string; work: string } {
  const dir = tempDir('fwc-box');
  const medium = path.join(dir, 'medium.img');
  initMedium(medium);
  const wiring = path.join(dir, 'run.json');
  fs.writeFileSync(wiring, JSON.stringify({ source: { interface: 'eth0' }, spool: { dir: 'spool', bytes: 8 * 1048576 }, channel: { path: 'line.raw' } }));
  const board: Board = { name: 'qemu-x86_64', leds: { status: null, fault: null }, captureInterface: null, resultsTty: null, consoleTty: null, spoolDevice: null, bundleDevice: medium, atExit: 'exit' };
  return { board, wiring, work: path.join(dir, 'firmware') };
}

const cases: Array<{ what: string; files: FirmwareFiles; reason: RegExp }> = [
  { what: 'a policy that keeps ip4.src', files: { policy: '{"extends": "default", "fields": {"ip4.src": "keep"}}' }, reason: /policy\.json is refused: policy\.fields\["ip4\.src"\]: "keep" would publish raw addresses/ },
  { what: 'an unknown run.json key', files: { run: '{"outputs": ["flows"], "outptus": []}' }, reason: /run\.json is refused: run\.json\.outptus: unknown key/ },
  { what: 'a bad stream declaration', files: { run: '{"outputs": [], "analysis": {"module": "module.js", "streams": {"ports": {"fields": {"port": {"type": "portnumber"}}}}}}' }, reason: /run\.json is refused: analysis\.streams\.ports\.fields\.port\.type: must be one of/ },
  { what: 'a module with a syntax error', files: { module: "module.exports = (ctx) => ({ name: 'x' ;\n" }, reason: /module\.js does not compile: SyntaxError: Unexpected token ';' \(line 1\)/ },
];

for (const c of cases) {
  test(`falls back from ${c.what} in the active slot to the good bundle in the other slot`, () => {
    const b = box();
    flashBundle({ device: b.board.bundleDevice!, bundle: makeBundle({ key, version: '1.0.0' }) });
    flashUnchecked(b.board.bundleDevice!, makeUncheckedBundle(key.sk, { ...c.files, version: '2.0.0' }));
    const boot = bootFromBundle({ medium: b.board.bundleDevice! }, b.board.name, b.wiring, b.work, trusted);
    assert.is(boot.firmware.version, '1.0.0');
    const note = boot.notes.find((n) => n.startsWith('active slot refused'));
    assert.ok(note, boot.notes.join('\n'));
    assert.match(note!, /^active slot refused \(slot B \(active\): /);
    assert.match(note!, c.reason);
    assert.match(note!, /; falling back to slot A$/);
    assert.is(boot.config.source.kind, 'interface', 'the image\'s wiring was not used');
  });
}

test('refuses to boot when the bundles in both slots are refused for their content, with each slot\'s reason', () => {
  const b = box();
  flashUnchecked(b.board.bundleDevice!, makeUncheckedBundle(key.sk, cases[0].files));
  flashUnchecked(b.board.bundleDevice!, makeUncheckedBundle(key.sk, cases[3].files));
  assert.throws(() => bootFromBundle({ medium: b.board.bundleDevice! }, b.board.name, b.wiring, b.work, trusted), (e: Error) => e instanceof BundleRefused
    && /slot B \(active\): module\.js does not compile/.test(e.message) && /slot A: policy\.json is refused/.test(e.message));
  assert.not.ok(fs.existsSync(b.work), 'a refused bundle was unpacked');
});

test('the bundle\'s run.json is checked with the image\'s wiring: stop.endOfSource on a live interface falls back', () => {
  const b = box();
  flashBundle({ device: b.board.bundleDevice!, bundle: makeBundle({ key, version: '1.0.0' }) });
  flashUnchecked(b.board.bundleDevice!, makeUncheckedBundle(key.sk, { run: '{"stop": {"endOfSource": true}}', version: '2.0.0' }));
  const boot = bootFromBundle({ medium: b.board.bundleDevice! }, b.board.name, b.wiring, b.work, trusted);
  assert.is(boot.firmware.version, '1.0.0');
  assert.match(boot.notes.join('\n'), /slot B \(active\): run\.json is refused: stop\.endOfSource: a live interface has no end/);
});

test.run();
