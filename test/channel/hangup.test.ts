// A results tty hung up mid-run, as a USB gadget tty is when the workstation goes away:
// the kernel's TIOCVHANGUP on a real pty makes every write on the box's fd fail with
// EIO, exactly the gadget's state after the host deconfigured it. The writer must open
// the line again, write its recent frames again, and lose nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ReplayWindow } from '../../firmware/channel/replay-window';
import { missingDataFrames } from '../../firmware/receiver/summary';
import { makeEnd, tmpDir } from '../lib/channel-fixtures';
import { channelOn, decodeFile, sendMix } from '../lib/channel-recording';
import { until } from '../lib/until';

// The workstation's end: a pty master copied to a file, which keeps reading through the
// moment the box's side has no open file (EIO on the master until the box opens it
// again), and hangs the box's side up on SIGUSR1.
const WORKSTATION = `
import os, pty, sys, signal, fcntl, select, time, tty
TIOCVHANGUP = 0x5437
m, s = pty.openpty()
tty.setraw(s)
name = os.ttyname(s)
os.close(s)
out = open(sys.argv[1], 'wb')
want = {'hangup': False, 'stop': False}
signal.signal(signal.SIGUSR1, lambda *a: want.__setitem__('hangup', True))
signal.signal(signal.SIGTERM, lambda *a: want.__setitem__('stop', True))
print(name, flush=True)
while not want['stop']:
    if want['hangup']:
        fd = os.open(name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        fcntl.ioctl(fd, TIOCVHANGUP)
        os.close(fd)
        want['hangup'] = False
        print('hung up', flush=True)
    r, _, _ = select.select([m], [], [], 0.05)
    if not r:
        continue
    try:
        data = os.read(m, 65536)
    except OSError:
        time.sleep(0.01)
        continue
    out.write(data)
    out.flush()
`;

interface Workstation { box: string; proc: ChildProcess; lines: AsyncIterableIterator<string> }

async function startWorkstation(file: string): Promise<Workstation> {
  const proc = spawn('python3', ['-c', WORKSTATION, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the pty helper exited before naming its pty');
  return { box: first.value, proc, lines };
}

test('the window keeps the newest frames up to its size, and the one being written even if larger', () => {
  const w = new ReplayWindow(100);
  for (let i = 0; i < 10; i++) w.remember(Buffer.alloc(30, i + 1));
  assert.ok(w.size() >= 100 && w.size() < 130, `kept ${w.size()} bytes`);
  const r = w.replay();
  assert.is(r[0], 0, 'starts with a delimiter');
  assert.is(r[r.length - 1], 10, 'ends with the newest frame');
  const big = new ReplayWindow(100);
  big.remember(Buffer.alloc(10, 1));
  big.remember(Buffer.alloc(500, 2));
  assert.is(big.size(), 500);
});

test('a tty hung up mid-run is opened again and the receiver gets every record once', async () => {
  const dir = tmpDir('hangup');
  const file = path.join(dir, 'line.bin');
  const ws = await startWorkstation(file);
  try {
    const { ch } = channelOn(ws.box, { baud: 4_000_000 });
    const sent1 = await sendMix(ch, 10, 20);
    await until('the first bytes on the line', () => ch.stats().bytesWritten > 4096);
    ws.proc.kill('SIGUSR1');
    const ack = await ws.lines.next();
    assert.is(ack.value, 'hung up');
    await until('the writer to open the line again', () => ch.stats().lineReopens === 1);
    const sent2 = await sendMix(ch, 10, 20);
    const r = await ch.close(makeEnd(), 30_000);
    assert.ok(r.drained, `drained, ${r.leftBytes} bytes left`);
    await until('END at the workstation', () => fs.existsSync(file) && decodeFile(file).got.ends.length === 1);
    const st = ch.stats();
    assert.ok(st.writeErrors >= 1, 'the hangup was seen as a write error');
    const { d, got } = decodeFile(file);
    assert.is(d.sessions.size, 1);
    const s = [...d.sessions.values()][0];
    assert.is(missingDataFrames(s), 0, 'no frame missing');
    assert.ok(s.seq.duplicates > 0, 'the window was written again');
    assert.is(s.checkpoints.failed, 0);
    assert.equal(got.ends[0].records, s.records, 'END counts exactly what arrived');
    assert.is(s.records.FLOW, sent1.FLOW + sent2.FLOW);
    assert.is(s.records.PACKET, sent1.PACKET + sent2.PACKET);
  } finally {
    ws.proc.kill('SIGTERM');
  }
});

test.run();
