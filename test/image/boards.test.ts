// Every board definition must be loadable by the supervisor, carry the documented
// kernel hardening, and agree with the run.json the image ships for it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadBoard, boardsDir } from '../../firmware/supervisor/board';
import { validateConfig } from '../../firmware/supervisor/config';

const applianceBoards = ['qemu-x86_64', 'qemu-x86_64-usb', 'pc-x86_64', 'rpi4'];
const hardening = ['lockdown=confidentiality', 'init_on_free=1', 'init_on_alloc=1', 'module.sig_enforce=1', 'oops=panic', 'panic=-1', 'debugfs=off', 'ro'];

const raw = (name: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(boardsDir, name, 'board.json'), 'utf8'));

for (const name of applianceBoards) {
  test(`${name}: the supervisor loads it and it powers off at exit`, () => {
    const b = loadBoard(name);
    assert.is(b.name, name);
    assert.is(b.atExit, 'poweroff');
    assert.ok(b.captureInterface && b.resultsTty && b.spoolDevice, 'capture NIC, results tty and spool device are all named');
  });

  test(`${name}: kernel command line carries the hardening`, () => {
    const args = String(raw(name).kernel.cmdline).split(/\s+/);
    for (const h of hardening) assert.ok(args.includes(h), `${h} missing`);
    assert.ok(args.some((a) => a.startsWith('root=')), 'root= missing');
    assert.not.ok(args.some((a) => a.startsWith('init=') || a.startsWith('rdinit=') || a === 'single'), 'the command line must not pick another init');
  });

  test(`${name}: modules lists are plain names`, () => {
    const m = raw(name).modules;
    for (const list of ['initramfs', 'rootfs', 'optional']) {
      assert.ok(Array.isArray(m[list]), `${list} is a list`);
      for (const mod of m[list]) assert.match(mod, /^[A-Za-z0-9_-]+$/);
    }
  });

  test(`${name}: run.json validates and agrees with board.json`, () => {
    const b = loadBoard(name);
    const cfg = validateConfig(JSON.parse(fs.readFileSync(path.join(boardsDir, name, 'run.json'), 'utf8')), path.join(boardsDir, name));
    assert.is(cfg.source.kind, 'interface');
    if (cfg.source.kind === 'interface') assert.is(cfg.source.name, b.captureInterface);
    assert.is(cfg.spool.device, b.spoolDevice);
    assert.is(cfg.channel.path, b.resultsTty);
    assert.is(cfg.spool.dir, '/var/spool/sealtap', 'the image creates this mountpoint');
  });
}

for (const name of applianceBoards) {
  test(`${name}: names a bundle medium that is neither the root nor the spool disk`, () => {
    const b = loadBoard(name);
    assert.ok(b.bundleDevice, 'bundleDevice missing: the box would refuse every analysis firmware');
    assert.is.not(b.bundleDevice, b.spoolDevice);
    const root = String(raw(name).kernel.cmdline).split(/\s+/).find((a) => a.startsWith('root='));
    assert.is.not(`root=${b.bundleDevice}`, root);
  });
}

test('qemu-x86_64 stops by itself, so the image test ends', () => {
  const cfg = validateConfig(JSON.parse(fs.readFileSync(path.join(boardsDir, 'qemu-x86_64', 'run.json'), 'utf8')), '/');
  assert.ok(cfg.stop.seconds !== null && cfg.stop.seconds <= 60);
});

test('the image test\'s bundle stops by itself and outputs what the test compares', () => {
  // On the box the bundle's run.json decides stop and outputs; the wiring is the image's.
  const dir = path.join(boardsDir, '..', 'test', 'image', 'firmware');
  const bundleRun = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  const wiring = JSON.parse(fs.readFileSync(path.join(boardsDir, 'qemu-x86_64', 'run.json'), 'utf8'));
  assert.equal([bundleRun.source, bundleRun.spool, bundleRun.channel], [undefined, undefined, undefined], 'the wiring belongs to the image');
  const cfg = validateConfig({ ...bundleRun, source: wiring.source, spool: wiring.spool, channel: wiring.channel }, dir);
  assert.ok(cfg.stop.seconds !== null && cfg.stop.seconds <= 60);
  assert.equal([...cfg.outputs].sort(), ['flows', 'packets']);
});

test.run();
