// The USB gadget's decisions against a temporary directory standing in for configfs and
// /sys/class/udc. The kernel's side (attribute files appearing by themselves, port_num)
// is played by the test where it matters; the real configfs runs in the image test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseUsbGadget, setUpUsbGadget, UsbGadget, UsbGadgetError } from '../../firmware/supervisor/usb-gadget';
import { loadBoard } from '../../firmware/supervisor/board';

interface Fake { root: string; udcClass: string; gadget: UsbGadget }

/** configfs with libcomposite loaded, one controller, and the port the kernel would give. */
function fakeSys(udcs = ['dummy_udc.0'], portNum = '0'): Fake {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-gadget-'));
  fs.mkdirSync(path.join(root, 'config', 'usb_gadget'), { recursive: true });
  const udcClass = path.join(root, 'class', 'udc');
  fs.mkdirSync(udcClass, { recursive: true });
  for (const u of udcs) fs.mkdirSync(path.join(udcClass, u));
  const gadget: UsbGadget = {
    udc: 'dummy_udc.0',
    configfs: path.join(root, 'config', 'usb_gadget', 'sealtap'),
    idVendor: '0x1d6b',
    idProduct: '0x0104',
    product: 'sealtap results line',
    function: 'acm.results',
    tty: '/dev/ttyGS0',
  };
  // What the kernel shows once the function directory exists.
  const fn = path.join(gadget.configfs, 'functions', 'acm.results');
  fs.mkdirSync(fn, { recursive: true });
  fs.writeFileSync(path.join(fn, 'port_num'), portNum + '\n');
  return { root, udcClass, gadget };
}

const read = (f: Fake, rel: string): string => fs.readFileSync(path.join(f.gadget.configfs, rel), 'utf8');

test('makes one ACM function in one configuration and binds it to the board\'s controller, UDC last', () => {
  const f = fakeSys();
  const line = setUpUsbGadget(f.gadget, f.udcClass);
  assert.is(read(f, 'idVendor'), '0x1d6b\n');
  assert.is(read(f, 'idProduct'), '0x0104\n');
  assert.is(read(f, 'strings/0x409/product'), 'sealtap results line\n');
  assert.is(read(f, 'configs/c.1/strings/0x409/configuration'), 'results line\n');
  assert.is(fs.readlinkSync(path.join(f.gadget.configfs, 'configs/c.1/acm.results')), path.join(f.gadget.configfs, 'functions/acm.results'));
  assert.is(read(f, 'UDC'), 'dummy_udc.0\n');
  assert.match(line, /bound to dummy_udc\.0; results line \/dev\/ttyGS0/);
});

test('the tty is prepared before the controller is bound, so no host can send to it before', () => {
  const f = fakeSys();
  let udcAtPrepare: string | null = 'unset';
  setUpUsbGadget(f.gadget, f.udcClass, () => {
    udcAtPrepare = fs.existsSync(path.join(f.gadget.configfs, 'UDC')) ? read(f, 'UDC') : null;
  });
  assert.is(udcAtPrepare, null);
  assert.is(read(f, 'UDC'), 'dummy_udc.0\n');
});

test('a tty that cannot be prepared leaves the gadget unbound', () => {
  const f = fakeSys();
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass, () => { throw new Error('results line /dev/ttyGS0 does not exist'); }),
    (e: Error) => e instanceof UsbGadgetError && /^USB gadget: results line \/dev\/ttyGS0 does not exist/.test(e.message));
  assert.not.ok(fs.existsSync(path.join(f.gadget.configfs, 'UDC')));
});

test('offers only the ACM function and no serial number', () => {
  const f = fakeSys();
  setUpUsbGadget(f.gadget, f.udcClass);
  assert.equal(fs.readdirSync(path.join(f.gadget.configfs, 'functions')), ['acm.results']);
  assert.equal(fs.readdirSync(path.join(f.gadget.configfs, 'configs/c.1')).sort(), ['acm.results', 'strings']);
  assert.not.ok(fs.existsSync(path.join(f.gadget.configfs, 'strings/0x409/serialnumber')));
});

test('a gadget already bound to the same controller is left as it is', () => {
  const f = fakeSys();
  setUpUsbGadget(f.gadget, f.udcClass);
  fs.writeFileSync(path.join(f.gadget.configfs, 'idVendor'), 'untouched\n');
  assert.match(setUpUsbGadget(f.gadget, f.udcClass), /already bound to dummy_udc\.0/);
  assert.is(read(f, 'idVendor'), 'untouched\n');
});

test('refuses a gadget bound to another controller', () => {
  const f = fakeSys();
  fs.writeFileSync(path.join(f.gadget.configfs, 'UDC'), 'other.usb\n');
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), (e: Error) => e instanceof UsbGadgetError && /already bound to other\.usb, not dummy_udc\.0/.test(e.message));
});

test('refuses a controller the kernel does not have, naming those it has', () => {
  const f = fakeSys(['fe980000.usb']);
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), /controller dummy_udc\.0 not found in .*\(have: fe980000\.usb\): check usbGadget\.udc in board\.json/);
  assert.not.ok(fs.existsSync(path.join(f.gadget.configfs, 'UDC')));
});

test('refuses when configfs is not mounted or libcomposite is missing', () => {
  const f = fakeSys();
  fs.rmSync(path.join(f.root, 'config'), { recursive: true });
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), /usb_gadget does not exist: configfs must be mounted and libcomposite loaded/);
});

test('refuses when the kernel gives the function another tty than the board names, before binding', () => {
  const f = fakeSys(['dummy_udc.0'], '1');
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), /gave acm\.results \/dev\/ttyGS1, board\.json says \/dev\/ttyGS0/);
  assert.not.ok(fs.existsSync(path.join(f.gadget.configfs, 'UDC')));
});

test('refuses when the function has no port number (usb_f_acm not loaded)', () => {
  const f = fakeSys();
  fs.rmSync(path.join(f.gadget.configfs, 'functions/acm.results/port_num'));
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), /cannot read .*port_num: is usb_f_acm loaded/);
});

test('a configfs write the kernel refuses is one line naming the file', () => {
  const f = fakeSys();
  fs.mkdirSync(path.join(f.gadget.configfs, 'idVendor'));   // writing a directory fails (EISDIR)
  assert.throws(() => setUpUsbGadget(f.gadget, f.udcClass), (e: Error) => e instanceof UsbGadgetError && /^USB gadget: cannot write .*idVendor \(EISDIR\)$/.test(e.message));
});

test('board.json: no usbGadget or null means no USB device port', () => {
  assert.is(parseUsbGadget(undefined, 'b.json'), null);
  assert.is(parseUsbGadget(null, 'b.json'), null);
  assert.is(loadBoard('qemu-x86_64').usbGadget, null);
  assert.is(loadBoard('dev').usbGadget, null);
});

test('board.json: rpi4 and the QEMU USB test board describe their gadget on ttyGS0', () => {
  for (const name of ['rpi4', 'qemu-x86_64-usb']) {
    const b = loadBoard(name);
    assert.ok(b.usbGadget, name);
    assert.is(b.usbGadget?.tty, '/dev/ttyGS0');
    assert.is(b.resultsTty, b.usbGadget?.tty, `${name}: resultsTty is the gadget's tty`);
  }
  assert.is(loadBoard('qemu-x86_64-usb').usbGadget?.udc, 'dummy_udc.0');
});

test('board.json: refuses a gadget function other than ACM, and names each bad field', () => {
  const good = { udc: 'fe980000.usb', configfs: '/sys/kernel/config/usb_gadget/sealtap', idVendor: '0x1d6b', idProduct: '0x0104', product: 'p', function: 'acm.results', tty: '/dev/ttyGS0' };
  assert.ok(parseUsbGadget(good, 'b.json'));
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...good, function: 'mass_storage.0' }, /usbGadget\.function .*CDC-ACM function, nothing else/],
    [{ ...good, function: 'ecm.usb0' }, /usbGadget\.function/],
    [{ ...good, udc: '../../x' }, /usbGadget\.udc/],
    [{ ...good, configfs: 'relative/usb_gadget/x' }, /usbGadget\.configfs/],
    [{ ...good, idVendor: '1d6b' }, /usbGadget\.idVendor/],
    [{ ...good, tty: '/dev/ttyS1' }, /usbGadget\.tty/],
    [{ ...good, serialnumber: '123' }, /usbGadget\.serialnumber is not a known key/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseUsbGadget(raw, 'b.json'), re, JSON.stringify(raw));
  assert.throws(() => parseUsbGadget('yes', 'b.json'), /must be an object or null/);
});

test.run();
