// Messages from the analysis process: the supervisor acts on none that fails its
// checks. Every message type with wrong fields, free text, impossible positions and
// counts is refused (validFromChild), and a process that sends one is replaced.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validFromChild, maxRecordsPerSegment, splitPacked } from '../../firmware/analysis/ipc';
import { countRecords } from '../../firmware/spool/pcap-records';

const published = 10;

/** Pcap records with these captured lengths, back to back, as the analysis packs PACKET records. */
function packed(caplens: number[]): Uint8Array {
  const parts = caplens.map((n, i) => {
    const r = Buffer.alloc(16 + n, i + 1);
    r.writeUInt32LE(n, 8);
    r.writeUInt32LE(n, 12);
    return r;
  });
  return new Uint8Array(Buffer.concat(parts));
}
const okDone = { t: 'segmentDone', seq: 3, packets: 100, skipped: null, decodeCounters: { packets: 100, 'truncated.ipv4': 2 }, lastTsUs: 1e15, refused: 0 };

test('accepts what the analysis process writes', () => {
  for (const m of [
    { t: 'ready' }, { t: 'heartbeat' },
    { t: 'addresses', hashes: new Uint8Array(16) },
    { t: 'records', records: [], last: { pos: 5, ord: 0 } },
    { t: 'packets', bytes: packed([60, 0, 1514]), count: 3, last: { pos: 5, ord: 1 } },
    okDone,
    { ...okDone, skipped: 'auth', packets: 0 },
    { t: 'finished', counters: { packets: 5 }, streams: { rtt: { accepted: 3, refused: { rate: 1 } } } },
  ]) assert.ok(validFromChild(m, published), JSON.stringify(m));
});

test('refuses an unknown message type, and anything that is not an object', () => {
  for (const m of [{ t: 'log', msg: 'RAW 10.1.0.26' }, { t: 'segmentdone' }, null, 'ready', 42, [], {}]) assert.not.ok(validFromChild(m, published), JSON.stringify(m));
});

test('refuses packed PACKET records that do not tile their bytes, or whose count is not theirs', () => {
  const ok = packed([60, 590]);
  const last = { pos: 1, ord: 0 };
  const cut = ok.subarray(0, ok.length - 1);
  const longer = new Uint8Array([...ok, 1, 2, 3]);
  for (const [bytes, count] of [[ok, 1], [ok, 3], [ok, 0], [cut, 2], [longer, 2], [new Uint8Array(0), 0], [new Uint8Array(10), 1]] as Array<[Uint8Array, number]>) {
    assert.not.ok(validFromChild({ t: 'packets', bytes, count, last }, published), `${bytes.length} bytes, count ${count}`);
  }
  assert.not.ok(validFromChild({ t: 'packets', bytes: Array.from(ok), count: 2, last }, published), 'a list of numbers is not bytes');
  assert.not.ok(validFromChild({ t: 'packets', bytes: ok, count: 2, last: { pos: -1, ord: 0 } }, published));
  assert.is(countRecords(Buffer.from(ok)), 2);
  assert.equal(splitPacked(ok).map((r) => r.length), [76, 606]);
});

test('refuses a segmentDone with free text where a code belongs', () => {
  assert.not.ok(validFromChild({ ...okDone, skipped: 'RAW 10.1.0.26 -> 10.1.0.27 PAYLOAD' }, published));
});

test('refuses a segmentDone naming a segment never published, or impossible counts', () => {
  for (const over of [{ seq: published + 1 }, { seq: -1 }, { seq: 1.5 }, { packets: maxRecordsPerSegment + 1 }, { packets: -3 }, { packets: 1e308 }, { refused: -1 }, { lastTsUs: 'now' }, { lastTsUs: Number.NaN }]) {
    assert.not.ok(validFromChild({ ...okDone, ...over }, published), JSON.stringify(over));
  }
});

test('refuses counters that are text, negative, fractions or named with free text', () => {
  for (const decodeCounters of [{ packets: 'many' }, { packets: -1 }, { packets: 0.5 }, { 'RAW 10.1.0.26': 1 }, [1, 2], null]) {
    assert.not.ok(validFromChild({ ...okDone, decodeCounters }, published), JSON.stringify(decodeCounters));
  }
  assert.not.ok(validFromChild({ t: 'finished', counters: { packets: 1 }, streams: { rtt: { accepted: 'RAW' } } }, published));
  assert.not.ok(validFromChild({ t: 'finished', counters: { packets: 1 } }, published), 'streams missing');
});

test('refuses records whose last place is impossible, and address batches of the wrong size', () => {
  for (const last of [{ pos: -2, ord: 0 }, { pos: 1.5, ord: 0 }, { pos: 1, ord: -1 }, null, { pos: '1', ord: 0 }]) {
    assert.not.ok(validFromChild({ t: 'records', records: [], last }, published), JSON.stringify(last));
  }
  assert.not.ok(validFromChild({ t: 'records', records: 'x', last: { pos: 1, ord: 0 } }, published));
  assert.not.ok(validFromChild({ t: 'addresses', hashes: new Uint8Array(7) }, published));
  assert.not.ok(validFromChild({ t: 'addresses', hashes: [1, 2, 3, 4, 5, 6, 7, 8] }, published));
});

test.run();
