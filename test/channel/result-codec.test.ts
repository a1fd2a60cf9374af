// The compact FLOW and DNS bodies: exact round trips, JSON for anything they cannot
// carry exactly, and a receiver that counts a damaged body instead of crashing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeCompactResult, decodeDns, decodeFlow, DNS_FORMAT, encodeDns, encodeFlow, FLOW_FORMAT } from '../../firmware/channel/result-codec';
import { DnsRecord, FlowRecord, RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { makeDns, makeEnd, makeFlow, tmpDir } from '../lib/channel-fixtures';
import { channelOn } from '../lib/channel-recording';

const flowRoundTrip = (f: FlowRecord): void => {
  const b = encodeFlow(f);
  assert.ok(b, `${JSON.stringify(f)} has a compact form`);
  assert.is(b![0], FLOW_FORMAT);
  // Same fields in the same order: flows.jsonl is byte for byte what JSON would have carried.
  assert.is(JSON.stringify(decodeFlow(b!)), JSON.stringify(f));
};

test('flows round-trip exactly: IPv4, IPv6, every end reason, extreme values, with a level', () => {
  for (let i = 0; i < 200; i++) flowRoundTrip(makeFlow(i));
  for (const endReason of ['idle', 'active', 'end', 'evicted', 'runEnd']) flowRoundTrip({ ...makeFlow(3), endReason });
  const max = Number.MAX_SAFE_INTEGER;
  flowRoundTrip({ ...makeFlow(1), firstUs: 0, lastUs: max, packets: max, bytes: 2 ** 32, revPackets: 0, revBytes: 2 ** 31, srcPort: 65535, dstPort: 0, tcpFlags: 255, protocol: 255 });
  flowRoundTrip({ ...makeFlow(5), srcAddr: 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', level: 'researcher' });
  flowRoundTrip({ ...makeFlow(2), level: '' });
});

test('a flow is about a fifth of its JSON', () => {
  const f = makeFlow(7);
  assert.ok(encodeFlow(f)!.length * 4 < Buffer.byteLength(JSON.stringify(f)), `${encodeFlow(f)!.length} bytes`);
});

test('DNS records round-trip exactly, with and without the nullable fields and a level', () => {
  const cases: DnsRecord[] = [
    makeDns(1),
    { ...makeDns(2), rcode: null, answers: null, latencyUs: null },
    { ...makeDns(3), rcode: 3, answers: 0, latencyUs: 0, level: 'public' },
    { tsUs: Number.MAX_SAFE_INTEGER, qname: 'a'.repeat(1024), qtype: 65535, rcode: null, answers: 70000, latencyUs: null },
    { ...makeDns(4), qname: '' },
  ];
  for (const r of cases) {
    const b = encodeDns(r);
    assert.ok(b, JSON.stringify(r).slice(0, 80));
    assert.is(b![0], DNS_FORMAT);
    assert.is(JSON.stringify(decodeDns(b!)), JSON.stringify(r));
  }
});

test('a flow the compact form cannot carry exactly goes as JSON: extra key, keys in another order, fraction, negative, unknown end reason, non-ASCII, time backwards, too large, missing field', () => {
  const base = makeFlow(4) as unknown as Record<string, unknown>;
  const odd: Array<[string, Record<string, unknown>]> = [
    ['extra key', { ...base, note: 'x' }],
    ['fraction', { ...base, bytes: 1.5 }],
    ['negative', { ...base, packets: -1 }],
    ['unknown end reason', { ...base, endReason: 'timeout' }],
    ['non-ASCII address', { ...base, srcAddr: '10.0.0.1\u00e9' }],
    ['control character', { ...base, dstAddr: '10.0.0.1\n' }],
    ['lastUs before firstUs', { ...base, lastUs: (base.firstUs as number) - 1 }],
    ['beyond 2^53', { ...base, revBytes: 2 ** 60 }],
    ['port beyond 16 bits', { ...base, srcPort: 70000 }],
    ['flags beyond 8 bits', { ...base, tcpFlags: 256 }],
    ['ipVersion 5', { ...base, ipVersion: 5 }],
    ['missing field', Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'revBytes'))],
    ['undefined level key', { ...base, level: undefined }],
    ['string number', { ...base, packets: '3' }],
    ['text too long', { ...base, srcAddr: 'x'.repeat(1025) }],
    ['keys in another order', { protocol: base.protocol, ...base }],
    ['level first', { level: 'a', ...base }],
  ];
  for (const [why, r] of odd) assert.is(encodeFlow(r as unknown as FlowRecord), null, why);
});

test('a DNS record the compact form cannot carry exactly goes as JSON: extra key, keys in another order, missing nullable field, fraction', () => {
  const base = makeDns(9) as unknown as Record<string, unknown>;
  assert.is(encodeDns({ ...base, extra: 1 } as unknown as DnsRecord), null, 'extra key');
  assert.is(encodeDns(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'answers')) as unknown as DnsRecord), null, 'missing answers');
  assert.is(encodeDns({ ...base, latencyUs: 0.5 } as unknown as DnsRecord), null, 'fraction');
  assert.is(encodeDns({ ...base, qname: 'caf\u00e9.example' } as unknown as DnsRecord), null, 'non-ASCII name');
  assert.is(encodeDns({ qname: base.qname, ...base } as unknown as DnsRecord), null, 'keys in another order');
});

test('refuses a damaged compact body: truncated, trailing bytes, bad end reason code, bad ipVersion, unknown DNS bits, bad text', () => {
  const f = encodeFlow(makeFlow(8))!;
  const d = encodeDns(makeDns(8))!;
  const bad: Array<[string, () => unknown]> = [
    ['flow truncated', () => decodeFlow(f.subarray(0, f.length - 1))],
    ['flow with trailing garbage', () => decodeFlow(Buffer.concat([f, Buffer.from([0x41, 0x02, 0x41, 0x41, 0x41])]))],
    ['flow end reason code 9', () => decodeFlow(Buffer.from([...f.subarray(0, 3), 9, ...f.subarray(4)]))],
    ['flow ipVersion 5', () => decodeFlow(Buffer.from([f[0], 5, ...f.subarray(2)]))],
    ['flow varint of 9 bytes', () => decodeFlow(Buffer.from([...f.subarray(0, 10), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))],
    ['flow text with a control byte', () => decodeFlow(Buffer.from(f.toString('latin1').replace('192', '1\x019'), 'latin1'))],
    ['DNS truncated', () => decodeDns(d.subarray(0, 5))],
    ['DNS unknown presence bit', () => decodeDns(Buffer.from([d[0], d[1] | 0x80, ...d.subarray(2)]))],
    ['empty body', () => decodeFlow(Buffer.alloc(0))],
  ];
  for (const [why, fn] of bad) assert.throws(fn, why);
});

test('random bytes behind the format byte never crash the decoder: each is a record or an error', () => {
  let x = 12345;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(1 + (rnd() % 80));
    for (let k = 0; k < b.length; k++) b[k] = rnd();
    b[0] = i % 2 ? FLOW_FORMAT : DNS_FORMAT;
    try {
      const r = decodeCompactResult(i % 2 ? RecordType.FLOW : RecordType.DNS, b);
      assert.ok(r !== null && typeof r === 'object');
    } catch (e) {
      assert.instance(e, Error);
    }
  }
});

test('a JSON body and other record types are not taken for the compact form', () => {
  assert.is(decodeCompactResult(RecordType.FLOW, Buffer.from(JSON.stringify(makeFlow(1)))), null);
  assert.is(decodeCompactResult(RecordType.LOG, Buffer.from([FLOW_FORMAT, 4])), null);
});

/** The same fields, endReason first. */
function reordered(f: FlowRecord): object {
  const { endReason, ...rest } = f;
  return { endReason, ...rest };
}

test('through the line: compact flows and DNS, odd flows as JSON, a damaged compact body counted as bad; flows.jsonl holds each exactly', async () => {
  const dir = tmpDir('codec');
  const file = path.join(dir, 'line.bin');
  const { ch } = channelOn(file);
  const flows: object[] = [];
  for (let i = 0; i < 50; i++) {
    const f = i === 17 ? { ...makeFlow(i), note: 'kept' } : i === 23 ? reordered(makeFlow(i)) : makeFlow(i);
    flows.push(f);
    ch.send(RecordType.FLOW, f);
  }
  for (let i = 0; i < 20; i++) ch.send(RecordType.DNS, makeDns(i));
  // A compact body the box would never make (end reason code 200): the receiver must count it.
  const damaged = Buffer.from(encodeFlow(makeFlow(99))!);
  damaged[3] = 200;
  ch.send(RecordType.FLOW, damaged);
  const r = await ch.close(makeEnd(), 5000);
  assert.ok(r.drained);
  const out = path.join(dir, 'out');
  const summary = await receive({ input: file, out });
  const lines = fs.readFileSync(path.join(out, 'flows.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines, flows.map((f) => JSON.stringify(f)), 'every flow exactly, the odd ones with their extra key and their key order');
  assert.is(fs.readFileSync(path.join(out, 'dns.jsonl'), 'utf8').trim().split('\n').length, 20);
  assert.is(summary.sessions[0].badRecords, 1, 'the damaged body counted');
});

test.run();
