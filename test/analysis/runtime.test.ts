// The analysis runtime on the real pipeline: poison packets, hangs, crash loops, a
// leaking module, the sandbox, and a slow module, each run through the in-process
// supervisor and read back with the real receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runBox, receive, sampleTrace, tempDir, readLines } from '../lib/run-box';
import { eachDecoded, fixture, markPacket, packetShapes, shapeDifference } from '../lib/runtime-box';

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
  assert.match(text, /analysis stopped answering \(heartbeat timeout\); restart 1/);
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

/** Source addresses of the first n IPv4 packets, as the leak module sees them. */
function firstIPv4Sources(file: string, n: number): string[] {
  const out: string[] = [];
  eachDecoded(file, (v, buf) => {
    if (v.ipVersion !== 4 || v.ipSrcOff < 0) return;
    out.push(`${buf[v.ipSrcOff]}.${buf[v.ipSrcOff + 1]}.${buf[v.ipSrcOff + 2]}.${buf[v.ipSrcOff + 3]}`);
    return out.length < n;
  });
  return out;
}

test('the egress guard refuses and counts records carrying a raw address; none reaches the line', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-leak-module.js') } } });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  assert.is(r.summary.channel.egressRefused, 10);
  assert.match(run.console.join('\n'), /egress guard refused a FLOW record carrying a raw address \(1 so far\)/);
  const flows = readLines(path.join(r.outDir, 'flows.jsonl'));
  assert.is(flows.length, 5);
  assert.ok(flows.every((f) => f.endReason === 'honest'));
  const line = fs.readFileSync(run.linePath);
  const outputs = ['flows.jsonl', 'log.txt', 'summary.json'].map((f) => fs.readFileSync(path.join(r.outDir, f), 'latin1')).join('\n');
  for (const raw of firstIPv4Sources(sample.file, 5)) {
    assert.not.ok(line.includes(Buffer.from(raw, 'ascii')), `${raw} on the line`);
    assert.not.ok(outputs.includes(raw), `${raw} in the received files`);
    assert.not.ok(flows.some((f) => f.srcAddr === raw || f.dstAddr === raw));
  }
});

test('the sandbox refuses file writes, processes, network and reads outside the spool and code', async () => {
  const probes = ['/tmp/sealtap-sandbox-write-probe', '/tmp/sealtap-sandbox-spawn-probe'];
  for (const p of probes) fs.rmSync(p, { force: true });
  let connections = 0;
  const server = net.createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(47391, '127.0.0.1', () => res()); });
  try {
    const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-sandbox-module.js') } } });
    assert.is(run.code, 0, run.console.join('\n'));
    const r = receive(run.linePath);
    assert.is(r.summary.analysed, sample.expect.packets);
    const seen = Object.fromEntries(readLines(path.join(r.outDir, 'dns.jsonl')).map((d) => d.qname.split(':')));
    assert.is(seen.write, 'ERR_ACCESS_DENIED');
    assert.is(seen.spawn, 'ERR_ACCESS_DENIED');
    assert.is(seen['require-net'], 'ERR_ACCESS_DENIED');
    assert.is(seen['require-dgram'], 'ERR_ACCESS_DENIED');
    assert.is(seen.fetch, 'absent');
    assert.is(seen.passwd, 'ERR_ACCESS_DENIED');
    assert.is(seen.serialport, 'ERR_ACCESS_DENIED');
    assert.is(seen['process-send'], 'absent');
    assert.is.not(seen['import-net'], 'connected');
    assert.is.not(seen['import-net'], undefined);
  } finally {
    await new Promise((res) => server.close(res));
  }
  assert.is(connections, 0);
  for (const p of probes) assert.not.ok(fs.existsSync(p), `${p} was written`);
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

test('a record that cannot cross to the supervisor is dropped alone; the analysis lives on', async () => {
  const run = await runBox({ config: { source: { pcap: sample.file }, outputs: [], analysis: { module: fixture('runtime-unsendable-module.js') } } });
  assert.is(run.code, 0, run.console.join('\n'));
  assert.not.match(run.console.join('\n'), /restart 1/);
  const r = receive(run.linePath);
  assert.is(r.summary.analysed, sample.expect.packets);
  const names = readLines(path.join(r.outDir, 'dns.jsonl')).map((d) => d.qname);
  const each = Math.ceil(sample.expect.packets / 100);
  assert.is(names.filter((q) => q.startsWith('before-')).length, each);
  assert.is(names.filter((q) => q.startsWith('after-')).length, each);
  assert.not.ok(names.includes('bad'));
});

test.run();
