// examples/port-histogram, run as a researcher runs it: `sealtap run` on the sample
// trace with the example's module and policy, read back with `sealtap receive`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { receive, sampleTrace, tempDir, readLines, repoRoot, sealtap } from '../lib/run-box';
import { readPcap } from '../lib/pcapfile';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';

const example = path.join(repoRoot, 'examples', 'port-histogram');
const work = tempDir('porthist');
const sample = sampleTrace(work);

/** TCP and UDP packets (not fragments) in the trace: what the histogram counts. */
function countedPackets(file: string): { total: number; byPort: Map<string, number> } {
  const p = readPcap(file);
  const v = new PacketView();
  const byPort = new Map<string, number>();
  let total = 0;
  for (const r of p.records) {
    const buf = Buffer.alloc(16 + r.data.length);
    r.data.copy(buf, 16);
    decodePacket(p.linkType, buf, 16, r.data.length, r.origLen, v);
    if ((v.ipProto !== 6 && v.ipProto !== 17) || v.srcPort < 0 || v.isFragment) continue;
    total++;
    for (const port of [v.srcPort, v.dstPort]) byPort.set(`${v.ipProto}/${port}`, (byPort.get(`${v.ipProto}/${port}`) ?? 0) + 1);
  }
  return { total, byPort };
}

function runExample(shards = 1): { code: number; stderr: string; line: string } {
  const config = JSON.parse(fs.readFileSync(path.join(example, 'run.json'), 'utf8'));
  const spool = path.join(work, `spool-${shards}`);
  fs.mkdirSync(spool, { recursive: true });
  const line = path.join(work, `line-${shards}.raw`);
  // The example's own module, policy and outputs; only where packets come from and
  // where results go differ from the box.
  config.source = { pcap: sample.file };
  config.spool = { dir: spool, bytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 };
  config.channel = { path: line, drainSeconds: 30 };
  config.stop = { endOfSource: true };
  config.policy = path.join(example, config.policy);
  config.analysis.module = path.join(example, config.analysis.module);
  config.analysis.shards = shards;
  const file = path.join(work, `run-${shards}.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const r = spawnSync(sealtap, ['run', '--config', file], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stderr: r.stderr + r.stdout, line };
}

test('examples/port-histogram runs with sealtap run and its per-port records arrive', () => {
  const r = runExample();
  assert.is(r.code, 0, r.stderr);
  const got = receive(r.line);
  assert.is(got.summary.analysed, sample.expect.packets);
  assert.is(got.summary.channel.egressRefused, 0);
  const rows = readLines(path.join(got.outDir, 'ports.jsonl'));
  assert.ok(rows.length > 0, 'no histogram records');
  assert.ok(rows.every((f) => (f.ipVersion === 'ip4' || f.ipVersion === 'ip6') && Object.keys(f).length === 11));
  assert.not.ok(fs.existsSync(path.join(got.outDir, 'flows.jsonl')) && readLines(path.join(got.outDir, 'flows.jsonl')).length > 0, 'no flows: the example has no built-in outputs');
  // Every TCP and UDP packet is counted once, in one direction or the other.
  const want = countedPackets(sample.file);
  const counted = rows.reduce((n, f) => n + f.packets + f.revPackets, 0);
  assert.is(counted, want.total);
  // The busiest port of the trace has a record of its own.
  const [busiest] = [...want.byPort].sort((a, b) => b[1] - a[1])[0];
  const [proto, port] = busiest.split('/').map(Number);
  assert.ok(rows.some((f) => f.protocol === proto && f.port === port), `no record for ${busiest}`);
  // Intervals never overlap and times are in order.
  assert.ok(rows.every((f) => f.lastUs >= f.firstUs));
});

test('with 2 shards each module counts the packets of its own flows: together, every TCP and UDP packet once', () => {
  const r = runExample(2);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /analysis in 2 shards/);
  const got = receive(r.line, path.join(work, 'out-2'));
  assert.is(got.summary.analysed, sample.expect.packets);
  assert.is(got.summary.missingFrames, 0);
  const rows = readLines(path.join(got.outDir, 'ports.jsonl'));
  // A module that saw every packet would count each twice.
  assert.is(rows.reduce((n, f) => n + f.packets + f.revPackets, 0), countedPackets(sample.file).total);
});

test('examples/port-histogram ships a module, a policy and a run config', () => {
  for (const f of ['module.js', 'policy.json', 'run.json', 'README.md']) assert.ok(fs.existsSync(path.join(example, f)), f);
  const config = JSON.parse(fs.readFileSync(path.join(example, 'run.json'), 'utf8'));
  assert.is(config.analysis.module, 'module.js');
  assert.equal(config.outputs, []);
});

test.run();
