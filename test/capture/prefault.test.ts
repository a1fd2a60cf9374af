// The addon's prefault (MADV_POPULATE_WRITE): the capture slots, the sealing buffers and
// the analysis' segment buffers are mapped in one call instead of a page fault per page.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchBinding, prefaultedBuffer } from '../../firmware/capture/batch-binding';
import { createSlotPool, releaseSlotPool } from '../../firmware/capture/slots';

const MiB = 1 << 20;

/** Resident bytes of this process, from /proc (what the kernel has mapped). */
function residentBytes(): number {
  return process.memoryUsage.rss();
}

test('maps every page of a fresh buffer at once: the process grows by the buffer before any write', () => {
  const b = Buffer.allocUnsafeSlow(64 * MiB); // large: its own mapping, no page touched yet
  const before = residentBytes();
  assert.is(batchBinding.prefault(b), 0);
  const grown = residentBytes() - before;
  assert.ok(grown >= 60 * MiB, `resident memory grew by ${(grown / MiB).toFixed(1)} MiB, not the 64 MiB prefaulted`);
});

test('changes no byte of the buffer', () => {
  const b = Buffer.allocUnsafeSlow(3 * MiB + 123);
  for (let i = 0; i < b.length; i += 4093) b[i] = (i >> 12) & 0xff;
  const copy = Buffer.from(b);
  assert.is(batchBinding.prefault(b), 0);
  assert.ok(b.equals(copy));
  assert.is(batchBinding.prefault(b.subarray(5, 17)), 0, 'a buffer inside one page: nothing to do, no error');
});

test('prefaultedBuffer is the size asked for; the capture slots come zeroed and mapped', () => {
  assert.is(prefaultedBuffer(4 * MiB + 1).length, 4 * MiB + 1);
  const before = residentBytes();
  const pool = createSlotPool(4, 4 * MiB);
  try {
    const grown = residentBytes() - before;
    assert.ok(grown >= 15 * MiB, `the pool's 16 MiB were not mapped at creation (grew ${(grown / MiB).toFixed(1)} MiB)`);
    const data = new Uint8Array(pool.data);
    for (let i = 0; i < data.length; i += 4096) if (data[i] !== 0) assert.unreachable(`byte ${i} of a new pool is ${data[i]}`);
  } finally {
    releaseSlotPool(pool);
  }
});

test('refuses what is not a Buffer', () => {
  assert.throws(() => batchBinding.prefault('abc' as unknown as Buffer), /prefault\(buffer\) takes a Buffer/);
});

test.run();
