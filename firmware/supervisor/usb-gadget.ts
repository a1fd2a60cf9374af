// The results line of a board whose exit is a USB port in device mode (rpi4's USB-C):
// a CDC-ACM gadget made through configfs (libcomposite), one ACM function in one
// configuration, bound to the board's USB device controller (board.json `usbGadget`).
// The workstation sees a plain serial port (ttyACM*); the box writes the gadget's tty
// (ttyGS*) through the same write-only open as a UART (channel/tty.ts), so there is one
// code path for both lines and the device name comes from the board file.
//
// Only ACM: no mass storage, network or HID function is ever made, so the port offers
// the workstation nothing to read from or log in through. The gadget carries no serial
// number: nothing in the descriptors tells one box from another.
//
// Fails closed: a board that names a controller gets its gadget or the run is refused
// (UsbGadgetError, exit 1), since results written to a tty nobody can attach would
// silently wait in the outbox for the whole run.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface UsbGadget {
  /** The USB device controller's name in /sys/class/udc (e.g. fe980000.usb on rpi4, dummy_udc.0 in QEMU). */
  udc: string;
  /** The gadget's directory in configfs, …/usb_gadget/<name>. */
  configfs: string;
  idVendor: string;
  idProduct: string;
  product: string;
  /** configfs function directory: acm.<instance>. */
  function: string;
  /** The tty the kernel gives the ACM function, /dev/ttyGS<port_num>. */
  tty: string;
}

export class UsbGadgetError extends Error {}

/** board.json `usbGadget`: null or absent means no USB device port. Throws a one-line Error. */
export function parseUsbGadget(raw: unknown, file: string): UsbGadget | null {
  if (raw === null || raw === undefined) return null;
  const where = `board ${file}: usbGadget`;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where} must be an object or null`);
  const o = raw as Record<string, unknown>;
  const known = ['udc', 'configfs', 'idVendor', 'idProduct', 'product', 'function', 'tty'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`${where}.${k} is not a known key (known: ${known.join(', ')})`);
  const str = (k: string, re: RegExp, want: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || !re.test(v)) throw new Error(`${where}.${k} is ${JSON.stringify(v)}: want ${want}`);
    return v;
  };
  const g: UsbGadget = {
    udc: str('udc', /^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'a controller name from /sys/class/udc, e.g. "fe980000.usb"'),
    configfs: str('configfs', /^\/.*\/usb_gadget\/[A-Za-z0-9_-]+$/, 'an absolute path …/usb_gadget/NAME, e.g. "/sys/kernel/config/usb_gadget/sealtap"'),
    idVendor: str('idVendor', /^0x[0-9a-fA-F]{4}$/, 'four hex digits, e.g. "0x1d6b"'),
    idProduct: str('idProduct', /^0x[0-9a-fA-F]{4}$/, 'four hex digits, e.g. "0x0104"'),
    product: str('product', /^[\x20-\x7e]{1,126}$/, '1 to 126 printable ASCII characters'),
    function: str('function', /^acm\.[A-Za-z0-9_]+$/, '"acm.NAME": the results line is a CDC-ACM function, nothing else'),
    tty: str('tty', /^\/dev\/ttyGS[0-9]+$/, 'the gadget tty, e.g. "/dev/ttyGS0"'),
  };
  return g;
}

/**
 * Makes the gadget in configfs and binds it to the controller, unless it is already
 * bound there (a second run in one boot). `beforeBind` runs once the tty exists and
 * before any host can see the gadget: the box opens the tty there and makes it raw,
 * so that no byte a host sends ever meets the default cooked mode (which echoes it
 * back, and acts on ^S and ^C). Returns the operator line saying what was done. Throws
 * UsbGadgetError naming the file and the fix; `udcClass` is /sys/class/udc on the box
 * (tests give a directory of their own).
 */
export function setUpUsbGadget(g: UsbGadget, udcClass = '/sys/class/udc', beforeBind: () => void = () => {}): string {
  const parent = path.dirname(g.configfs);
  if (!isDir(parent)) {
    throw new UsbGadgetError(`USB gadget: ${parent} does not exist: configfs must be mounted and libcomposite loaded (board.json modules.rootfs)`);
  }
  if (!fs.existsSync(path.join(udcClass, g.udc))) {
    const have = isDir(udcClass) ? fs.readdirSync(udcClass).join(', ') || 'none' : 'none';
    throw new UsbGadgetError(`USB gadget: controller ${g.udc} not found in ${udcClass} (have: ${have}): check usbGadget.udc in board.json and that its driver module is loaded`);
  }
  const G = g.configfs;
  const bound = readTrimmed(path.join(G, 'UDC'));
  if (bound && bound !== g.udc) {
    throw new UsbGadgetError(`USB gadget: ${G} is already bound to ${bound}, not ${g.udc}: another gadget holds this name; check usbGadget in board.json`);
  }
  if (!bound) {
    // configfs makes the attribute files of each directory itself; mkdir of a
    // function directory loads nothing (init disabled module loading), so usb_f_acm
    // must already be in (modules.rootfs).
    mkdir(G);
    write(path.join(G, 'idVendor'), g.idVendor);
    write(path.join(G, 'idProduct'), g.idProduct);
    mkdir(path.join(G, 'strings', '0x409'));
    write(path.join(G, 'strings', '0x409', 'manufacturer'), 'sealtap');
    write(path.join(G, 'strings', '0x409', 'product'), g.product);
    const fn = path.join(G, 'functions', g.function);
    mkdir(fn, `the ${g.function.split('.')[0]} function is not available: load usb_f_acm (board.json modules.rootfs)`);
    const config = path.join(G, 'configs', 'c.1');
    mkdir(path.join(config, 'strings', '0x409'));
    write(path.join(config, 'strings', '0x409', 'configuration'), 'results line');
    const link = path.join(config, g.function);
    if (!fs.existsSync(link)) {
      try {
        fs.symlinkSync(fn, link);
      } catch (e) {
        throw fileError('link', link, e);
      }
    }
  }
  // The kernel numbers ACM ports in creation order; the board names the one it expects.
  const port = readTrimmed(path.join(G, 'functions', g.function, 'port_num'));
  if (port === null || !/^[0-9]+$/.test(port)) throw new UsbGadgetError(`USB gadget: cannot read ${path.join(G, 'functions', g.function, 'port_num')}: is usb_f_acm loaded?`);
  if (`/dev/ttyGS${port}` !== g.tty) {
    throw new UsbGadgetError(`USB gadget: the kernel gave ${g.function} /dev/ttyGS${port}, board.json says ${g.tty}: set usbGadget.tty and resultsTty to /dev/ttyGS${port}`);
  }
  try {
    beforeBind();
  } catch (e) {
    throw new UsbGadgetError(`USB gadget: ${(e as Error).message}`);
  }
  if (!bound) write(path.join(G, 'UDC'), g.udc, `controller ${g.udc} refused the gadget: is another gadget bound to it?`);
  return `USB gadget "${g.product}" (${g.idVendor}:${g.idProduct}, CDC-ACM ${g.function}) ${bound ? 'already bound' : 'bound'} to ${g.udc}; results line ${g.tty}`;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readTrimmed(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function mkdir(dir: string, hint?: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError('create', dir, e, hint);
  }
}

function write(file: string, value: string, hint?: string): void {
  try {
    fs.writeFileSync(file, value + '\n');
  } catch (e) {
    throw fileError('write', file, e, hint);
  }
}

function fileError(what: string, file: string, e: unknown, hint?: string): UsbGadgetError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new UsbGadgetError(`USB gadget: cannot ${what} ${file} (${code})${hint ? `: ${hint}` : ''}`);
}
