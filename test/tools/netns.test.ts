import { spawnSync } from 'child_process';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChildProcess } from 'child_process';
import { parseTcpreplayOutput, removeStaleNamespaces, withVethPair } from '../lib/netns';
import { countPcapRecords, readPcap } from '../lib/pcapfile';
import { generated, tempDir } from '../lib/samplegen-files';
import { until } from '../lib/until';

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

/** Resolves when the child has printed text on stderr (tcpdump says "listening on" once its capture is live). */
function stderrSays(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; stderr: ${seen}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function fileHolds(file: string, packets: number, timeoutMs: number): Promise<void> {
  return until(() => `${file} holds ${countPcapRecords(file).count} of ${packets} packets`, () => countPcapRecords(file).count >= packets, timeoutMs, 100);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', () => resolve())));
}

test('tcpdump in the capture namespace receives exactly the packets tcpreplay sent, and the capture end transmits nothing', async () => {
  const { file, truth } = generated({ packets: 2000, seed: 21, ipv6: true });
  const out = path.join(tempDir(), 'netns-capture.pcap');
  await withVethPair(async (p) => {
    const tcpdump = p.spawn(p.captureNs, ['tcpdump', '-i', p.captureIf, '-n', '-U', '-s', '0', '-w', out]);
    await stderrSays(tcpdump, 'listening on', 10_000);
    await p.waitForCapture(p.captureNs, p.captureIf);
    // A rate, not --topspeed: this test is about what arrives, not about overload.
    const sent = await p.replay(file, { pps: 20_000 });
    // tcpdump hands a TPACKET_V3 block to its writer when the block fills or its 1 s
    // timeout expires, and drops what it holds at SIGINT: wait for the file to fill.
    await fileHolds(out, truth.packets, 10_000);
    tcpdump.kill('SIGINT');
    await exited(tcpdump);
    assert.is(sent.sent, truth.packets);
    assert.is(sent.failed, 0);

    const captured = readPcap(out);
    assert.is(captured.error, null);
    assert.is(captured.records.length, truth.packets);
    const original = readPcap(file).records;
    captured.records.forEach((r, i) => assert.ok(r.data.equals(original[i].data), `packet ${i + 1} differs from the one sent`));

    const capture = await p.counters(p.captureNs, p.captureIf);
    const peer = await p.counters(p.peerNs, p.peerIf);
    assert.is(capture.rxPackets, truth.packets);
    assert.is(capture.txPackets, 0);
    assert.is(peer.rxPackets, 0);
  });
});

test('removes its namespaces after the test, also when the test fails', async () => {
  let names: string[] = [];
  let error: Error | null = null;
  try {
    await withVethPair(async (p) => {
      names = [p.captureNs, p.peerNs];
      assert.ok(namespaces().includes(p.captureNs));
      throw new Error('test body failed');
    });
  } catch (e) {
    error = e as Error;
  }
  assert.is(error?.message, 'test body failed');
  assert.is(names.length, 2);
  for (const n of names) assert.not.ok(namespaces().includes(n), `${n} is still there`);
});

test('removes namespaces left by a dead process and keeps those of a live one', async () => {
  const dead = spawnSync('true').pid!;
  const stale = `st-${dead}-0-cap`;
  const live = `st-${process.pid}-999-peer`;
  spawnSync('ip', ['netns', 'add', stale]);
  spawnSync('ip', ['netns', 'add', live]);
  try {
    const removed = await removeStaleNamespaces();
    assert.ok(removed.includes(stale));
    assert.not.ok(namespaces().includes(stale));
    assert.ok(namespaces().includes(live));
  } finally {
    spawnSync('ip', ['netns', 'del', stale]);
    spawnSync('ip', ['netns', 'del', live]);
  }
});

test('refuses tcpreplay output that reports no packets sent', () => {
  assert.throws(() => parseTcpreplayOutput('Fatal Error: failed to open device'), /printed no "Actual:" line/);
  assert.equal(
    parseTcpreplayOutput('Actual: 2000 packets (320402 bytes) sent in 0.10 seconds\nFailed packets:          3\n'),
    { sent: 2000, bytes: 320402, seconds: 0.1, failed: 3, output: 'Actual: 2000 packets (320402 bytes) sent in 0.10 seconds\nFailed packets:          3\n' },
  );
});

test.run();
