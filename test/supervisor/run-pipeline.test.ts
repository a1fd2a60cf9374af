// The sealed pipeline end to end, in-process: a real pcap through capture, the sealed
// spool, the sandboxed analysis and the line, decoded by the real receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runBox, receive, sampleTrace, tempDir, ledStates, repoRoot } from '../lib/run-box';
import { readPcap } from '../lib/pcapfile';

const work = tempDir('pipeline');
const sample = sampleTrace(work);

test('replays the sample trace end to end: the receiver summary equals what was sent', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: ['packets'] } });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  const s = r.summary;
  assert.is(s.captured, sample.expect.packets);
  assert.is(s.analysed, sample.expect.packets);
  assert.is(s.kernelDropped, 0);
  assert.is(s.spoolDropped, 0);
  assert.is(s.quarantined, 0);
  assert.is(s.badFrames, 0);
  assert.is(s.missingFrames, 0);
  assert.ok(s.frames > 0);
  assert.is(s.records.PACKET, sample.expect.packets);
  const trace = readPcap(path.join(r.outDir, 'trace.pcap'));
  assert.is(trace.records.length, sample.expect.packets);
});

test('LED states through a run: slow blink while booting, heartbeat while capturing, on when finished', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [] } });
  assert.is(run.code, 0);
  assert.equal(ledStates(run.ledWrites), ['slow-blink', 'heartbeat', 'on']);
  assert.ok(run.ledWrites.includes('fault/brightness=0'));
  assert.not.ok(run.ledWrites.includes('fault/brightness=1'));
});

test('the operator log tells boot, keys, capture, stop reason and final counters, on the console and the line', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [] } });
  const text = run.console.join('\n');
  for (const want of [/booting on board dev/, /volatile keys generated/, /spool ready/, /capturing from file/, /stopping: end of source/, /run finished \(end of source\): captured 2,000/]) {
    assert.match(text, want);
  }
  const r = receive(run.linePath);
  const log = fs.readFileSync(path.join(r.outDir, 'log.txt'), 'utf8');
  assert.match(log, /volatile keys generated/);
  assert.match(log, /stopping: end of source/);
  // Every console line has a monotonic timestamp.
  const stamps = run.console.map((l) => Number(/^\[\s*([\d.]+)\]/.exec(l)?.[1]));
  assert.ok(stamps.every((t, i) => Number.isFinite(t) && (i === 0 || t >= stamps[i - 1])));
});

test('stops after exactly stop.packets packets', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, stop: { packets: 777 }, outputs: [] } });
  assert.is(run.code, 0);
  const s = receive(run.linePath).summary;
  assert.is(s.captured, 777);
  assert.is(s.analysed, 777);
  assert.match(run.console.join('\n'), /stopping: packet count 777 reached/);
});

test('stops on SIGTERM, lets analysis finish and exits 0', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file, speed: 'original' }, outputs: [] },
    during: (signals) => setTimeout(() => signals.emit('SIGTERM', 'SIGTERM'), 1500),
  });
  assert.is(run.code, 0);
  const s = receive(run.linePath).summary;
  assert.ok(s.captured > 0 && s.captured < sample.expect.packets, `captured ${s.captured}`);
  assert.is(s.analysed, s.captured);
  assert.match(run.console.join('\n'), /stopping: signal SIGTERM/);
});

test('counts an authentication failure for a tampered segment, skips it unparsed, and runs on', async () => {
  let flipped = false;
  const run = await runBox({
    config: { source: { pcap: sample.file }, spool: { segmentBytes: 65536 }, outputs: [] },
    hooks: {
      published: (seq, file) => {
        if (seq !== 1 || flipped) return;
        const fd = fs.openSync(file, 'r+');
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, 200);
        b[0] ^= 0x40;
        fs.writeSync(fd, b, 0, 1, 200);
        fs.closeSync(fd);
        flipped = true;
      },
    },
  }).catch((e) => { throw e; });
  assert.ok(flipped, 'segment 1 was published');
  assert.is(run.code, 0);
  const s = receive(run.linePath).summary;
  assert.match(run.console.join('\n'), /segment 1 failed authentication/);
  const end = s.sessions[0].end;
  assert.is(end.spoolAuthFailures, 1);
  assert.ok(s.analysed < s.captured, 'the tampered segment was not analysed');
  assert.ok(s.analysed > 0, 'the other segments were');
});

test('a tiny spool with a stalled analysis drops and counts new packets, never overwrites, never crashes', async () => {
  const run = await runBox({
    config: {
      source: { pcap: sample.file },
      spool: { dir: undefined, bytes: 2 * 65536, segmentBytes: 65536, onFull: 'drop' },
      outputs: [],
      analysis: { module: path.join(repoRoot, 'test', 'fixtures', 'slow-module.js') },
    },
  });
  assert.is(run.code, 0);
  const s = receive(run.linePath).summary;
  assert.is(s.captured, sample.expect.packets);
  assert.ok(s.spoolDropped > 0, 'some packets were dropped');
  // Nothing unanalysed was overwritten: everything kept was analysed.
  assert.is(s.analysed + s.spoolDropped, s.captured);
  assert.match(run.console.join('\n'), /dropped [\d,]+ packets: spool full of unanalysed data/);
});

test.run();
