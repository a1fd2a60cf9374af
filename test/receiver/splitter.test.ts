// The line's byte stream split into COBS blocks at 0x00, whatever the read sizes: the
// same blocks, skipped bytes and overlong runs as splitting the whole stream at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlockSplitter, MAX_BLOCK_BYTES } from '../../firmware/receiver/splitter';

function expected(stream: Buffer): { blocks: string[]; skipped: number; overlong: number; pending: number } {
  const first = stream.indexOf(0);
  if (first < 0) return { blocks: [], skipped: stream.length, overlong: 0, pending: 0 };
  const parts = stream.subarray(first + 1).toString('latin1').split('\u0000');
  const pendingPart = parts.pop()!;
  const whole = parts.filter((p) => p.length > 0);
  return {
    blocks: whole.filter((p) => p.length <= MAX_BLOCK_BYTES),
    skipped: first,
    overlong: whole.filter((p) => p.length > MAX_BLOCK_BYTES).length,
    pending: Math.min(pendingPart.length, MAX_BLOCK_BYTES),
  };
}

test('gives the same blocks for every way of cutting the stream into reads', () => {
  let seed = 11;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < 60; t++) {
    const pieces: Buffer[] = [Buffer.alloc(Math.floor(rnd() * 5), 7)];
    for (let k = 0; k < 20; k++) {
      const len = t % 10 === 0 && k === 3 ? MAX_BLOCK_BYTES + 1 + Math.floor(rnd() * 3) : Math.floor(rnd() * 300);
      pieces.push(Buffer.from([0]), Buffer.alloc(len, 1 + (k % 250)));
      if (rnd() < 0.2) pieces.push(Buffer.from([0, 0]));
    }
    const stream = Buffer.concat(pieces);
    const blocks: string[] = [];
    const s = new BlockSplitter((b) => blocks.push(b.toString('latin1')));
    for (let i = 0; i < stream.length;) {
      // Reads of a few bytes, of hundreds, and of several whole blocks (overlong ones too).
      const n = 1 + Math.floor(rnd() * (t % 3 === 0 ? 3 : t % 3 === 1 ? 700 : 3 * MAX_BLOCK_BYTES));
      s.push(stream.subarray(i, i + n));
      i += n;
    }
    const want = expected(stream);
    assert.equal(blocks, want.blocks, `stream ${t}`);
    assert.is(s.skippedBytes, want.skipped);
    assert.is(s.overlongBlocks, want.overlong);
    assert.is(s.pendingBytes(), want.pending);
  }
});

test('a block is handed on in place when it lies in one chunk, and from the splitter\'s buffer when it spans chunks', () => {
  const got: Buffer[] = [];
  const s = new BlockSplitter((b) => got.push(b));
  const chunk = Buffer.from([0, 5, 6, 0, 7]);
  s.push(chunk);
  assert.is(got[0].buffer, chunk.buffer, 'no copy of a block inside the chunk');
  assert.is(got[0].byteOffset, chunk.byteOffset + 1);
  const next = Buffer.from([8, 0]);
  s.push(next);
  assert.equal([...got[1]], [7, 8], 'the block split across the two chunks, whole');
  assert.not.ok(got[1].buffer === chunk.buffer || got[1].buffer === next.buffer, 'assembled apart from either chunk');
});

test('what a callback copies stays as it was after the next chunks (the view is only valid during the call)', () => {
  const kept: number[][] = [];
  const s = new BlockSplitter((b) => kept.push([...b]));
  const chunk = Buffer.from([0, 5, 6, 0, 1, 2]);
  s.push(chunk);
  s.push(Buffer.from([3, 0, 4, 0]));
  chunk.fill(9);
  s.push(Buffer.from([0x0a, 0x0b, 0]));
  assert.equal(kept, [[5, 6], [1, 2, 3], [4], [0x0a, 0x0b]]);
});

test.run();
