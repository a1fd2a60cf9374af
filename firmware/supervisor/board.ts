// board/<name>/board.json: what differs per hardware. The supervisor reads only the
// fields it acts on; the image build reads the rest (partitions, kernel command line).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseUsbGadget, UsbGadget } from './usb-gadget';

export interface Board {
  name: string;
  /** LED class directories (/sys/class/leds/<name>); relative paths are taken from the working directory. */
  leds: { status: string | null; fault: string | null };
  captureInterface: string | null;
  resultsTty: string | null;
  consoleTty: string | null;
  spoolDevice: string | null;
  bundleDevice: string | null;
  atExit: 'exit' | 'poweroff' | 'reboot';
  /** The results line as a CDC-ACM USB gadget (usb-gadget.ts); null: no USB device port. */
  usbGadget?: UsbGadget | null;
}

export const boardsDir = path.resolve(__dirname, '..', '..', '..', 'board');

/** Loads board/<name>/board.json, or a board.json path. Throws a one-line Error. */
export function loadBoard(nameOrPath: string): Board {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : path.join(boardsDir, nameOrPath, 'board.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const known = fs.existsSync(boardsDir) ? fs.readdirSync(boardsDir).join(', ') : 'none';
    throw new Error(`board ${nameOrPath}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); known boards: ${known}`);
  }
  const leds = (raw.leds ?? {}) as Record<string, unknown>;
  const strOrNull = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  const atExit = raw.atExit ?? 'exit';
  if (atExit !== 'exit' && atExit !== 'poweroff' && atExit !== 'reboot') throw new Error(`board ${file}: atExit must be exit, poweroff or reboot`);
  return {
    name: typeof raw.name === 'string' ? raw.name : path.basename(path.dirname(file)),
    leds: { status: strOrNull(leds.status), fault: strOrNull(leds.fault) },
    captureInterface: strOrNull(raw.captureInterface),
    resultsTty: strOrNull(raw.resultsTty),
    consoleTty: strOrNull(raw.consoleTty),
    spoolDevice: strOrNull(raw.spoolDevice),
    bundleDevice: strOrNull(raw.bundleDevice),
    atExit,
    usbGadget: parseUsbGadget(raw.usbGadget, file),
  };
}
