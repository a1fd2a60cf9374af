import * as fs from 'fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { START_US } from '../../tools/samplegen/generate';
import { readPcap } from '../lib/pcapfile';
import { generated } from '../lib/samplegen-files';

function same(a: string, b: string): boolean {
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

test('the same seed gives identical bytes: sample', () => {
  assert.ok(same(generated({ seed: 7 }).file, generated({ seed: 7 }).file));
});

test('the same seed gives identical bytes: sample with IPv6 sessions', () => {
  assert.ok(same(generated({ seed: 7, ipv6: true }).file, generated({ seed: 7, ipv6: true }).file));
});

test('the same seed gives identical bytes: imix with IPv6', () => {
  const o = { kind: 'imix' as const, packets: 5000, seed: 3, ipv6: true };
  assert.ok(same(generated(o).file, generated(o).file));
});

test('the same seed gives identical bytes: small64', () => {
  const o = { kind: 'small64' as const, packets: 5000, seed: 3 };
  assert.ok(same(generated(o).file, generated(o).file));
});

test('a different seed gives different bytes', () => {
  assert.not.ok(same(generated({ seed: 1 }).file, generated({ seed: 2 }).file));
  assert.not.ok(same(generated({ kind: 'imix', packets: 500, seed: 1 }).file, generated({ kind: 'imix', packets: 500, seed: 2 }).file));
});

for (const n of [1, 17, 333, 2000, 4567]) {
  test(`writes exactly ${n} sample packets when asked for ${n}`, () => {
    const { file, truth } = generated({ packets: n });
    const pcap = readPcap(file);
    assert.is(pcap.error, null);
    assert.is(pcap.records.length, n);
    assert.is(truth.packets, n);
  });
}

test('timestamps start at the fixed epoch and never go backwards', () => {
  for (const kind of ['sample', 'imix'] as const) {
    const { file, truth } = generated({ kind, packets: 3000 });
    const recs = readPcap(file).records;
    let prev = 0;
    for (const r of recs) {
      const t = r.tsSec * 1e6 + r.tsUsec;
      assert.ok(t >= prev, `${kind}: timestamp went backwards`);
      assert.ok(r.tsUsec < 1e6);
      prev = t;
    }
    const first = recs[0].tsSec * 1e6 + recs[0].tsUsec;
    assert.ok(first >= START_US && first < START_US + 1e6, `${kind}: first packet at ${first}`);
    assert.is(truth.firstTimestampUs, first);
    assert.is(truth.lastTimestampUs, prev);
  }
});

test('the ground truth packet count, bytes and sizes describe the file as read back', () => {
  for (const o of [{}, { kind: 'imix' as const, packets: 2400, ipv6: true }]) {
    const { file, truth } = generated(o);
    const recs = readPcap(file).records;
    const sizes: Record<string, number> = {};
    let bytes = 0;
    for (const r of recs) {
      sizes[r.caplen] = (sizes[r.caplen] ?? 0) + 1;
      bytes += r.caplen;
      assert.is(r.origLen, r.caplen);
    }
    assert.is(truth.packets, recs.length);
    assert.is(truth.bytes, bytes);
    assert.equal(truth.frameSizes, sizes);
  }
});

test.run();
