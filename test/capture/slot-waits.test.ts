// The capture thread's slot pool: when every segment buffer is busy, capture waits for
// one and counts the wait (slotWaits), and no packet is lost or taken twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Capture } from '../../firmware/capture/capture';
import type { CaptureWorkerData } from '../../firmware/capture/worker';
import { allocSlotPool, releaseSlotPool, touchSlotPool, type CaptureDone, type CaptureMessage } from '../../firmware/capture/slots';
import { generated } from '../lib/samplegen-files';
import { until } from '../lib/until';

interface Seen { segments: number; packets: number; done: CaptureDone; waits: number }

/** Replays file into `slots` buffers of 64 KiB; `hold(n)` says whether the nth segment is kept a while. */
function replay(file: string, slots: number, hold: (n: number) => boolean): Promise<Seen> {
  return new Promise((resolve, reject) => {
    let segments = 0;
    let packets = 0;
    const held: number[] = [];
    const capture: Capture = new Capture(
      { source: { kind: 'pcap', path: file, speed: 'max' }, segmentBytes: 65536, slots, flushMs: 250, maxPackets: 0, waitForSlot: true },
      {
        onLinkType: () => {},
        onSegment: (seg) => {
          segments++;
          packets += seg.count;
          if (!hold(segments)) { capture.release(seg.slot); return; }
          held.push(seg.slot);
          // Every buffer is now full: give them back once the capture thread counted its
          // wait for one (it counts before it sleeps); its wait ends when one is free.
          if (held.length === slots) {
            void until('capture counts a wait for a free slot', () => capture.slotWaits() > 0).then(
              () => { for (const s of held.splice(0)) capture.release(s); },
              reject,
            );
          }
        },
        onDone: (done) => { const waits = capture.slotWaits(); void capture.terminate().then(() => resolve({ segments, packets, done, waits })); },
        onFailed: (m) => reject(new Error(m)),
      },
    );
  });
}

test('capture that finds every slot busy waits, counts the wait, and loses nothing', async () => {
  const { file, truth } = generated({ kind: 'imix', packets: 4000 });
  // The first two segments are held until both buffers are full: a wait. (More may
  // follow: the replay can fill both buffers again before they are handed back.)
  const r = await replay(file, 2, (n) => n <= 2);
  assert.is(r.packets, truth.packets, 'every packet of the file reached a segment');
  assert.is(r.done.captured, truth.packets);
  assert.is(r.done.slotDropped, 0);
  assert.ok(r.waits >= 1, 'a wait for a free buffer');
  assert.ok(r.segments > 2, 'the file fills more than the two buffers');
});

test('capture with room for the whole file never waits', async () => {
  // About 360 KB of records: fewer than the eight 64 KiB buffers hold.
  const { file, truth } = generated({ kind: 'imix', packets: 1000 });
  const r = await replay(file, 8, () => false);
  assert.is(r.done.captured, truth.packets);
  assert.is(r.waits, 0);
});

/** State and kernel wait channel of this process's thread named `comm`, or null while there is none. */
function threadNamed(comm: string): { state: string; wchan: string } | null {
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const dir = `/proc/self/task/${tid}`;
    try {
      if (fs.readFileSync(`${dir}/comm`, 'utf8').trim() !== comm) continue;
      const stat = fs.readFileSync(`${dir}/stat`, 'utf8');
      return { state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), wchan: fs.readFileSync(`${dir}/wchan`, 'utf8') };
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return null;
}

test('a capture thread started before its slots are touched waits for them: nothing is read or written until touchSlotPool', async () => {
  const { file, truth } = generated({ kind: 'imix', packets: 1000 });
  const pool = allocSlotPool(8, 65536);
  const wd: CaptureWorkerData = { source: { kind: 'pcap', path: file, speed: 'max' }, pool, flushMs: 250, statsMs: 1000, maxPackets: 0, waitForSlot: true, thread: 0, fanout: null };
  const worker = new Worker(path.join(__dirname, '../../firmware/capture/worker.js'), { workerData: wd });
  const got: CaptureMessage[] = [];
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: CaptureMessage) => { got.push(m); if (m.type === 'done') resolve(); if (m.type === 'failed') reject(new Error(m.message)); });
    worker.on('error', reject);
  });
  try {
    // Named as it starts its work (becomeCaptureThread), then asleep on the pool's ready cell.
    await until(() => `the capture thread asleep at its start (now ${JSON.stringify(threadNamed('sealtap-capture'))})`, () => {
      const t = threadNamed('sealtap-capture');
      return got.length > 0 || (t !== null && t.state === 'S' && /futex/.test(t.wchan));
    });
    assert.equal(got.map((m) => m.type), [], 'the thread opened its source before the slots were touched');
    touchSlotPool(pool);
    await done;
    assert.is(got[0].type, 'linktype');
    const packets = got.reduce((n, m) => n + (m.type === 'segment' ? m.count : 0), 0);
    assert.is(packets, truth.packets);
  } finally {
    await worker.terminate();
    releaseSlotPool(pool);
  }
});

test.run();
