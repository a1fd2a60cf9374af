// The sealed analysis boundary against a hostile module: one test per attack class,
// each with a module written against the SDK that tries to get raw data or a key out.
// Every test asserts that the run still ends with END and that nothing raw appears in
// any received file, line byte or console line (test/lib/leak-scan.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { readLines, receive, runBox, sampleTrace, sealtap, tempDir, BoxRun, Received } from '../lib/run-box';
import { spawnSync } from 'node:child_process';
import { fixture, markPacket } from '../lib/runtime-box';
import { filesUnder, findRaw, RawTruth } from '../lib/leak-scan';
import { fixedMaster } from '../lib/fixed-keyring';
import { decodeFile } from '../lib/channel-recording';
import { Keyring, KeyPurpose } from '../../firmware/keys/keyring';

const work = tempDir('hostile');
const sample = sampleTrace(work);
const truth: RawTruth = { ...sample.expect.addresses, marker: sample.expect.marker as string };

/** Received files, the line and the console, scanned for raw data; returns the hits. */
function scan(run: BoxRun, r: Received): string[] {
  const texts: Array<[string, Buffer]> = [['console', Buffer.from(run.console.join('\n'))], ['line', fs.readFileSync(run.linePath)]];
  const pcaps: string[] = [];
  for (const f of filesUnder(r.outDir)) {
    if (f.endsWith('.pcap')) pcaps.push(f);
    else if (!f.endsWith('.ipfix')) texts.push([f, fs.readFileSync(f)]);
  }
  return findRaw(texts, truth, pcaps);
}

function ended(r: Received): void {
  assert.ok(r.summary.complete, 'the run ended with END');
  assert.ok(r.summary.recordsMatchEnd, 'every record END counts arrived');
}

const leakStream = {
  leak: {
    fields: {
      addr: { type: 'address' }, mac: { type: 'mac' }, n: { type: 'count', max: 1_000_000 },
      label: { type: 'enum', values: ['a', 'b'] }, name: { type: 'name' }, hist: { type: 'histogram', bins: 4, max: 255 },
    },
    maxPerSecond: 10_000,
  },
};

test('raw addresses, MACs and payload in every encoding are refused by the schema, anonymized, hashed or stopped by the guard', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file }, outputs: [], policy: 'default', analysis: { module: fixture('hostile-encodings-module.js'), streams: leakStream } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  ended(r);
  assert.equal(scan(run, r), []);
  const leak = readLines(path.join(r.outDir, 'leak.jsonl'));
  assert.ok(leak.length >= 100, `honest records went out (${leak.length})`);
  for (const rec of leak) {
    assert.ok(!truth.ipv4.includes(rec.addr), `addr ${rec.addr} is anonymized`);
    assert.match(String(rec.name), /^[a-z2-7]{12}(\.[a-z2-7]{12})*$|^[a-z2-7]{12}(\.[a-z2-7]{12})*\.com$/);
  }
  assert.ok(r.summary.streamsRefused > 0, 'the misfits were counted');
  assert.match(run.console.join('\n'), /records refused so far/);
  assert.ok(/egress guard refused/.test(run.console.join('\n')), 'the address bytes as histogram bins were stopped by the guard');
});

test('a module finds no key, no sodium-native and no way out of its process', async () => {
  const master = fixedMaster(0x5a);
  const keyBytes: Buffer[] = [Buffer.from(master)];
  const probe = Keyring.debugFromBytes(Buffer.from(master));
  for (const p of Object.keys(KeyPurpose) as Array<keyof typeof KeyPurpose>) probe.subkey(p).use((k) => keyBytes.push(Buffer.from(k)));
  probe.wipe();
  let connected = 0;
  const server = net.createServer((s) => { connected++; s.destroy(); }).listen(47393, '127.0.0.1');
  const outcomes = ['refused', 'absent', 'allowed', 'found', 'pending'];
  const probes = ['net', 'dgram', 'child_process', 'worker_threads', 'inspector', 'fs', 'http', 'cluster', 'vm', 'module', 'sodium-native', 'serialport', 'pcap'].map((m) => `require-${m}`)
    .concat(['net', 'dgram', 'child_process', 'worker_threads', 'inspector'].map((m) => `import-${m}`))
    .concat(['eval', 'new-function', 'process-binding', 'process-send', 'process-channel', 'main-module', 'require-cache', 'env', 'kill-parent', 'kill-init', 'dlopen', 'realm-sodium', 'realm-secret']);
  try {
    const run = await runBox({
      config: {
        source: { pcap: sample.file }, outputs: ['flows'],
        analysis: { module: fixture('hostile-probe-module.js'), streams: { probe: { fields: { probe: { type: 'enum', values: probes }, outcome: { type: 'enum', values: outcomes } }, maxPerSecond: 1000 } } },
      },
      hooks: { keyring: () => Keyring.debugFromBytes(Buffer.from(master)) },
    });
    assert.is(run.code, 0, run.console.join('\n'));
    const r = receive(run.linePath);
    ended(r);
    const got = Object.fromEntries(readLines(path.join(r.outDir, 'probe.jsonl')).map((x) => [x.probe, x.outcome]));
    for (const p of probes) {
      assert.ok(got[p] === 'refused' || got[p] === 'absent', `${p}: ${got[p]}`);
    }
    assert.is(connected, 0, 'no connection reached the host');
    assert.equal(scan(run, r), []);
    for (const [name, data] of [['line', fs.readFileSync(run.linePath)], ...filesUnder(r.outDir).map((f) => [f, fs.readFileSync(f)])] as Array<[string, Buffer]>) {
      for (const k of keyBytes) assert.is(data.indexOf(k.subarray(0, 16)), -1, `${name} carries key bytes`);
    }
  } finally {
    server.close();
  }
});

test('a module that grabs all memory or spins forever is stopped by its limits, its packets quarantined, and the run ends', async () => {
  const one = path.join(work, 'hog1.pcap');
  const two = path.join(work, 'hog2.pcap');
  const a = markPacket(sample.file, one, 30, 'HOG-PACKET');
  const b = markPacket(one, two, a + 40, 'SPIN-PACKET');
  const run = await runBox({
    config: { source: { pcap: two }, outputs: ['flows'], analysis: { module: fixture('hostile-hog-module.js'), heartbeatSeconds: 1, memoryBytes: 128 * 1048576 } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  ended(r);
  const text = run.console.join('\n');
  assert.match(text, /killed by its sandbox/, "the memory hog died of its limit");
  assert.match(text, /stopped answering/);
  assert.is(r.summary.quarantined, 2, `both packets quarantined (${a}, ${b})`);
  assert.is(r.summary.captured, sample.expect.packets);
});

test('frames forged by the module are refused: bad positions, free text, made-up codes; protocol breaks end it like a crash', async () => {
  const marked = path.join(work, 'forge.pcap');
  markPacket(sample.file, marked, 60, 'FORGE-PACKET');
  const run = await runBox({
    config: { source: { pcap: marked }, outputs: ['flows'], analysis: { module: fixture('hostile-forge-module.js'), streams: { forged: { fields: { n: { type: 'count', max: 1 } }, maxPerSecond: 100_000 } } } },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  ended(r);
  const text = run.console.join('\n');
  assert.not.match(text, /RAW|PAYLOAD/);
  assert.match(text, /wrote what its runtime never writes/);
  assert.is(r.summary.quarantined, 1);
  assert.equal(scan(run, r), []);
  assert.ok(readLines(path.join(r.outDir, 'forged.jsonl')).length > 100);
});

test('the development switch runs the module without its sandbox and BOOT, every STATUS and END say so', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file, speed: 'original' }, stop: { seconds: 2.5 }, outputs: ['flows'], status: { everySeconds: 0.5 }, analysis: { module: fixture('runtime-tick-module.js'), streams: { ticks: { fields: { at: { type: 'count', max: Number.MAX_SAFE_INTEGER } }, maxPerSecond: 10 } } } },
    unsandboxed: true,
  });
  assert.is(run.code, 0, run.console.join('\n'));
  assert.match(run.console.join('\n'), /DEVELOPMENT SWITCH: the analysis module runs WITHOUT its sandbox/);
  const r = receive(run.linePath);
  const { got } = decodeFile(run.linePath);
  assert.ok(got.boots.length > 0 && got.boots.every((b) => b.sandbox === 'off'), 'every BOOT says so');
  assert.ok(got.statuses.length >= 2 && got.statuses.every((st) => st.sandbox === 'off'), 'every STATUS says so');
  assert.is(got.ends[0].sandbox, 'off');
  assert.is(r.summary.sandbox, 'off');
});

test('refuses to run when the module sandbox cannot be built: one line naming what is missing, before any key', async () => {
  const run = await runBox({
    config: { source: { pcap: sample.file }, outputs: ['flows'], analysis: { module: fixture('runtime-tick-module.js') } },
    hooks: { jailProblem: () => 'bubblewrap is not installed: run scripts/setup.sh' },
  });
  assert.is(run.code, 1);
  const text = run.console.join('\n');
  assert.match(text, /ERROR the analysis module's sandbox cannot be built: bubblewrap is not installed: run scripts\/setup\.sh/);
  assert.not.match(text, /volatile keys generated/);
  assert.not.match(text, /capturing from/);
  assert.ok(run.ledWrites.includes('fault/brightness=1'), 'the fault LED is on');
});

test('the development switch is refused on a board that runs bundles (the appliance)', () => {
  const dir = tempDir('unsandboxed');
  const cfg = path.join(dir, 'run.json');
  fs.writeFileSync(cfg, JSON.stringify({ source: { pcap: sample.file }, spool: { dir }, channel: { path: path.join(dir, 'line.raw') } }));
  const r = spawnSync(sealtap, ['run', '--config', cfg, '--board', 'qemu-x86_64', '--unsandboxed'], { encoding: 'utf8' });
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--unsandboxed is a development switch; board qemu-x86_64 is an appliance/);
});

test.run();
