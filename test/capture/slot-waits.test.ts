// The capture thread's slot pool: when every segment buffer is busy, capture waits for
// one and counts the wait (slotWaits), and no packet is lost or taken twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Capture } from '../../firmware/capture/capture';
import type { CaptureDone } from '../../firmware/capture/slots';
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

test.run();
