// The sealed pipeline end to end, in-process: a real pcap through capture, the sealed
// spool, the sandboxed analysis and the line, decoded by the real receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runBox, receive, sampleTrace, tempDir, ledStates, readLines, repoRoot } from '../lib/run-box';
import { readPcap } from '../lib/pcapfile';
import { fixedMaster } from '../lib/fixed-keyring';
import { fixture, packetShapes, shapeDifference } from '../lib/runtime-box';
import { Keyring } from '../../firmware/keys/keyring';
import { LineDecoder } from '../../firmware/receiver/decoder';
import { RecordType, StatusRecord } from '../../firmware/channel/records';
import { event, until } from '../lib/until';

/** The STATUS records of a recorded line, in order. */
function statusRecords(linePath: string): StatusRecord[] {
  const got: StatusRecord[] = [];
  const none = (): void => undefined;
  const d = new LineDecoder({ boot: none, status: (_s, st) => got.push(st), log: none, result: none, packet: none, end: none, sessionClosed: none });
  d.push(fs.readFileSync(linePath));
  d.finish();
  return got;
}

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

// The decisions behind these lines and LED states are transcripts (transcripts.test.ts);
// here one run checks that they reach the real LED files, the console and the line.
test('one run: the LED files go slow blink, heartbeat, on; the operator log tells boot, keys, capture, stop reason and final counters, on the console and the line', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [] } });
  assert.is(run.code, 0);
  assert.equal(ledStates(run.ledWrites), ['slow-blink', 'heartbeat', 'on']);
  assert.ok(run.ledWrites.includes('fault/brightness=0'));
  assert.not.ok(run.ledWrites.includes('fault/brightness=1'));
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

/** Processes whose command line names `text` (the spool dir is among an analysis process's readable paths). */
function processesNaming(text: string): number[] {
  const found: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('a capture that fails at once ends the run with no analysis process left behind', async () => {
  const bad = path.join(tempDir('bad'), 'not-a-trace.pcap');
  fs.writeFileSync(bad, 'no pcap magic here\n');
  const run = await runBox({ config: { source: { pcap: bad }, outputs: ['flows'], analysis: { shards: 2 } } });
  assert.is(run.code, 1);
  assert.match(run.console.join('\n'), /capture failed: .*not-a-trace\.pcap: unknown file format/);
  // The two analysis processes started ahead were never taken: closing the pipeline kills them.
  await until('no analysis process left', () => processesNaming(`${run.spoolDir}/`).length === 0, 5000);
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
  const firstSegment = event();
  const run = await runBox({
    config: { source: { pcap: sample.file, speed: 'original' }, outputs: [] },
    // Once the first segment is on the spool: packets were captured, the replay goes on.
    hooks: { published: (seq) => { if (seq === 0) firstSegment.fire(); } },
    during: (signals) => void firstSegment.happened.then(() => signals.emit('SIGTERM', 'SIGTERM')),
  });
  assert.is(run.code, 0);
  const s = receive(run.linePath).summary;
  assert.ok(s.captured > 0 && s.captured < sample.expect.packets, `captured ${s.captured}`);
  assert.is(s.analysed, s.captured);
  assert.match(run.console.join('\n'), /stopping: signal SIGTERM/);
});

test('STATUS every second: health from the system and the pipeline counters, on the line', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file, speed: 'original' }, outputs: [] },
    // Once the box sent its third STATUS.
    during: (signals, box) => void box.sent(RecordType.STATUS, 3).then(() => signals.emit('SIGTERM', 'SIGTERM')),
  });
  assert.is(run.code, 0);
  const st = statusRecords(run.linePath);
  assert.ok(st.length >= 3, `${st.length} STATUS records in 3.5 s`);
  for (let i = 1; i < st.length; i++) {
    const gap = st[i].uptimeMs - st[i - 1].uptimeMs;
    assert.ok(gap >= 800 && gap <= 1600, `STATUS ${gap} ms after the one before`);
    assert.ok(st[i].captured >= st[i - 1].captured, 'captured went backwards');
  }
  const last = st[st.length - 1];
  assert.ok(last.captured > 0, 'no packets counted');
  assert.ok(last.memTotalBytes > 0 && last.memUsedBytes > 0 && last.memUsedBytes <= last.memTotalBytes);
  assert.ok(last.cpuPercent >= 0 && last.cpuPercent <= 100 * 64);
  assert.ok(last.spoolFill >= 0 && last.spoolFill <= 1);
  for (const k of ['analysed', 'kernelDropped', 'spoolDropped', 'quarantined', 'channelBacklogBytes'] as const) assert.type(last[k], 'number');
  assert.is(last.state, 'capturing');
  // What the live view needs: the pipeline's own CPU and memory apart from the host's,
  // bytes for Mbit/s, time against stop.seconds, every drop cause.
  const own = last.supervisor!;
  const analysis = last.analysis!;
  assert.ok(own.cpuPercent >= 0 && own.cpuPercent <= 100 * 64, `supervisor cpu ${own.cpuPercent}`);
  // The supervisor runs in this test's process here: its RSS is this process's.
  assert.ok(Math.abs(own.rssBytes - process.memoryUsage.rss()) < 256 * 2 ** 20, `supervisor rss ${own.rssBytes}`);
  assert.ok(analysis !== null && analysis.rssBytes > 20 * 2 ** 20, 'the analysis process (a node) is measured');
  assert.ok(analysis.cpuPercent >= 0 && analysis.cpuPercent <= 100 * 64);
  assert.ok(last.capturedBytes! >= last.captured * 42 && last.capturedBytes! <= last.captured * 65535, `${last.capturedBytes} bytes for ${last.captured} packets`);
  assert.ok(last.elapsedMs! > st[0].elapsedMs! && last.elapsedMs! <= last.uptimeMs, 'elapsed since capture started');
  assert.is(last.stopSeconds, null, 'no stop.seconds in this run');
  assert.is(last.outboxDropped, 0);
  assert.is(last.egressRefused, 0);
});

test('a signal while already stopping stops at once, and the keys are still wiped', async () => {
  let keyring: Keyring | null = null;
  const started = Date.now();
  const run = await runBox({
    // The end of the file starts the stop at once; about 3 ms of analysis per packet
    // then makes letting it finish 2,000 packets take ~6 s, and the signal cuts it short.
    config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-slow-module.js') } },
    hooks: { keyring: () => (keyring = Keyring.debugFromBytes(fixedMaster(0x33))) },
    during: (signals, box) => void box.line(/letting analysis finish/).then(() => signals.emit('SIGINT', 'SIGINT')),
  });
  const took = Date.now() - started;
  const text = run.console.join('\n');
  assert.is(run.code, 1, text);
  assert.match(text, /stopping: end of source/);
  assert.match(text, /received SIGINT again: stopping at once/);
  assert.match(text, /keys wiped/);
  assert.ok(took < 5000, `stopping at once took ${took} ms`);
  assert.ok(keyring !== null && (keyring as Keyring).debugIsZeroed(), 'keys not wiped');
  assert.match(text, /drain cut short by a second signal/);
  const analysed = Number(/analysed ([\d,]+)/.exec(text)![1].replace(/,/g, ''));
  assert.ok(analysed < sample.expect.packets, 'the analysis was not cut short');
  // Stopping at once skips the drain: what reached the line is readable, END is not there.
  assert.is(receive(run.linePath).summary.complete, false);
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

/** What anonymization keeps of a flow record: protocol, ports, counts, flags, how it ended. */
function flowShapes(file: string): string[] {
  return readLines(file).map((f) => [f.protocol, f.srcPort, f.dstPort, f.packets, f.bytes, f.revPackets, f.revBytes, f.tcpFlags, f.revTcpFlags, f.endReason].join(' ')).sort();
}

test('with 2 analysis shards the packets and flows outputs hold what one analysis gives', async () => {
  const got: Record<number, { packets: string[]; flows: string[] }> = {};
  for (const shards of [1, 2]) {
    const run = await runBox({ config: { source: { pcap: sample.file }, outputs: ['packets', 'flows'], analysis: { shards } } });
    const text = run.console.join('\n');
    assert.is(run.code, 0, text);
    assert.is(/analysis in 2 shards/.test(text), shards === 2, text);
    const r = receive(run.linePath);
    assert.is(r.summary.analysed, sample.expect.packets);
    assert.is(r.summary.missingFrames, 0);
    assert.ok(r.summary.recordsMatchEnd);
    got[shards] = { packets: packetShapes(path.join(r.outDir, 'trace.pcap')), flows: flowShapes(path.join(r.outDir, 'flows.jsonl')) };
  }
  assert.is(got[1].packets.length, sample.expect.packets);
  assert.equal(shapeDifference(got[1].packets, got[2].packets), []);
  assert.ok(got[1].flows.length > 10, `only ${got[1].flows.length} flows`);
  assert.equal(got[2].flows, got[1].flows);
});

test.run();
