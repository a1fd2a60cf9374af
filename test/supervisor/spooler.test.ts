import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SpoolRing } from '../../firmware/spool/ring';
import { openSegment, SegmentAead } from '../../firmware/spool/segment';
import { readSlotFile } from '../../firmware/spool/slot-files';
import { Spooler } from '../../firmware/supervisor/spooler';
import { RunCounters } from '../../firmware/supervisor/counters';
import { fixedKeyring } from '../lib/fixed-keyring';
import { makeBody, TEST_RUN_ID } from '../lib/spool-segments';
import { within } from '../lib/until';

const SLOT = 64 * 1024;
const key = fixedKeyring().subkey('spool');

test('seals every segment, of whatever size, into at most two reused buffers a whole slot long', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-spooler-'));
  try {
    const ring = SpoolRing.create({ dir, bytes: 16 * SLOT, slotBytes: SLOT });
    const published: number[] = [];
    const released: number[] = [];
    const failures: string[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const publish = ring.publish.bind(ring);
    ring.publish = (slot, sealed) => {
      buffers.add(sealed.buffer);
      return publish(slot, sealed);
    };
    const spooler = new Spooler(ring, key, SegmentAead.aes256gcm, TEST_RUN_ID, 1, false, new RunCounters(), {
      published: (seq) => published.push(seq),
      release: (slot) => released.push(slot),
      dropped: (n, why) => failures.push(`dropped ${n}: ${why}`),
      failed: (m) => failures.push(m),
    });
    // Each segment a little larger than the one before, as a capture slot's fill varies:
    // a buffer sized to one segment is too short for the next.
    const counts = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    counts.forEach((count, i) => {
      const body = makeBody(count, undefined, 200);
      spooler.accept({ type: 'segment', slot: i, used: body.length, count, firstSec: 0, firstUsec: 0, lastSec: 0, lastUsec: 0 }, body);
    });
    await within(spooler.idle(), 'the spooler to write every segment');
    assert.equal(failures, []);
    assert.equal(published, counts.map((_, i) => i));
    assert.equal(released, counts.map((_, i) => i));
    assert.ok(buffers.size <= 2, `${buffers.size} sealing buffers for ${counts.length} segments`);
    for (const [i, count] of counts.entries()) {
      const r = openSegment(key, readSlotFile(ring.slotPath(i)), i);
      assert.ok(!('error' in r), `segment ${i} does not open`);
      if (!('error' in r)) assert.is(r.header.packetCount, count);
    }
    await ring.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
