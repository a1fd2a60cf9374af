// Capture threads started ahead of need (SpareCaptureThreads): a capture takes them and
// captures exactly as with a thread it starts itself; a spare that ended before it was
// taken is not used; the slot pool made ahead is touched by the first spare and taken
// by a capture of its shape; spares never keep the process alive, and close() ends them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Capture, SpareCaptureThreads } from '../../firmware/capture/capture';
import { Ctl, type CaptureMessage } from '../../firmware/capture/slots';
import { generated } from '../lib/samplegen-files';
import { within } from '../lib/until';
import { faultsInFreshProcess, PROBE_HUGE_PAGES } from '../lib/fault-probe';

interface Replayed { packets: number; segments: number; digest: string; captured: number }

/** Replays `file` to its end into eight 64 KiB slots; each segment's bytes go into a digest. */
function replay(file: string, spares: SpareCaptureThreads | null, slotBytes = 65536): Promise<Replayed> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let packets = 0;
    let segments = 0;
    const capture: Capture = new Capture(
      { source: { kind: 'pcap', path: file, speed: 'max' }, segmentBytes: slotBytes, slots: 8, flushMs: 250, maxPackets: 0, waitForSlot: true },
      {
        onLinkType: () => {},
        onSegment: (seg, bytes) => {
          segments++;
          packets += seg.count;
          hash.update(bytes);
          capture.release(seg.slot);
        },
        onDone: (done) => { void capture.terminate().then(() => resolve({ packets, segments, digest: hash.digest('hex'), captured: done.captured })); },
        onFailed: (m) => reject(new Error(m)),
      },
      spares,
    );
  });
}

function exitOf(w: Worker): Promise<number> {
  return new Promise((resolve) => w.once('exit', resolve));
}

test('a capture takes the thread started ahead, which captures exactly what a thread started then does', async () => {
  const { file, truth } = generated({ kind: 'imix', packets: 6000 });
  const own = await within(replay(file, null), 'a capture with a thread of its own reads the file');
  const spares = new SpareCaptureThreads(1);
  const [spare] = spares.waiting();
  const said: string[] = [];
  spare.on('message', (m: CaptureMessage) => said.push(m.type));
  const exited = exitOf(spare);
  const ahead = await within(replay(file, spares), 'a capture with the spare thread reads the file');
  assert.equal(spares.waiting(), [], 'the spare was taken');
  assert.is(await within(exited, 'the spare thread ends when its capture is done'), 0);
  assert.ok(said.includes('linktype') && said.includes('segment') && said.at(-1) === 'done', `the spare did the capturing (it said ${[...new Set(said)].join(', ')})`);
  assert.is(own.packets, truth.packets);
  assert.equal(ahead, own, 'the same segments, byte for byte');
  spares.close();
});

test('a spare that ended before it was taken is not used: the capture starts a thread of its own', async () => {
  const { file, truth } = generated({ kind: 'imix', packets: 3000 });
  const spares = new SpareCaptureThreads(1);
  const [spare] = spares.waiting();
  await within(spare.terminate(), 'the spare ends');
  const r = await within(replay(file, spares), 'a capture whose spare had ended reads the file');
  assert.is(r.packets, truth.packets);
  assert.is(r.captured, truth.packets);
  assert.equal(spares.waiting(), []);
});

test('the slot pool made ahead is touched by the first spare: ready, and its pages take no fault on their first writes', () => {
  const spares = new SpareCaptureThreads(1, { slots: 2, slotBytes: 1 << 20 });
  assert.is(spares.takePool(2, 2 << 20), null, 'a pool of another shape is not handed out');
  assert.is(spares.takePool(2, 1 << 20), null, 'nor the pool once it was refused');
  spares.close();
  // The faults are counted in a process of its own (fault-probe.ts says why).
  const { untouched, poolFaults } = faultsInFreshProcess('spare');
  assert.ok(untouched >= PROBE_HUGE_PAGES, `untouched memory took ${untouched} faults: the fault counter shows nothing here`);
  assert.ok(poolFaults * 8 < untouched, `the pool took ${poolFaults} faults (untouched memory ${untouched})`);
});

test('a capture takes the pool made ahead; a pool whose spare ended first is touched when it is taken', async () => {
  const { file, truth } = generated({ kind: 'imix', packets: 3000 });
  const own = await within(replay(file, null), 'a capture of its own reads the file');
  const spares = new SpareCaptureThreads(1, { slots: 8, slotBytes: 65536 });
  const ahead = await within(replay(file, spares), 'a capture with the pool made ahead reads the file');
  assert.equal(ahead, own, 'the same segments, byte for byte');
  assert.is(spares.takePool(8, 65536), null, 'the capture took the pool');
  spares.close();
  // The spare that was to touch the pool is gone: taking the pool touches it.
  const orphan = new SpareCaptureThreads(1, { slots: 8, slotBytes: 65536 });
  await within(orphan.waiting()[0].terminate(), 'the spare ends');
  const pool = orphan.takePool(8, 65536)!;
  assert.is(Atomics.load(new Int32Array(pool.control), Ctl.ready), 1, 'touched when taken');
  orphan.close();
  const r = await within(replay(file, null), 'a capture after');
  assert.is(r.packets, truth.packets);
});

test('close() ends the spares not taken; spares alone do not keep a process alive', async () => {
  const spares = new SpareCaptureThreads(2);
  const exits = spares.waiting().map(exitOf);
  assert.is(exits.length, 2);
  spares.close();
  await within(Promise.all(exits), 'both spares end at close()');
  assert.equal(spares.waiting(), []);
  // A process that starts spares and never takes or closes them still ends by itself.
  const addon = path.join(__dirname, '../../firmware/capture/capture.js');
  const r = spawnSync(process.execPath, ['-e', `new (require(${JSON.stringify(addon)}).SpareCaptureThreads)(2); console.log('started')`], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.error, undefined, `the process did not end by itself: ${r.error?.message}`);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'started');
});

test.run();
