// The outbox on the spool behind a real line nobody reads: the backlog goes to sealed
// files instead of RAM, and once a receiver attaches everything still queued arrives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { receive } from '../../firmware/receiver/receive';
import { makeEnd, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn, sendMix } from '../lib/channel-recording';
import { until } from '../lib/until';
import { fixedKeyring } from '../lib/fixed-keyring';

const BAUD = 921600;

test('a stalled line spills the backlog to sealed files on the spool, and it all drains once read', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('spill-out');
  const dir = path.join(tmpDir('spill-spool'), 'outbox');
  const keyring = fixedKeyring();
  try {
    // Frames uncompressed: the bound below on records lost before the attach counts
    // line bytes per flow, which deflate (on by default on a tty) makes unpredictable:
    // a well-compressed frame carries many more flows than its bytes / 60.
    const { ch } = channelOn(pty.box, { baud: BAUD, outboxBytes: 16 << 20, bootEveryMs: 200, deflate: false, spill: { dir, key: keyring.subkey('channel'), memoryBytes: 64 * 1024 } });
    const sent = await sendMix(ch, 30, 100, 2);
    // Stalled: the kernel's buffers are full (the writer found no room) and the outbox spilled.
    await until(() => `only ${ch.stats().spilledBytes} bytes spilled, line full ${ch.stats().lineFull} times`, () => ch.stats().spilledBytes > 256 * 1024 && ch.stats().lineFull > 0);
    const stalled = ch.stats();
    assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.sealed')), 'no spill file on the spool');
    assert.equal(stalled.dropped, {});
    // Attach: the kernel's buffered bytes are flushed on open (as a UART loses what no one
    // heard); everything the outbox still held, in memory and on disk, must arrive.
    const receiving = receive({ input: pty.workstation, out, baud: BAUD, untilEnd: true });
    const closed = await ch.close(makeEnd(), 60000);
    assert.ok(closed.drained, `drained (left ${closed.leftBytes})`);
    const summary = await receiving;
    assert.is(summary.missingFrames, 0);
    assert.is(summary.complete, true);
    const lostBeforeAttach = stalled.bytesWritten; // at most this much line was flushed unheard
    assert.ok(summary.records.FLOW >= sent.FLOW - Math.ceil(lostBeforeAttach / 60), `flows ${summary.records.FLOW} of ${sent.FLOW}`);
    assert.equal(fs.readdirSync(dir), [], 'spill files left after the drain');
  } finally {
    keyring.wipe();
    await pty.close();
  }
});

test.run();
