// Which lines deflate their frames: a tty by default (its baud rate limits what gets
// out), a pipe or recording file not (they take bytes faster than deflate makes them),
// and the `deflate` option either way. Either line decodes to the same records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FLAG_DEFLATED } from '../../firmware/channel/frame';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { makeEnd, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn, decodeBytes, sendMix, untilHearing } from '../lib/channel-recording';
import { splitFrames } from '../lib/channel-sealed';

/** Result frames on the line, and how many of them are deflated. */
function resultFrames(bytes: Buffer): { frames: number; deflated: number } {
  const results = splitFrames(bytes).map((x) => x.frame).filter((f) => f.type === RecordType.FLOW || f.type === RecordType.DNS || f.type === RecordType.PACKET);
  return { frames: results.length, deflated: results.filter((f) => f.flags & FLAG_DEFLATED).length };
}

async function recordFile(deflate: boolean | undefined): Promise<Buffer> {
  const file = path.join(tmpDir('deflate'), 'line.bin');
  // channelOn turns deflate on for recordings; undefined here restores the writer's default.
  const { ch } = channelOn(file, { deflate });
  const sent = await sendMix(ch, 4, 20);
  assert.ok((await ch.close(makeEnd(), 5000)).drained);
  const bytes = fs.readFileSync(file);
  const { got } = decodeBytes(bytes);
  assert.is(got.flows, sent.FLOW, 'every flow decodes');
  assert.is(got.packets.length, sent.PACKET, 'every packet decodes');
  return bytes;
}

test('a recording file is not deflated by default', async () => {
  const r = resultFrames(await recordFile(undefined));
  assert.ok(r.frames > 10);
  assert.is(r.deflated, 0);
});

test('deflate: true deflates a recording file', async () => {
  const r = resultFrames(await recordFile(true));
  assert.ok(r.deflated > 0 && r.deflated <= r.frames, `${r.deflated} of ${r.frames}`);
});

test('a tty deflates by default, and not with deflate: false', async () => {
  for (const deflate of [undefined, false] as const) {
    const pty = await openPtyPair();
    const out = tmpDir('deflate-tty');
    try {
      const receiving = receive({ input: pty.workstation, out, baud: 921600, untilEnd: true });
      await untilHearing(pty.box, path.join(out, 'line.raw'));
      const { ch } = channelOn(pty.box, { baud: 921600, fec: false, deflate });
      const sent = await sendMix(ch, 3, 20);
      assert.ok((await ch.close(makeEnd(), 10000)).drained);
      const summary = await receiving;
      assert.is(summary.records.FLOW, sent.FLOW);
      const r = resultFrames(fs.readFileSync(path.join(out, 'line.raw')));
      assert.ok(r.frames > 5);
      if (deflate === undefined) assert.ok(r.deflated > 0, `default on a tty: ${r.deflated} of ${r.frames} deflated`);
      else assert.is(r.deflated, 0, 'deflate: false');
    } finally {
      await pty.close();
    }
  }
});

test.run();
