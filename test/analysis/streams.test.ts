// Declared streams: the declarations run.json may hold, the byte format a module's
// records cross in, and the trusted exit that makes every value safe. One behaviour
// per test; each refusal has its own name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseStreams, recordCapacityBits, describeCapacity, StreamError, Streams } from '../../firmware/analysis/streams/schema';
import { decodeFields, encodeField, FrameReader, FrameWriter, ReadValue, Refusal } from '../../firmware/analysis/streams/wire';
import { StreamExit } from '../../firmware/analysis/streams/exit';
import { AnonPrimitives } from '../../firmware/analysis/anonymizer';
import { defaultPolicy } from '../../firmware/anonymize/policy';
import { Keyring, KeyPurpose } from '../../firmware/keys/keyring';
import { fixedMaster } from '../lib/fixed-keyring';

const refuses = (raw: unknown, pattern: RegExp): void => {
  try {
    parseStreams(raw);
  } catch (e) {
    assert.instance(e, StreamError);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(raw)}`);
};

const one = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({ s: { fields, maxPerSecond: 10, ...extra } });

test('refuses a field type that is not declared: there is no free text', () => {
  refuses(one({ note: { type: 'string' } }), /analysis\.streams\.s\.fields\.note\.type: must be one of address, mac, port/);
});

test('refuses a stream named like a file the receiver writes', () => {
  for (const name of ['flows', 'dns', 'summary', 'log', 'schema', 'trace', 'line']) refuses({ [name]: { fields: { n: { type: 'count' } }, maxPerSecond: 1 } }, /taken by the receiver/);
});

test('refuses stream names that are not lowercase words', () => {
  for (const name of ['../x', 'Upper', '1st', 'a-b', 'x'.repeat(33)]) refuses({ [name]: { fields: { n: { type: 'count' } }, maxPerSecond: 1 } }, /stream names are 1 to 32 characters/);
});

test('refuses a stream without a rate limit', () => {
  refuses({ s: { fields: { n: { type: 'count' } } } }, /maxPerSecond: is required/);
});

test('refuses unknown keys in a stream and in a field', () => {
  refuses(one({ n: { type: 'count' } }, { note: 1 }), /s\.note: unknown key/);
  refuses(one({ n: { type: 'count', text: true } }), /fields\.n\.text: unknown key/);
});

test('refuses enum values that are not words, a histogram without bins, a minCount on a non-count', () => {
  refuses(one({ e: { type: 'enum', values: ['a b'] } }), /values: must be a list/);
  refuses(one({ h: { type: 'histogram' } }), /bins: is required/);
  refuses(one({ a: { type: 'address' } }, { minCount: { field: 'a', k: 5 } }), /minCount\.field: must name a field of type count/);
});

test('capacity bound: the declared types, times the rate limit', () => {
  const s = parseStreams({ s: { fields: { a: { type: 'address' }, p: { type: 'port' }, e: { type: 'enum', values: ['x', 'y', 'z', 'w'] }, c: { type: 'count', max: 1023 } }, maxPerSecond: 100 } });
  assert.is(recordCapacityBits(s.s), 129 + 16 + 2 + 10);
  assert.match(describeCapacity('s', s.s), /at most 157 bits a record and 100 records a second of packet time: residual capacity at most 15\.7 kbit\/s/);
});

const decl = parseStreams({
  s: {
    fields: {
      a: { type: 'address' }, m: { type: 'mac' }, c: { type: 'count', max: 1000, round: 10 }, t: { type: 'time' }, d: { type: 'duration', max: 1e9 },
      n: { type: 'name', suffixes: ['com'] }, e: { type: 'enum', values: ['syn', 'ack'] }, h: { type: 'histogram', bins: 3, max: 9 }, f: { type: 'flags', bits: 4 },
    },
    maxPerSecond: 3,
    minCount: { field: 'c', k: 5 },
  },
}).s;

const raw = Buffer.from([10, 1, 0, 26]);
const mac = Buffer.from([2, 0xa1, 0xb2, 0xc3, 0xd4, 1]);
const good = { a: raw, m: mac, c: 123, t: 1_700_000_000_123_456, d: 1_500_000, n: 'www.example.com', e: 'ack', h: [1, 2, 3], f: 5 };

function encode(values: Record<string, unknown>): Buffer | null {
  const w = new FrameWriter();
  for (const [name, f] of Object.entries(decl.fields)) if (!encodeField(w, f, values[name])) return null;
  return w.take();
}

test('a record that fits its declaration crosses and decodes to the same values', () => {
  const b = encode(good)!;
  const out: ReadValue[] = [];
  assert.is(decodeFields(b, 0, decl, out), 0);
  assert.equal(out[0], raw);
  assert.is(out[2], 123);
  assert.equal(out[7], [1, 2, 3]);
});

test('values out of their range or of another type are refused where they are encoded', () => {
  for (const bad of [{ c: 1001 }, { c: 0.5 }, { c: -1 }, { a: Buffer.alloc(6) }, { a: '10.1.0.26' }, { m: raw }, { e: 'fin' }, { h: [1, 2] }, { h: [1, 2, 10] }, { f: 16 }, { n: { text: 'x' } }, { n: 'x'.repeat(254) }]) {
    assert.is(encode({ ...good, ...bad }), null, JSON.stringify(bad));
  }
});

test('bytes that do not fit the declaration are refused by the trusted side, whatever the module wrote', () => {
  const b = encode(good)!;
  const out: ReadValue[] = [];
  assert.is(decodeFields(b.subarray(0, b.length - 1), 0, decl, out), Refusal.shape, 'cut short');
  assert.is(decodeFields(Buffer.concat([b, Buffer.from('RAW')]), 0, decl, out), Refusal.shape, 'bytes left over');
  const wrongLen = Buffer.from(b);
  wrongLen[0] = 6; // address length byte
  assert.is(decodeFields(wrongLen, 0, decl, out), Refusal.shape, 'address of 6 bytes');
  const big = Buffer.from(b);
  big.writeDoubleLE(1e12, 1 + 4 + 6); // the count after address (1+4) and mac (6)
  assert.is(decodeFields(big, 0, decl, out), Refusal.range, 'count over its max');
  const frac = Buffer.from(b);
  frac.writeDoubleLE(1.5, 1 + 4 + 6);
  assert.is(decodeFields(frac, 0, decl, out), Refusal.range, 'a fraction');
});

test('frames split anywhere arrive whole; a frame longer than the limit stops the reader for good', () => {
  const w = new FrameWriter();
  for (let i = 0; i < 50; i++) w.frame(4, Buffer.alloc(i * 37, i));
  const all = w.take();
  const got: number[] = [];
  const r = new FrameReader(1 << 20, (_t, p) => got.push(p.length));
  for (let o = 0; o < all.length; o += 7) assert.ok(r.push(all.subarray(o, o + 7)));
  assert.equal(got, Array.from({ length: 50 }, (_, i) => i * 37));
  const bad = Buffer.alloc(5);
  bad.writeUInt32LE(2 ** 21, 0);
  assert.not.ok(r.push(bad));
  assert.not.ok(r.push(Buffer.from([1, 0, 0, 0, 2])), 'stays stopped');
});

function exitFor(streams: Streams): StreamExit {
  const kr = Keyring.debugFromBytes(Buffer.from(fixedMaster(0x44)));
  const prim = new AnonPrimitives({ address: kr.subkey(KeyPurpose.address), mac: kr.subkey(KeyPurpose.mac), ident: kr.subkey(KeyPurpose.ident), time: kr.subkey(KeyPurpose.time), flow: kr.subkey(KeyPurpose.flow) });
  const policy = defaultPolicy();
  policy.dnsSuffixLabels = 1;
  return new StreamExit(streams, prim, policy, policy.fields);
}

function values(over: Record<string, unknown> = {}): ReadValue[] {
  const out: ReadValue[] = [];
  assert.is(decodeFields(encode({ ...good, ...over })!, 0, decl, out), 0);
  return out;
}

test('the exit anonymizes addresses and MACs, hashes names, coarsens times and rounds counts', () => {
  const x = exitFor({ s: decl });
  const r = x.build(0, values(), 1_700_000_000_000_000)!.record;
  assert.is.not(r.a, '10.1.0.26');
  assert.match(String(r.a), /^\d+\.\d+\.\d+\.\d+$/);
  assert.is.not(r.m, '02:a1:b2:c3:d4:01');
  assert.match(String(r.n), /^[a-z2-7]{12}\.[a-z2-7]{12}\.com$/);
  assert.is(r.c, 120);
  assert.is(r.e, 'ack');
  assert.is((r.t as number) % 1000, 0, 'coarsened');
  assert.is.not(r.t, good.t, 'shifted or coarsened');
});

test('a readable suffix the stream did not declare is hashed too', () => {
  const x = exitFor({ s: decl });
  const r = x.build(0, values({ n: 'secret.10-1-0-26.net' }), 1_700_000_000_000_000)!.record;
  assert.not.match(String(r.n), /net|10-1-0-26|secret/);
  assert.match(String(r.n), /^[a-z2-7]{12}\.[a-z2-7]{12}\.[a-z2-7]{12}$/);
});

test('at most maxPerSecond records a second of packet time; the rest are refused and counted', () => {
  const x = exitFor({ s: decl });
  const sent = [0, 1, 2, 3, 4].map(() => x.build(0, values(), 5_000_000)).filter(Boolean).length;
  assert.is(sent, 3);
  assert.ok(x.build(0, values(), 6_000_000), 'a new second has a new budget');
  assert.equal(x.counts().s.refused, { rate: 2 });
});

test('a record whose aggregate is below k is suppressed and counted', () => {
  const x = exitFor({ s: decl });
  assert.is(x.build(0, values({ c: 4 }), 1e6), null);
  assert.ok(x.build(0, values({ c: 5 }), 1e6));
  assert.equal(x.counts().s, { accepted: 1, refused: { belowK: 1 } });
});

test.run();
