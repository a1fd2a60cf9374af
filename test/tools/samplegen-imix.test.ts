import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IMIX_PERIOD } from '../../tools/samplegen/bulk';
import { readPcap } from '../lib/pcapfile';
import { generated } from '../lib/samplegen-files';

test('imix frame sizes follow the 7:4:1 mix of 64, 594 and 1518-byte frames (60, 590, 1514 captured)', () => {
  const { file, truth } = generated({ kind: 'imix', packets: 12_000 });
  const recs = readPcap(file).records;
  const count = (n: number): number => recs.filter((r) => r.caplen === n).length;
  assert.is(count(60), 7000);
  assert.is(count(590), 4000);
  assert.is(count(1514), 1000);
  assert.equal(truth.frameSizes, { '60': 7000, '590': 4000, '1514': 1000 });
});

test('every window of 12 consecutive imix frames holds the whole mix', () => {
  const recs = readPcap(generated({ kind: 'imix', packets: 1200, seed: 5 }).file).records;
  for (let i = 0; i + 12 <= recs.length; i += 12) {
    const sizes = recs.slice(i, i + 12).map((r) => r.caplen).sort((a, b) => a - b);
    assert.equal(sizes, [...IMIX_PERIOD].sort((a, b) => a - b));
  }
});

test('small64 frames are all the 60 captured bytes of a 64-byte frame', () => {
  const { file, truth } = generated({ kind: 'small64', packets: 5000 });
  const recs = readPcap(file).records;
  assert.is(recs.length, 5000);
  assert.ok(recs.every((r) => r.caplen === 60));
  assert.equal(truth.frameSizes, { '60': 5000 });
});

test('large1500 frames are all 1514 captured bytes of a 1518-byte frame', () => {
  const { file, truth } = generated({ kind: 'large1500', packets: 2000 });
  const recs = readPcap(file).records;
  assert.is(recs.length, 2000);
  assert.ok(recs.every((r) => r.caplen === 1514 && r.origLen === 1514));
  assert.equal(truth.frameSizes, { '1514': 2000 });
});

test('imix spreads traffic over the requested number of flows, UDP and TCP', () => {
  const { truth } = generated({ kind: 'imix', packets: 50_000, flows: 256 });
  assert.is(truth.flows.total, 256);
  assert.ok(truth.flows.tcp > 50 && truth.flows.udp > 50, JSON.stringify(truth.flows));
  assert.ok(truth.protocols.tcp > 0 && truth.protocols.udp > 0);
});

test('imix --ipv6 puts IPv6 only in the frames large enough for it', () => {
  const { file, truth } = generated({ kind: 'imix', packets: 6000, ipv6: true });
  assert.ok(truth.protocols.ipv6 > 1000, `${truth.protocols.ipv6} IPv6 frames`);
  for (const r of readPcap(file).records) if (r.data.readUInt16BE(12) === 0x86dd) assert.ok(r.caplen > 60);
});

test('a million small64 packets are written in seconds', () => {
  const t0 = process.hrtime.bigint();
  const { truth } = generated({ kind: 'small64', packets: 1_000_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  assert.is(truth.packets, 1_000_000);
  // A few seconds on an idle machine; the bound leaves room for a loaded CI host.
  assert.ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
});

test.run();
