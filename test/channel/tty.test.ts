import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lineError, openWriteOnlyTty } from '../../firmware/channel/tty';
import { openPtyPair, tmpDir } from '../lib/channel-fixtures';

/** Linux O_ACCMODE: the access-mode bits of the open flags. */
const O_ACCMODE = 3;

function fdFlags(fd: number): number {
  const m = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return parseInt(m![1], 8);
}

test('opens a pty write-only and non-blocking (fdinfo shows O_WRONLY)', async () => {
  const pty = await openPtyPair();
  try {
    const line = openWriteOnlyTty(pty.box, 115200);
    assert.is(line.kind, 'tty');
    const flags = fdFlags(line.fd);
    assert.is(flags & O_ACCMODE, fs.constants.O_WRONLY);
    assert.ok(flags & fs.constants.O_NONBLOCK, 'O_NONBLOCK set');
    assert.throws(() => fs.readSync(line.fd, Buffer.alloc(1)), /EBADF/);
    fs.closeSync(line.fd);
  } finally {
    await pty.close();
  }
});

test('sets raw mode, no flow control, the baud rate, through the write-only fd', async () => {
  const pty = await openPtyPair();
  try {
    const line = openWriteOnlyTty(pty.box, 57600);
    const r = spawnSync('stty', ['-a'], { stdio: [line.fd, 'pipe', 'pipe'] });
    const out = String(r.stdout);
    assert.match(out, /speed 57600 baud/);
    for (const flag of ['-icanon', '-echo', '-ixon', '-ixoff', '-crtscts', 'clocal', '-isig']) {
      assert.ok(new RegExp(`(^|\\s)${flag}(\\s|$)`).test(out), `${flag} in stty -a`);
    }
    // A pty refuses -cread; the open must still succeed and say so.
    assert.is(line.receiverOff, false);
    fs.closeSync(line.fd);
  } finally {
    await pty.close();
  }
});

test('a plain path becomes a truncated recording opened write-only, append', () => {
  const dir = tmpDir('tty');
  const p = path.join(dir, 'line.bin');
  fs.writeFileSync(p, 'old contents');
  const line = openWriteOnlyTty(p, 115200);
  assert.is(line.kind, 'file');
  assert.is(fs.statSync(p).size, 0);
  const flags = fdFlags(line.fd);
  assert.is(flags & O_ACCMODE, fs.constants.O_WRONLY);
  assert.ok(flags & fs.constants.O_APPEND);
  fs.closeSync(line.fd);
});

test('refuses an empty path', () => {
  assert.throws(() => openWriteOnlyTty('', 115200), /channel\.path/);
});

test('explains a tty that does not exist', () => {
  assert.throws(() => openWriteOnlyTty('/dev/ttyNOSUCH9', 115200), /does not exist/);
});

test('refuses a directory', () => {
  assert.throws(() => openWriteOnlyTty(tmpDir('ttydir'), 115200), /directory/);
});

test('explains a path that cannot be created', () => {
  assert.throws(() => openWriteOnlyTty('/proc/sealtap-line', 115200), /not writable|does not exist|cannot open/);
});

test('refuses a baud rate that is not a positive integer', () => {
  assert.throws(() => openWriteOnlyTty('/tmp/x', 0), /positive integer/);
});

test('explains a baud rate the tty does not support', async () => {
  const pty = await openPtyPair();
  try {
    assert.throws(() => openWriteOnlyTty(pty.box, 12345), /baud rate/);
  } finally {
    await pty.close();
  }
});

test('explains EBUSY: another program holds the tty', () => {
  const e = Object.assign(new Error('busy'), { code: 'EBUSY' });
  assert.match(lineError('/dev/ttyS1', e).message, /busy \(EBUSY\).*stop that program/);
});

test('explains EACCES: fix the permissions', () => {
  const e = Object.assign(new Error('denied'), { code: 'EACCES' });
  assert.match(lineError('/dev/ttyS1', e).message, /not writable/);
});

test.run();
