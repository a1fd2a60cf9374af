// Live capture: real libpcap on a veth pair in network namespaces made by the test,
// fed by tcpreplay. The box must count exactly what was sent, and its capture
// interface must transmit nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withVethPair } from '../lib/netns';
import { receive, sampleTrace, sealtap, tempDir } from '../lib/run-box';

const work = tempDir('live');
const sample = sampleTrace(work);

/**
 * The operator's signal that capture runs: the "capturing from" line. The packet socket
 * alone is not enough: libpcap binds it before its receive ring exists, and frames that
 * arrive in between never reach the ring.
 */
async function capturing(box: import('node:child_process').ChildProcess, timeoutMs = 20_000): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "capturing from" line within ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    box.stderr?.on('data', (d) => {
      seen += d;
      if (/capturing from interface/.test(seen)) { clearTimeout(timer); resolve(); }
    });
  });
}

function exited(child: import('node:child_process').ChildProcess): Promise<number | null> {
  return new Promise((r) => child.on('exit', (code) => r(code)));
}

test('captures exactly the packets tcpreplay sent, and the capture interface transmits nothing', async () => {
  await withVethPair(async (pair) => {
    const dir = fs.mkdtempSync(path.join(work, 'run-'));
    fs.mkdirSync(path.join(dir, 'spool'));
    const config = {
      source: { interface: pair.captureIf },
      spool: { dir: 'spool', bytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 },
      channel: { path: 'line.raw' },
      outputs: ['flows'],
    };
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(config));
    const before = await pair.counters(pair.captureNs, pair.captureIf);
    const box = pair.spawn(pair.captureNs, [sealtap, 'run', '--config', path.join(dir, 'run.json')]);
    let console = '';
    box.stderr?.on('data', (d) => { console += d; });
    const done = exited(box);
    const ready = capturing(box);
    await pair.waitForCapture(pair.captureNs, pair.captureIf, 20_000);
    await ready;
    const sent = await pair.replay(sample.file, { pps: 20_000 });
    assert.is(sent.sent, sample.expect.packets);
    await new Promise((r) => setTimeout(r, 1500));
    box.kill('SIGTERM');
    assert.is(await done, 0, console);
    const after = await pair.counters(pair.captureNs, pair.captureIf);
    const s = receive(path.join(dir, 'line.raw')).summary;
    assert.is(s.captured, sent.sent, console);
    assert.is(s.kernelDropped, 0);
    assert.is(s.spoolDropped, 0);
    assert.is(s.analysed, s.captured);
    assert.is(after.txPackets - before.txPackets, 0, 'the capture interface transmitted');
    const peer = await pair.counters(pair.peerNs, pair.peerIf);
    assert.is(peer.rxPackets, 0, 'the peer received frames from the capture side');
    assert.match(console, new RegExp(`capturing from interface ${pair.captureIf}`));
  });
});

test('two capture threads in a fanout group take every packet exactly once', async () => {
  await withVethPair(async (pair) => {
    const dir = fs.mkdtempSync(path.join(work, 'run-'));
    fs.mkdirSync(path.join(dir, 'spool'));
    const trace = sampleTrace(fs.mkdtempSync(path.join(work, 'imix-')), ['--kind', 'imix', '--packets', '20000', '--flows', '512']);
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({
      source: { interface: pair.captureIf, threads: 2 },
      spool: { dir: 'spool', bytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024 },
      channel: { path: 'line.raw' },
      outputs: ['flows'],
    }));
    const box = pair.spawn(pair.captureNs, [sealtap, 'run', '--config', path.join(dir, 'run.json')]);
    let console = '';
    box.stderr?.on('data', (d) => { console += d; });
    const done = exited(box);
    const ready = capturing(box);
    await pair.waitForCapture(pair.captureNs, pair.captureIf, 20_000);
    await ready;
    const sent = await pair.replay(trace.file, { pps: 50_000 });
    assert.is(sent.sent, 20000);
    await new Promise((r) => setTimeout(r, 1500));
    box.kill('SIGTERM');
    assert.is(await done, 0, console);
    assert.match(console, /in 2 threads \(packet fanout by flow\)/);
    const s = receive(path.join(dir, 'line.raw')).summary;
    // A socket outside the group would take a copy of everything: captured would double.
    assert.is(s.captured, sent.sent, console);
    assert.is(s.kernelDropped, 0);
    assert.is(s.spoolDropped, 0);
    assert.is(s.analysed, s.captured);
  });
});

test('a BPF filter limits what is captured', async () => {
  await withVethPair(async (pair) => {
    const dir = fs.mkdtempSync(path.join(work, 'run-'));
    fs.mkdirSync(path.join(dir, 'spool'));
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({
      source: { interface: pair.captureIf, filter: 'arp' },
      spool: { dir: 'spool', bytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 },
      channel: { path: 'line.raw' },
      outputs: [],
    }));
    const box = pair.spawn(pair.captureNs, [sealtap, 'run', '--config', path.join(dir, 'run.json')]);
    const done = exited(box);
    const ready = capturing(box);
    await pair.waitForCapture(pair.captureNs, pair.captureIf, 20_000);
    await ready;
    await pair.replay(sample.file, { pps: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    box.kill('SIGTERM');
    assert.is(await done, 0);
    const s = receive(path.join(dir, 'line.raw')).summary;
    assert.is(s.captured, sample.expect.protocols.arp);
  });
});

test('refuses a capture interface that does not exist, before making keys', async () => {
  const dir = tempDir('live-missing');
  fs.mkdirSync(path.join(dir, 'spool'));
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({
    source: { interface: 'nosuch0' }, spool: { dir: 'spool' }, channel: { path: 'line.raw' },
  }));
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(sealtap, ['run', '--config', path.join(dir, 'run.json')], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /source\.interface nosuch0 does not exist/);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.equal(fs.readdirSync(path.join(dir, 'spool')), []);
  assert.not.ok(fs.existsSync(path.join(dir, 'line.raw')));
});

test.run();
