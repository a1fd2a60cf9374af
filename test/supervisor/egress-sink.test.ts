// The supervisor's egress sink on a batch of PACKET records as the analysis sends them
// (back to back): each record is checked where it lies, each stretch of passed records
// goes to the channel as one run, and a refused record splits the stretch, counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { egressSink } from '../../firmware/supervisor/egress-sink';
import { EgressGuard } from '../../firmware/egress/guard';
import { hashAddress } from '../../firmware/analysis/addresses';
import { SecretKey } from '../../firmware/keys/secret-key';
import { RecordType } from '../../firmware/channel/records';
import { build, eth, ipv4, udp } from '../lib/craft';
import type { RunCounters } from '../../firmware/supervisor/counters';
import type { OperatorLog } from '../../firmware/supervisor/oplog';

/** A pcap record (16-byte header + frame), numbered in its timestamp. */
function record(n: number, src: string): Buffer {
  const frame = build(eth(), ipv4({ src, dst: '10.2.2.2' }), udp({ sport: 1, dport: 2 }));
  const r = Buffer.alloc(16 + frame.length);
  r.writeUInt32LE(n, 0);
  r.writeUInt32LE(frame.length, 8);
  r.writeUInt32LE(frame.length, 12);
  frame.copy(r, 16);
  return r;
}

test('a batch of packets goes out as runs around the records the guard refuses, each record counted once', () => {
  const key = SecretKey.fromBytes(Buffer.alloc(32, 7));
  const guard = new EgressGuard(key);
  const raw = Buffer.from([192, 0, 2, 77]);
  guard.learn(hashAddress(key, raw, Buffer.alloc(32)).subarray(0, 8));
  // Records 3, 4 and 9 carry the raw address; 9 is the last.
  const refusedAt = new Set([3, 4, 9]);
  const recs = Array.from({ length: 10 }, (_, i) => record(i, refusedAt.has(i) ? '192.0.2.77' : `10.1.1.${i + 1}`));
  const runs: number[][] = [];
  const counted: Record<number, number> = {};
  const warnings: string[] = [];
  const counters = { egressRefused: 0 } as RunCounters;
  const sink = egressSink({
    guard, egressKey: key, counters, linkType: () => 1,
    send: () => { assert.unreachable('PACKET records go as runs'); return false; },
    sendPackets: (run, count) => {
      const ids: number[] = [];
      for (let off = 0; off < run.length; off += 16 + run.readUInt32LE(off + 8)) ids.push(run.readUInt32LE(off));
      assert.is(ids.length, count, 'the count is the records in the run');
      runs.push(ids);
      return count;
    },
    countRecord: (t, n = 1) => void (counted[t] = (counted[t] ?? 0) + n),
    log: { warn: (m: string) => warnings.push(m) } as unknown as OperatorLog,
  });
  sink.packets(Buffer.concat(recs), recs.length);
  assert.equal(runs, [[0, 1, 2], [5, 6, 7, 8]]);
  assert.is(counted[RecordType.PACKET], 7);
  assert.is(counters.egressRefused, 3);
  assert.ok(warnings.some((w) => /refused a PACKET record carrying a raw address/.test(w)), warnings.join('\n'));
});

test('a batch of known conversations is checked without opening the egress key; a new value opens it once for the rest of the batch, with the same verdicts', () => {
  const key = SecretKey.fromBytes(Buffer.alloc(32, 9));
  const guard = new EgressGuard(key);
  guard.learn(hashAddress(key, Buffer.from([192, 0, 2, 77]), Buffer.alloc(32)).subarray(0, 8));
  // Openings of the key: outermost use() calls, the ones that change its protection.
  let uses = 0;
  let depth = 0;
  const use = key.use.bind(key);
  key.use = ((fn: (k: Buffer) => unknown) => {
    if (depth++ === 0) uses++;
    try {
      return use(fn);
    } finally {
      depth--;
    }
  }) as typeof key.use;
  const batch = (srcs: string[]): Buffer => Buffer.concat(srcs.map((src, i) => record(i, src)));
  const sent: number[] = [];
  const counters = { egressRefused: 0 } as RunCounters;
  const sink = egressSink({
    guard, egressKey: key, counters, linkType: () => 1,
    send: () => false,
    sendPackets: (_run, count) => { sent.push(count); return count; },
    countRecord: () => {},
    log: { warn: () => {} } as unknown as OperatorLog,
  });
  const clean = ['10.1.1.1', '10.1.1.2', '10.1.1.3', '10.1.1.4'];
  sink.packets(batch(clean), clean.length);
  assert.equal(sent, [4]);
  assert.is(uses, 2, 'opened by the guard for the first new value, then once for the rest of the batch');
  uses = 0;
  sink.packets(batch(clean), clean.length);
  assert.equal(sent, [4, 4], 'the same verdicts');
  assert.is(uses, 0, 'every value was in the cache');
  // A raw value is never cached (the cache holds only what passed): it opens the key.
  const mixed = ['10.1.1.1', '10.1.1.2', '192.0.2.77', '10.1.1.9', '10.1.1.4'];
  sink.packets(batch(mixed), mixed.length);
  assert.equal(sent, [4, 4, 2, 2]);
  assert.is(counters.egressRefused, 1);
  assert.is(uses, 2, 'for the raw value, then once for the rest of the batch');
});

test('records past the end of the bytes are refused, never sent: the guard sees where they end', () => {
  const key = SecretKey.fromBytes(Buffer.alloc(32, 8));
  const guard = new EgressGuard(key);
  const recs = Array.from({ length: 4 }, (_, i) => record(i, `10.1.1.${i + 1}`));
  const bytes = Buffer.concat(recs);
  const cut = bytes.subarray(0, bytes.length - 5); // the last record 5 bytes short of its caplen
  const sent: number[] = [];
  const counters = { egressRefused: 0 } as RunCounters;
  const sink = egressSink({
    guard, egressKey: key, counters, linkType: () => 1,
    send: () => false,
    sendPackets: (run, count) => {
      assert.is(run.length, recs[0].length * 3, 'whole records only');
      sent.push(count);
      return count;
    },
    countRecord: () => {},
    log: { warn: () => {} } as unknown as OperatorLog,
  });
  // Five records claimed where three and a part are: the part and the one that is not there are refused.
  sink.packets(cut, 5);
  assert.equal(sent, [3]);
  assert.is(counters.egressRefused, 2);
});

test('what the channel refuses of a run is not counted as sent', () => {
  const key = SecretKey.fromBytes(Buffer.alloc(32, 9));
  const guard = new EgressGuard(key);
  const recs = Array.from({ length: 6 }, (_, i) => record(i, `10.1.1.${i + 1}`));
  let counted = 0;
  const sink = egressSink({
    guard, egressKey: key, counters: { egressRefused: 0 } as RunCounters, linkType: () => 1,
    send: () => false,
    sendPackets: (_run, count) => count - 2,
    countRecord: (_t, n = 1) => void (counted += n),
    log: { warn: () => {} } as unknown as OperatorLog,
  });
  sink.packets(Buffer.concat(recs), recs.length);
  assert.is(counted, 4);
});

test.run();
