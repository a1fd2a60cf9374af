// The real line: a socat pty pair, openChannel writing one end, `receive` (serialport)
// reading the other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { makeEnd, makeFlow, makePacket, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { encodeFlow } from '../../firmware/channel/result-codec';
import { TARGET_BODY_BYTES } from '../../firmware/channel/frame';
import { channelOn, sendMix, untilHearing } from '../lib/channel-recording';
import { until } from '../lib/until';
import { DEFAULT_TTY_FEC } from '../../firmware/channel/fec';

// A tty gets FEC by default; --until-end stops at END and does not wait for the m repair
// frames of the last group, which follow END (they arrive only if read with END's chunk).
const AFTER_END = DEFAULT_TTY_FEC.m;

const BAUD = 921600;

/** The open flags of this process's fd on `dev`, from /proc/self/fdinfo. */
function flagsOfOpen(dev: string): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try { target = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target !== dev) continue;
    const m = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    out.push(parseInt(m![1], 8));
  }
  return out;
}

test('everything sent over a pty arrives; summary.json equals the END counters', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('pty');
  try {
    const receiving = receive({ input: pty.workstation, out, baud: BAUD, untilEnd: true });
    await untilHearing(pty.box, path.join(out, 'line.raw'));
    const { ch } = channelOn(pty.box, { baud: BAUD, bootEveryMs: 300 });
    const boxFlags = flagsOfOpen(pty.box);
    assert.is(boxFlags.length, 1, 'the box holds exactly one fd on its tty');
    assert.is(boxFlags[0] & 3, fs.constants.O_WRONLY, 'opened write-only');
    // Bytes toward the box: the box never reads them, nothing changes.
    const toward = fs.openSync(pty.workstation, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
    fs.writeSync(toward, Buffer.from('\x00\x03AT+RESET\r\n\x00garbage\x00'.repeat(50)));
    fs.closeSync(toward);
    const sent = await sendMix(ch, 8, 25, 20);
    const end = makeEnd(4242);
    const closed = await ch.close(end, 20000);
    assert.ok(closed.drained, 'drained before the deadline');
    const summary = await receiving;
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.equal(onDisk, JSON.parse(JSON.stringify(summary)));
    assert.equal(onDisk.records, onDisk.endRecords, 'records per type equal the END record');
    assert.is(onDisk.recordsMatchEnd, true);
    for (const k of ['captured', 'kernelDropped', 'spoolDropped', 'analysed', 'quarantined'] as const) assert.is(onDisk[k], end[k], k);
    assert.is(onDisk.records.FLOW, sent.FLOW);
    assert.is(onDisk.records.PACKET, sent.PACKET);
    assert.ok(onDisk.frames >= ch.stats().framesSent - AFTER_END && onDisk.frames <= ch.stats().framesSent, `${onDisk.frames} frames`);
    assert.is(onDisk.badFrames, 0);
    assert.is(onDisk.missingFrames, 0);
    assert.is(onDisk.sessions[0].checkpoints.failed, 0);
    assert.ok(onDisk.sessions[0].checkpoints.verified > 0);
    const flows = fs.readFileSync(path.join(out, 'flows.jsonl'), 'utf8').trim().split('\n');
    assert.is(flows.length, sent.FLOW);
    const t = spawnSync('tshark', ['-r', path.join(out, 'trace.pcap'), '-T', 'fields', '-e', 'frame.len'], { encoding: 'utf8' });
    assert.is(t.status, 0, t.stderr);
    assert.is(t.stdout.trim().split('\n').length, sent.PACKET, 'tshark reads every packet');
    assert.equal(fs.readFileSync(path.join(out, 'line.raw')).length, summary.channel.bytesRead);
  } finally {
    await pty.close();
  }
});

test('a line nobody reads: the outbox holds the backlog, the event loop runs, and it drains later', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('stall');
  try {
    const { ch } = channelOn(pty.box, { baud: BAUD, outboxBytes: 4 << 20, bootEveryMs: 200 });
    let maxLag = 0;
    let last = Date.now();
    const ticker = setInterval(() => {
      const now = Date.now();
      maxLag = Math.max(maxLag, now - last - 10);
      last = now;
    }, 10);
    const sent = await sendMix(ch, 20, 60, 5);
    // Stalled: the kernel's buffers are full and the writer keeps finding no room.
    await until(() => `the line never filled: ${ch.stats().bytesWritten} bytes written`, () => ch.stats().lineFull > 0);
    const stalled = ch.stats();
    await until('the writer stopped trying the full line', () => ch.stats().lineFull >= stalled.lineFull + 5);
    const stillStalled = ch.stats();
    clearInterval(ticker);
    assert.ok(stalled.backlogBytes > 100_000, `backlog ${stalled.backlogBytes} held in the outbox`);
    assert.ok(stalled.bytesWritten < 100_000, `only ${stalled.bytesWritten} bytes went into kernel buffers`);
    assert.is(stillStalled.bytesWritten, stalled.bytesWritten, 'nothing more fits the line while nobody reads');
    assert.ok(maxLag < 200, `event loop lag ${maxLag} ms`);
    assert.equal(stalled.dropped, {});
    // Opening the tty flushes what the kernel buffered (as a real UART loses bytes nobody
    // listened to); the receiver syncs at the next BOOT and gets everything after.
    const receiving = receive({ input: pty.workstation, out, baud: BAUD, untilEnd: true });
    const closed = await ch.close(makeEnd(), 30000);
    assert.ok(closed.drained, `drained (left ${closed.leftBytes})`);
    const summary = await receiving;
    const s = summary.sessions[0];
    assert.is(summary.missingFrames, 0);
    assert.ok(s.lastSeq >= ch.stats().framesSent - 1 - AFTER_END, 'every frame up to END arrived');
    assert.is(s.frames, s.lastSeq - s.firstSeq + 1);
    assert.ok(summary.channel.bytesRead > ch.stats().bytesWritten - stalled.bytesWritten - 4096, 'all bytes written after attach arrived');
    // Every flow was framed and written, none dropped. Only the frames before the first
    // one received (s.firstSeq of them, flushed with the kernel buffer) may be missing,
    // and none of them held more flows than fit a frame body.
    assert.is(ch.stats().recordsSent.FLOW, sent.FLOW, 'every flow framed and written');
    assert.equal(ch.stats().dropped, {});
    let smallest = Infinity;
    for (let i = 0; i < sent.FLOW; i++) smallest = Math.min(smallest, (encodeFlow(makeFlow(i)) as Buffer).length);
    const perFrame = Math.floor(TARGET_BODY_BYTES / (2 + smallest));
    const lost = sent.FLOW - summary.records.FLOW;
    assert.ok(lost >= 0 && lost <= s.firstSeq * perFrame, `${lost} flows missing, at most ${s.firstSeq} frames of ${perFrame} lost before attach`);
    assert.is(summary.complete, true);
  } finally {
    await pty.close();
  }
});

test('close on a line nobody reads gives up after drainMs and reports what is left', async () => {
  const pty = await openPtyPair();
  try {
    const { ch } = channelOn(pty.box, { baud: BAUD });
    for (let i = 0; i < 2000; i++) ch.send(RecordType.PACKET, makePacket(i, 200));
    const t0 = Date.now();
    const r = await ch.close(makeEnd(), 600);
    const took = Date.now() - t0;
    assert.not.ok(r.drained);
    assert.ok(r.leftBytes > 0);
    assert.ok(took < 1500, `close took ${took} ms`);
  } finally {
    await pty.close();
  }
});

test.run();
