// A recording read as the line: every byte once and in order through the two reused
// read buffers, held while paused (the IPFIX forwarder's backpressure), and stopped
// (--until-end, a signal) with the file closed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { openLineSource } from '../../firmware/receiver/line-source';
import { tmpDir } from '../lib/channel-fixtures';

/** 3.5 MiB of bytes that differ from chunk to chunk: a reused buffer handed on twice would show. */
function recording(): { file: string; bytes: Buffer } {
  const bytes = Buffer.alloc(3.5 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i);
  const file = path.join(tmpDir('line-source'), 'line.raw');
  fs.writeFileSync(file, bytes);
  return { file, bytes };
}

/**
 * Calls `then` once after each of the source's reads has been handled (the chunk handed
 * on, or held while paused): the events the pause tests wait for. Undone by the result.
 */
function afterReads(then: () => void): () => void {
  // The module object itself (the import above is a view of it with getters).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const f = require('node:fs') as { read: (...a: unknown[]) => void };
  const orig = f.read;
  f.read = (...args: unknown[]) => {
    const cb = args[args.length - 1] as (...r: unknown[]) => void;
    orig(...args.slice(0, -1), (...r: unknown[]) => {
      cb(...r);
      then();
    });
  };
  return () => { f.read = orig; };
}

/** FIFO ends this file's tests leave open until the process ends (see their use). */
const keptOpen: number[] = [];

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('every byte once and in order, each chunk a copy taken at once', async () => {
  const { file, bytes } = recording();
  const got: Buffer[] = [];
  const src = await openLineSource(file, 115200, (c) => got.push(Buffer.from(c)));
  await src.done;
  assert.is(src.kind, 'file');
  assert.ok(got.length >= 4, `${got.length} chunks`);
  assert.ok(Buffer.concat(got).equals(bytes));
});

test('a FIFO (a line recorded while it is read) is read to its writer\'s end, in order', async () => {
  const { bytes } = recording();
  const fifo = path.join(tmpDir('line-fifo'), 'line.fifo');
  assert.is(spawnSync('mkfifo', [fifo]).status, 0);
  const got: Buffer[] = [];
  // The writer: another process, in three pieces, then it closes the FIFO.
  const writer = spawn(process.execPath, ['-e', `
    const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(fifo)}, 'w');
    const b = Buffer.alloc(${bytes.length}); for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(i, i);
    for (let o = 0; o < b.length; o += 1300000) fs.writeSync(fd, b, o, Math.min(1300000, b.length - o));
    fs.closeSync(fd);`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));
  const src = await openLineSource(fifo, 115200, (c) => got.push(Buffer.from(c)));
  await src.done;
  assert.is(await exited, 0);
  assert.ok(Buffer.concat(got).equals(bytes));
});

test('stopped while a FIFO still waits for its writer: done resolves, nothing is read', async () => {
  const fifo = path.join(tmpDir('line-fifo'), 'line.fifo');
  assert.is(spawnSync('mkfifo', [fifo]).status, 0);
  const before = openFds();
  let chunks = 0;
  const src = await openLineSource(fifo, 115200, () => void chunks++);
  // This thread is free while the open waits (a Ctrl-C is handled): stop from a timer turn.
  await new Promise<void>((resolve) => setImmediate(resolve));
  src.stop();
  await src.done;
  assert.is(chunks, 0);
  // Let the waiting open finish, whenever the thread pool runs it, so that no thread
  // stays blocked on the FIFO: opened for reading and writing, a FIFO never waits (a
  // write-only open fails with ENXIO while the source's open is still queued), and it
  // stays open for the rest of this process.
  keptOpen.push(fs.openSync(fifo, 'r+'));
  // The source closes what its open returns: then only the end kept here is left.
  const deadline = Date.now() + 10_000;
  while (openFds() !== before + 1) {
    assert.ok(Date.now() < deadline, `the source's end of the FIFO is still open (${openFds()} fds, ${before} before)`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
});

test('paused, a chunk read meanwhile waits for resume; nothing comes while paused', async () => {
  const { file, bytes } = recording();
  const got: Buffer[] = [];
  let paused = false;
  let whilePaused = 0;
  let heldReads = 0;
  let readsDone = 0;
  let resumeAfter = Infinity;
  // The read that completes while paused is held; resume once it has been.
  const undo = afterReads(() => {
    if (++readsDone < resumeAfter) return;
    resumeAfter = Infinity;
    heldReads++;
    paused = false;
    src.resume!();
  });
  let src: Awaited<ReturnType<typeof openLineSource>>;
  try {
    src = await openLineSource(file, 115200, (c) => {
      if (paused) whilePaused++;
      got.push(Buffer.from(c));
      if (got.length === 1) {
        paused = true;
        src.pause!();
        // This read's own end comes next, then the one already asked for: resume after that.
        resumeAfter = readsDone + 2;
      }
    });
    await src.done;
  } finally {
    undo();
  }
  assert.is(heldReads, 1, 'one chunk was read while paused');
  assert.is(whilePaused, 0);
  assert.ok(Buffer.concat(got).equals(bytes));
});

test('stopped from inside a chunk: no chunk after it, done resolves, the file is closed', async () => {
  const { file, bytes } = recording();
  const before = openFds();
  const got: Buffer[] = [];
  const src = await openLineSource(file, 115200, (c) => {
    got.push(Buffer.from(c));
    src.stop();
  });
  await src.done;
  assert.is(got.length, 1);
  assert.ok(got[0].equals(bytes.subarray(0, got[0].length)));
  assert.is(openFds(), before, 'the recording is closed');
});

test('stopped while paused with a chunk held: the chunk never comes, done resolves, the file is closed', async () => {
  const { file } = recording();
  const before = openFds();
  let chunks = 0;
  let stopped = false;
  let readsDone = 0;
  const undo = afterReads(() => {
    // The first read's chunk was handed on; the second completes while paused: held.
    if (++readsDone === 2) {
      stopped = true;
      src.stop();
    }
  });
  let src: Awaited<ReturnType<typeof openLineSource>>;
  try {
    src = await openLineSource(file, 115200, () => {
      chunks++;
      src.pause!();
    });
    await src.done;
  } finally {
    undo();
  }
  assert.ok(stopped);
  assert.is(chunks, 1);
  assert.is(openFds(), before, 'the recording is closed');
});

test.run();
