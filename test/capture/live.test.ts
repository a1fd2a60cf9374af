// Live capture: real libpcap on a veth pair in network namespaces made by the test,
// fed by tcpreplay. The box must count exactly what was sent, and its capture
// interface must transmit nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VethPair, withVethPair } from '../lib/netns';
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

/**
 * Runs the box on the pair's capture end with `source`, replays `trace` at `pps`, then
 * stops it at once: the stop takes what the kernel still holds (a partly filled block
 * is handed over at its read timeout), so no wait is needed for the last packets.
 */
async function captureRun(pair: VethPair, source: Record<string, unknown>, trace: string, pps: number): Promise<{ sent: number; summary: Record<string, any>; console: string }> {
  const dir = fs.mkdtempSync(path.join(work, 'run-'));
  fs.mkdirSync(path.join(dir, 'spool'));
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({
    source: { interface: pair.captureIf, ...source },
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
  const { sent } = await pair.replay(trace, { pps });
  box.kill('SIGTERM');
  assert.is(await done, 0, console);
  return { sent, summary: receive(path.join(dir, 'line.raw')).summary, console };
}

test('captures exactly the packets tcpreplay sent, and the capture interface transmits nothing', async () => {
  await withVethPair(async (pair) => {
    const before = await pair.counters(pair.captureNs, pair.captureIf);
    const { sent, summary: s, console } = await captureRun(pair, {}, sample.file, 20_000);
    assert.is(sent, sample.expect.packets);
    const after = await pair.counters(pair.captureNs, pair.captureIf);
    assert.is(s.captured, sent, console);
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
    const trace = sampleTrace(fs.mkdtempSync(path.join(work, 'imix-')), ['--kind', 'imix', '--packets', '20000', '--flows', '512']);
    const { sent, summary: s, console } = await captureRun(pair, { threads: 2 }, trace.file, 50_000);
    assert.is(sent, 20000);
    assert.match(console, /in 2 threads \(packet fanout by flow\)/);
    // A socket outside the group would take a copy of everything: captured would double.
    assert.is(s.captured, sent, console);
    assert.is(s.kernelDropped, 0);
    assert.is(s.spoolDropped, 0);
    assert.is(s.analysed, s.captured);
  });
});

test('a BPF filter limits what is captured', async () => {
  await withVethPair(async (pair) => {
    const { summary: s } = await captureRun(pair, { filter: 'arp' }, sample.file, 20_000);
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
