// Opens the results line for writing only. The box never reads it: a line that can be
// read is a way in (invariant 2). That is why this does not use the `serialport`
// package (it always opens read-write) nor `stty -F` (which opens the device to read).
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import { isatty } from 'node:tty';

export interface WriteOnlyLine {
  fd: number;
  /** 'tty' for a serial/USB device (paced at baud/10 bytes/s), 'file' for a recording. */
  kind: 'tty' | 'file';
  path: string;
  baud: number;
  /** True when the tty's receiver is disabled (-cread). Ptys refuse that; real UARTs accept it. */
  receiverOff: boolean;
  /** `stty -g` of a tty as set up, to tell after a hangup whether the driver reset it. */
  termios: string | null;
}

/**
 * Opens `path` O_WRONLY|O_NOCTTY|O_NONBLOCK and, if it is a tty, sets raw mode with the
 * receiver disabled (-cread) and no flow control, so a peer can neither send us bytes
 * nor stop our output. A path that is not a tty is created/truncated as a recording of
 * the line (development and tests). A USB gadget tty (ttyGS*) with no host attached
 * opens fine; its writes return EAGAIN until a host drains it.
 */
export function openWriteOnlyTty(path: string, baud: number): WriteOnlyLine {
  if (!path) throw new Error('results line path is empty: set channel.path in run.json to a tty (e.g. /dev/ttyS1) or a file');
  if (!Number.isInteger(baud) || baud <= 0) throw new Error(`results line baud ${baud} is not a positive integer: set channel.baud in run.json (e.g. 115200)`);
  const C = fs.constants;
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw lineError(path, e);
  }
  if (st && st.isCharacterDevice()) {
    let fd: number;
    try {
      fd = fs.openSync(path, C.O_WRONLY | C.O_NOCTTY | C.O_NONBLOCK);
    } catch (e) {
      throw lineError(path, e);
    }
    if (isatty(fd)) {
      return { fd, kind: 'tty', path, baud, ...setRawTermios(fd, path, baud) };
    }
    return { fd, kind: 'file', path, baud, receiverOff: false, termios: null };
  }
  if (st && st.isDirectory()) throw new Error(`results line ${path} is a directory: give a tty device or a file name`);
  if (!st && path.startsWith('/dev/')) {
    throw new Error(`results line ${path} does not exist: check the board's results tty (board.json) or plug in the USB/serial adapter`);
  }
  try {
    const fd = fs.openSync(path, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_APPEND, 0o644);
    return { fd, kind: 'file', path, baud, receiverOff: false, termios: null };
  } catch (e) {
    throw lineError(path, e);
  }
}

/**
 * Opens a line again after the kernel hung it up (writes fail with EIO: a USB gadget's
 * tty when the workstation went away), write-only and non-blocking as the first time.
 * Termios is set again only if the driver reset it at the hangup (ptys do): a gadget's
 * tty keeps the raw mode, -echo and -cread of the first open, and setting them again
 * would make stty wait (TCSADRAIN) for output that a gadget with no host cannot drain,
 * blocking the event loop. Reading termios (`stty -g`) never waits.
 */
export function reopenWriteOnlyTty(line: WriteOnlyLine): WriteOnlyLine {
  let fd: number;
  try {
    fd = fs.openSync(line.path, fs.constants.O_WRONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw lineError(line.path, e);
  }
  if (!isatty(fd)) {
    fs.closeSync(fd);
    throw new Error(`results line ${line.path} is no longer a tty`);
  }
  if (line.termios !== null && readTermios(line.path) === line.termios) return { ...line, fd };
  return { ...line, fd, ...setRawTermios(fd, line.path, line.baud) };
}

/**
 * Sets raw mode and the speed, then turns the tty's receiver off (-cread) separately:
 * a pty refuses -cread (EINVAL), which is harmless there — the box never reads either
 * way — so that one flag is reported in `receiverOff` rather than failing the open.
 */
function setRawTermios(fd: number, path: string, baud: number): { receiverOff: boolean; termios: string | null } {
  // stty works on its stdin; handing it a write-only fd sets termios (an ioctl, which
  // needs no read access) without anyone opening the device for reading.
  // stty gets its own write-only open of the device: libuv clears O_NONBLOCK on a child's
  // stdin, and that flag lives in the open file description, so sharing `fd` with stty
  // would leave our writes blocking (and capture waiting on the line).
  const sttyFd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  try {
    const stty = (args: string[]) => spawnSync('stty', args, { stdio: [sttyFd, 'ignore', 'pipe'] });
    const speed = isUsbGadgetTty(path) ? [] : [String(baud)];
    const r = stty(['raw', '-echo', 'clocal', '-crtscts', '-ixon', '-ixoff', ...speed]);
    if (r.error || r.status !== 0) {
      fs.closeSync(fd);
      const why = r.error ? r.error.message : String(r.stderr).trim();
      throw new Error(`cannot set ${path} to raw ${baud} baud (${why}): check that the baud rate is one the tty supports`);
    }
    const receiverOff = stty(['-cread']).status === 0;
    return { receiverOff, termios: readTermios(path) };
  } finally {
    fs.closeSync(sttyFd);
  }
}

/** `stty -g` of the tty at `path` through a write-only open (TCGETS: never waits); null if it fails. */
function readTermios(path: string): string | null {
  let sttyFd: number;
  try {
    sttyFd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const r = spawnSync('stty', ['-g'], { stdio: [sttyFd, 'pipe', 'ignore'] });
    return r.status === 0 ? String(r.stdout).trim() : null;
  } finally {
    fs.closeSync(sttyFd);
  }
}

/**
 * A USB gadget's tty (Linux u_serial, ttyGS*) has no baud rate: the kernel keeps its
 * speed bits whatever is asked, so stty would report a speed it cannot set. There the
 * baud (channel.baud) only paces the writer, and the USB host drains the line as fast
 * as it reads.
 */
export function isUsbGadgetTty(path: string): boolean {
  let real = path;
  try {
    real = fs.realpathSync(path);
  } catch { /* the name given is all there is */ }
  return /^ttyGS[0-9]+$/.test(nodePath.basename(real));
}

export function lineError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new Error(`results line ${path} does not exist: check channel.path in run.json`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new Error(`results line ${path} is not writable (${code}): fix its permissions or choose another path`);
    case 'EBUSY':
      return new Error(`results line ${path} is busy (EBUSY): another program holds it; stop that program (e.g. a getty) first`);
    case 'ENXIO':
    case 'ENODEV':
      return new Error(`results line ${path} has no device behind it (${code}): check the adapter or the board's tty name`);
    default:
      return new Error(`cannot open results line ${path}: ${(e as Error).message}`);
  }
}
