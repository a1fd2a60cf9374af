// The analysis runtime on the real pipeline: poison packets, hangs, crash loops, a
// slow module and a module whose records do not fit its stream, each run through the
// in-process supervisor and read back with the real receiver. (Hostile modules:
// hostile.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runBox, receive, sampleTrace, tempDir, readLines, repoRoot } from '../lib/run-box';
import { readPcap } from '../lib/pcapfile';
import { analysisPids, fixture, markPacket, packetShapes, shapeDifference } from '../lib/runtime-box';

const work = tempDir('runtime');
const sample = sampleTrace(work);

function withoutPacket(shapes: string[], index: number): string[] {
  return shapes.filter((_, i) => i !== index);
}

test('quarantines a packet that crashes the analysis twice, and analyses every other packet', async () => {
  const trace = path.join(work, 'poison.pcap');
  const poisoned = markPacket(sample.file, trace, 700, 'POISON-PACKET');
  const run = await runBox({ config: { source: { pcap: trace }, outputs: ['packets'], analysis: { module: fixture('runtime-poison-module.js') } } });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  assert.is(r.summary.quarantined, 1);
  assert.is(r.summary.captured, sample.expect.packets);
  assert.is(r.summary.analysed, sample.expect.packets - 1);
  const text = run.console.join('\n');
  assert.match(text, /a module threw on a packet; restart 1 of at most 50, suspect packet segment \d+ packet \d+/);
  assert.match(text, /quarantined the packet at segment \d+ index \d+: it stopped the analysis twice/);
  const want = withoutPacket(packetShapes(trace), poisoned);
  assert.equal(shapeDifference(want, packetShapes(path.join(r.outDir, 'trace.pcap'))), []);
});

test('detects a hang by the missing heartbeat, restarts, and quarantines the packet it hangs on', async () => {
  const trace = path.join(work, 'hang.pcap');
  const hung = markPacket(sample.file, trace, 1200, 'HANG-PACKET');
  const run = await runBox({
    config: { source: { pcap: trace }, outputs: ['packets'], analysis: { module: fixture('runtime-hang-module.js'), heartbeatSeconds: 1 } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const text = run.console.join('\n');
  assert.match(text, /the researcher's module stopped answering \(heartbeat timeout\); restart 1/);
  const r = receive(run.linePath);
  assert.is(r.summary.quarantined, 1);
  assert.is(r.summary.analysed, sample.expect.packets - 1);
  const want = withoutPacket(packetShapes(trace), hung);
  assert.equal(shapeDifference(want, packetShapes(path.join(r.outDir, 'trace.pcap'))), []);
});

test('stops restarting a module that always fails at start after analysis.maxRestarts, and still ends the run cleanly', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file }, outputs: ['packets'], analysis: { module: fixture('runtime-fails-at-start-module.js'), maxRestarts: 3 } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const text = run.console.join('\n');
  assert.is((text.match(/could not load or start its analysis modules.*; restart \d of at most 3/g) ?? []).length, 3);
  assert.match(text, /it died 4 times, more than analysis.maxRestarts \(3\) allows/);
  const r = receive(run.linePath);
  // Capture is unaffected: every packet captured and sealed; none analysed.
  assert.is(r.summary.captured, sample.expect.packets);
  assert.is(r.summary.spoolDropped, 0);
  assert.is(r.summary.analysed, 0);
  assert.is(r.summary.complete, true);
  const end = r.summary.sessions[r.summary.sessions.length - 1].end;
  assert.is(end.analysisRestarts, 3);
  assert.is(end.analysed, 0);
  const log = fs.readFileSync(path.join(r.outDir, 'log.txt'), 'utf8');
  assert.match(log, /more than analysis.maxRestarts \(3\) allows/);
});

test('gives the ring back after giving up, so a replay bigger than the spool still finishes', async () => {
  // 2,000 sample packets need more than two 64 KiB slots: capture must not wait forever.
  const run = await runBox({
    config: {
      source: { pcap: sample.file },
      spool: { dir: fs.mkdtempSync(path.join(work, 'spool-')), bytes: 2 * 65536, segmentBytes: 65536 },
      outputs: [],
      analysis: { module: fixture('runtime-fails-at-start-module.js'), maxRestarts: 1 },
    },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  assert.is(r.summary.captured, sample.expect.packets);
  assert.is(r.summary.spoolDropped, 0);
});

test('a module slow on every packet keeps its heartbeat: work yields by the clock, not by packet count', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file }, stop: { packets: 400 }, outputs: [], analysis: { module: fixture('runtime-slow-module.js'), heartbeatSeconds: 0.5 } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  assert.is(r.summary.analysed, 400);
  assert.not.match(run.console.join('\n'), /heartbeat timeout/);
});

test('a record that does not fit its stream is refused alone and counted; the module lives on', async () => {
  const streams = { marks: { fields: { tag: { type: 'enum', values: ['before', 'after', 'bad'] }, n: { type: 'count', max: 1_000_000 } }, maxPerSecond: 100_000 } };
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-misfit-module.js'), streams } } });
  assert.is(run.code, 0, run.console.join('\n'));
  assert.not.match(run.console.join('\n'), /restart 1/);
  const r = receive(run.linePath);
  assert.is(r.summary.analysed, sample.expect.packets);
  const tags = readLines(path.join(r.outDir, 'marks.jsonl')).map((d) => d.tag);
  const each = Math.ceil(sample.expect.packets / 100);
  assert.is(tags.filter((q) => q === 'before').length, each);
  assert.is(tags.filter((q) => q === 'after').length, each);
  assert.not.ok(tags.includes('bad'));
  assert.match(run.console.join('\n'), /records refused so far/);
});

test('a packet by reference keeps the headers the module asks for, rewritten by the policy; a second reference or a bad count is refused', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-packet-layers-module.js') } } });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  const want = readPcap(sample.file).records.filter((p) => p.data.readUInt16BE(12) === 0x0800 && p.data[23] === 6);
  const got = readPcap(path.join(r.outDir, 'trace.pcap'));
  assert.is(got.records.length, want.length);
  for (let i = 0; i < got.records.length; i++) {
    const d = got.records[i].data;
    const ihl = (d[14] & 0x0f) * 4;
    assert.is(d.length, 14 + ihl, 'Ethernet and IPv4 headers only');
    assert.is(got.records[i].origLen, want[i].origLen, 'the original length is kept');
    assert.not.equal([...d.subarray(26, 30)], [...want[i].data.subarray(26, 30)], 'the source address is anonymized');
  }
  assert.equal(r.summary.streamCounts, {});
  assert.match(run.console.join('\n'), /records refused so far/);
});

test('the analysis of the packets output alone stays under 80 MB over 300,000 packets: the IPC buffers of its sent batches are collected as it goes', async () => {
  const trace = path.join(work, 'imix-300k.pcap');
  const gen = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'samplegen', 'main.js'), '--kind', 'imix', '--packets', '300000', '--out', trace], { encoding: 'utf8' });
  assert.is(gen.status, 0, gen.stderr);
  // The high-water mark of each analysis process, read until it exits (the last read is its peak).
  const peakKb = new Map<number, number>();
  let running = true;
  const sampler = (async () => {
    while (running) {
      for (const pid of analysisPids()) {
        const m = /VmHWM:\s+(\d+) kB/.exec(readOr(`/proc/${pid}/status`));
        if (m) peakKb.set(pid, Number(m[1]));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const run = await runBox({ config: { source: { pcap: trace }, outputs: ['packets'], spool: { bytes: 64 * 1024 * 1024, segmentBytes: 4 * 1024 * 1024 } } });
  running = false;
  await sampler;
  fs.rmSync(trace, { force: true });
  assert.is(run.code, 0, run.console.join('\n'));
  assert.is(receive(run.linePath).summary.analysed, 300000);
  assert.ok(peakKb.size > 0, 'no analysis process was seen');
  // Without the collections, 90-95 MB on the development machine (55 MB with them).
  for (const [pid, kb] of peakKb) assert.ok(kb < 80 * 1024, `analysis ${pid} peaked at ${Math.round(kb / 1024)} MB`);
});

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

test.run();
