// Box side: which slot boots, fallback, anti-rollback, all against a disk image file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { selectBundle, SelectOptions, loadBundleFile } from '../../firmware/bundle/boot-select';
import { flashBundle } from '../../firmware/bundle/flash';
import { BundleError } from '../../firmware/bundle/format';
import { closeMedium, initMedium, openMedium, slotOffset } from '../../firmware/bundle/medium';
import { makeBundle, newKey, tempDir, writeTemp } from '../lib/bundle-fixtures';
import { trustAnyOf } from '../../firmware/bundle/trust';

const key = newKey();
const BOARD = 'qemu-x86_64';

function medium(): string {
  const p = path.join(tempDir('boot'), 'medium.img');
  initMedium(p);
  return p;
}

function opts(device: string, more: Partial<SelectOptions> = {}): SelectOptions {
  return { device, trust: trustAnyOf([key.pk], 'test keys'), board: BOARD, ...more };
}

function corruptSlot(device: string, slot: 0 | 1, at: number): void {
  const m = openMedium(device, false);
  // A negative position counts from the end of the bundle (inside run.json).
  const off = slotOffset(m.table, slot) + (at < 0 ? m.table.slots[slot].length + at : at);
  closeMedium(m);
  const fd = fs.openSync(device, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, off);
  b[0] ^= 0x55;
  fs.writeSync(fd, b, 0, 1, off);
  fs.closeSync(fd);
}

test('boots the bundle in the active slot and announces its identity', () => {
  const dev = medium();
  const bytes = makeBundle({ key, version: '2.1.0', securityVersion: 1, module: 'module.exports = { name: "m" };\n' });
  flashBundle({ device: dev, bundle: bytes });
  const r = selectBundle(opts(dev));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.slot, 'A');
  assert.is(r.fellBack, false);
  assert.equal(r.refusals, []);
  assert.is(r.identity.version, '2.1.0');
  assert.is(r.identity.name, 'test');
  assert.match(r.identity.hash, /^[0-9a-f]{64}$/);
  assert.is(r.bundle.module.toString(), 'module.exports = { name: "m" };\n');
  assert.ok(JSON.parse(r.bundle.run.toString()).source);
  assert.ok(JSON.parse(r.bundle.policy.toString()).extends);
});

test('a second flash goes into the other slot and becomes active', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, version: '1.0.0' }) });
  const f = flashBundle({ device: dev, bundle: makeBundle({ key, version: '1.1.0' }) });
  assert.is(f.slot, 'B');
  assert.is(f.previous, 'A');
  const r = selectBundle(opts(dev));
  assert.ok(r.ok && r.slot === 'B' && r.identity.version === '1.1.0');
});

test('falls back to the other slot when the active one is corrupted', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, version: '1.0.0' }) });
  flashBundle({ device: dev, bundle: makeBundle({ key, version: '1.1.0' }) });
  corruptSlot(dev, 1, -10);
  const r = selectBundle(opts(dev));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.slot, 'A');
  assert.is(r.fellBack, true);
  assert.is(r.identity.version, '1.0.0');
  assert.equal(r.refusals.length, 1);
  assert.match(r.refusals[0], /^slot B \(active\): run\.json does not match its BLAKE2b-256 hash in the manifest/);
});

test('refuses to boot when both slots are refused, listing both reasons', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, boards: ['other-board'] }) });
  flashBundle({ device: dev, bundle: makeBundle({ key, boards: ['other-board'] }) });
  const r = selectBundle(opts(dev));
  assert.is(r.ok, false);
  assert.is(r.refusals.length, 2);
  assert.match(r.refusals[0], /^slot B \(active\): the bundle is made for board other-board, not for this board \(qemu-x86_64\)/);
  assert.match(r.refusals[1], /^slot A: the bundle is made for board other-board/);
});

test('refuses a medium onto which nothing was flashed', () => {
  const r = selectBundle(opts(medium()));
  assert.is(r.ok, false);
  assert.match(r.refusals[0], /holds no bundle yet: flash one with `sealtap bundle flash/);
});

test('refuses a bundle signed by a key the box does not trust, in every slot', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key: newKey() }) });
  const r = selectBundle(opts(dev));
  assert.is(r.ok, false);
  assert.match(r.refusals[0], /by a key not in the trust configuration/);
  assert.match(r.refusals[1], /slot B: empty/);
});

test('raises the stored minimum when a higher security version boots, then refuses the older slot', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, version: '1.0.0', securityVersion: 1 }) });
  flashBundle({ device: dev, bundle: makeBundle({ key, version: '2.0.0', securityVersion: 2 }) });
  const first = selectBundle(opts(dev));
  assert.ok(first.ok && first.identity.securityVersion === 2);
  const m = openMedium(dev, false);
  assert.is(m.table.minSecurityVersion, 2);
  closeMedium(m);
  corruptSlot(dev, 1, -10);
  const r = selectBundle(opts(dev));
  assert.is(r.ok, false);
  assert.match(r.refusals[1], /^slot A: the bundle has security version 1, below this box's minimum 2: downgrades are refused/);
});

test('flash refuses a bundle below the medium minimum', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, securityVersion: 3 }) });
  assert.ok(selectBundle(opts(dev)).ok);
  assert.throws(() => flashBundle({ device: dev, bundle: makeBundle({ key, securityVersion: 2 }) }), /below this box's minimum 3: downgrades are refused/);
});

test('a board counter above the medium minimum refuses the downgrade and is raised on upgrade', () => {
  const dev = medium();
  flashBundle({ device: dev, bundle: makeBundle({ key, securityVersion: 1 }) });
  const refused = selectBundle(opts(dev, { readMinSecurityVersion: () => 5 }));
  assert.is(refused.ok, false);
  assert.match(refused.ok ? '' : refused.refusals[0], /below this box's minimum 5/);
  let raisedTo = -1;
  flashBundle({ device: dev, bundle: makeBundle({ key, securityVersion: 6 }) });
  const r = selectBundle(opts(dev, { readMinSecurityVersion: () => 5, raiseMinSecurityVersion: (v) => { raisedTo = v; } }));
  assert.ok(r.ok);
  assert.is(raisedTo, 6);
});

test('refuses a slot whose contents differ from what was recorded at flash time', () => {
  const dev = medium();
  const a = makeBundle({ key, version: '1.0.0' });
  flashBundle({ device: dev, bundle: a });
  // Overwrite slot A with another valid bundle of the same length, without updating the table.
  const b = makeBundle({ key, version: '1.0.1' });
  assert.is(b.length, a.length);
  const m = openMedium(dev, false);
  const off = slotOffset(m.table, 0);
  closeMedium(m);
  const fd = fs.openSync(dev, 'r+');
  fs.writeSync(fd, b, 0, b.length, off);
  fs.closeSync(fd);
  const r = selectBundle(opts(dev));
  assert.is(r.ok, false);
  assert.match(r.ok ? '' : r.refusals[0], /holds a different bundle than the one recorded when it was flashed/);
});

test('loads and verifies a bundle file on a host without a medium', () => {
  const p = writeTemp('boot', 'b.sfw', makeBundle({ key }));
  const r = loadBundleFile(p, { trust: trustAnyOf([key.pk], 'test keys'), board: BOARD });
  assert.ok(r.ok);
  const bad = loadBundleFile(p, { trust: trustAnyOf([key.pk], 'test keys'), board: 'dev' });
  assert.is(bad.ok, false);
});

test('a bundle file whose content the caller\'s check refuses is refused with the check\'s reason', () => {
  const p = writeTemp('boot', 'b.sfw', makeBundle({ key }));
  const r = loadBundleFile(p, { trust: trustAnyOf([key.pk], 'test keys'), board: BOARD, checkContent: () => { throw new BundleError('policy.json is refused: too open'); } });
  assert.equal(r, { ok: false, reason: 'policy.json is refused: too open' });
});

test.run();
