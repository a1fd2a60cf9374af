// Where the receiver reads the line from: a recording (file, read to its end) or a tty
// (with the `serialport` package, until stopped). Workstation side only.
import * as fs from 'node:fs';

export interface LineSource {
  kind: 'tty' | 'file';
  /** Resolves when the input ends (end of file, tty closed) or after stop(). */
  done: Promise<void>;
  stop(): void;
  /** Files only: no chunk until resume() (a tty cannot wait: its bytes would be lost). */
  pause?: () => void;
  resume?: () => void;
}

/** Checks that `input` can be a line source before anything is created; returns its kind. */
export function checkLineInput(input: string): 'tty' | 'file' {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${input} does not exist: give the tty the box is wired to (e.g. /dev/ttyUSB0) or a recording of the line`);
    if (code === 'EACCES') throw new Error(`cannot read ${input}: permission denied on a folder of its path; check its permissions`);
    throw new Error(`cannot read ${input} (${code ?? (e as Error).message}): give the tty the box is wired to or a recording of the line`);
  }
  if (st.isDirectory()) throw new Error(`${input} is a directory: give a tty or a recording file (e.g. DIR/line.raw)`);
  return st.isCharacterDevice() ? 'tty' : 'file';
}

export async function openLineSource(input: string, baud: number, onData: (chunk: Buffer) => void): Promise<LineSource> {
  return checkLineInput(input) === 'tty' ? openTty(input, baud, onData) : openFile(input, onData);
}

/**
 * 1 MiB a read: with 64 KiB the receiver spent a quarter of a 55 MB recording waiting
 * on its 850 reads' round trips through the thread pool.
 */
const READ_BYTES = 1024 * 1024;

/**
 * A recording, read to its end into two buffers in turn: the next read fills one while
 * the chunk in the other is handled. onData must keep nothing of a chunk after it
 * returns (the decoder copies what it keeps). A new 1 MiB buffer per read, as a read
 * stream makes, was fresh memory to fault in every time: a tenth of the receiver's time
 * on a 64 MB recording.
 */
function openFile(input: string, onData: (chunk: Buffer) => void): LineSource {
  try {
    fs.accessSync(input, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`cannot read ${input}: permission denied; check its permissions`);
    throw new Error(`cannot read ${input} (${code ?? (e as Error).message}): check the file and its disk`);
  }
  // Opened through the thread pool: a FIFO's open waits for its writer, and this thread
  // must meanwhile answer a signal (Ctrl-C) and draw the status block.
  let fd = -1;
  const bufs = [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
  let next = 0; // the buffer the next read fills
  let reading = false;
  let paused = false;
  let stopped = false;
  let closed = false;
  /** A chunk read while paused, handed on at resume(). */
  let held: Buffer | null = null;
  let settle: (e?: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (e) => (e ? reject(e) : resolve());
  });
  const finish = (e?: Error): void => {
    if (closed) return;
    closed = true;
    if (fd < 0) return settle(e);
    fs.close(fd, () => settle(e));
  };
  const hand = (chunk: Buffer): void => {
    read();
    onData(chunk);
  };
  function read(): void {
    if (stopped) return finish();
    const buf = bufs[next];
    next ^= 1;
    reading = true;
    // From where the last read ended (no position: a FIFO, which `mkfifo` gives a box's
    // line recorded while it is read, cannot seek).
    fs.read(fd, buf, 0, READ_BYTES, null, (err, n) => {
      reading = false;
      if (err) return finish(new Error(`cannot read ${input} (${err.code ?? err.message}): check the file and its disk`));
      if (stopped || n === 0) return finish();
      if (paused) held = buf.subarray(0, n);
      else hand(buf.subarray(0, n));
    });
  }
  fs.open(input, 'r', (err, opened) => {
    if (closed) {
      // Stopped while a FIFO waited for its writer: done has settled already.
      if (!err) fs.close(opened, () => {});
      return;
    }
    if (err) return finish(new Error(`cannot read ${input} (${err.code ?? err.message}): check the file and its disk`));
    fd = opened;
    read();
  });
  return {
    kind: 'file',
    done,
    stop: () => {
      stopped = true;
      held = null;
      // A read under way ends the source when it comes back; else it ends now.
      if (!reading) finish();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      const chunk = held;
      held = null;
      if (chunk !== null && !stopped) hand(chunk);
    },
  };
}

async function openTty(input: string, baud: number, onData: (chunk: Buffer) => void): Promise<LineSource> {
  // Loaded only for a tty: the package and its native binding took 32 ms of the
  // receiver's start, a quarter of it, on every recording it read.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SerialPort } = require('serialport') as typeof import('serialport');
  const port = new SerialPort({ path: input, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (!err) return resolve();
      const m = err.message;
      if (/lock|busy|EBUSY|temporarily unavailable/i.test(m)) reject(new Error(`${input} is busy: another program (screen, minicom, another receive) holds it; close that first`));
      else if (/permission|EACCES/i.test(m)) reject(new Error(`cannot open ${input}: permission denied; add yourself to the dialout group or run with access to the tty`));
      else reject(new Error(`cannot open ${input}: ${m}`));
    });
  });
  const done = new Promise<void>((resolve) => {
    port.on('data', (c: Buffer) => onData(c));
    port.on('close', () => resolve());
    port.on('error', () => resolve());
  });
  return {
    kind: 'tty',
    done,
    stop: () => {
      if (port.isOpen) port.close(() => undefined);
    },
  };
}
