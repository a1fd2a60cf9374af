import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowOffsets, applyOffset, bucket, coarsenMicros, secretTimeShiftUs, shiftTime, truncatePrefix, truncateV4 } from '../../firmware/anonymize/transforms';
import { parseIPv6, formatIPv6, parseIPv4 } from '../../firmware/anonymize/ip-text';

const ttlEdges = [0, 32, 64, 128, 255];

test('bucket returns the lower edge of the bucket holding the value', () => {
  const want: Array<[number, number]> = [[0, 0], [1, 0], [31, 0], [32, 32], [63, 32], [64, 64], [127, 64], [128, 128], [254, 128], [255, 255]];
  for (const [v, w] of want) assert.is(bucket(v, ttlEdges), w, String(v));
});

test('bucket clamps values below the first edge to it', () => {
  assert.is(bucket(3, [10, 20]), 10);
});

test('coarsenMicros rounds down to the granularity', () => {
  assert.is(coarsenMicros(1_700_000_123_456_789, 1000), 1_700_000_123_456_000);
  assert.is(coarsenMicros(999, 1000), 0);
  assert.is(coarsenMicros(5_000_000, 1_000_000), 5_000_000);
});

test('shiftTime adds the offset', () => {
  assert.is(shiftTime(1_000_000, -250), 999_750);
});

test('secretTimeShiftUs is stable per key, differs across keys and lies 2^40..2^41 µs back', () => {
  const a = secretTimeShiftUs(Buffer.alloc(32, 1));
  assert.is(a, secretTimeShiftUs(Buffer.alloc(32, 1)));
  assert.is.not(a, secretTimeShiftUs(Buffer.alloc(32, 2)));
  for (let i = 0; i < 50; i++) {
    const s = secretTimeShiftUs(Buffer.alloc(32, i));
    assert.ok(Number.isInteger(s) && s <= -(2 ** 40) && s > -(2 ** 41), String(s));
  }
});

test('truncatePrefix zeroes the bits after the prefix in place', () => {
  const b = parseIPv6('2001:db8:aaaa:bbbb::1')!;
  truncatePrefix(b, 0, 16, 36);
  assert.is(formatIPv6(b), '2001:db8:a000::');
  assert.is(truncateV4(parseIPv4('192.0.2.77'), 24), parseIPv4('192.0.2.0'));
  assert.is(truncateV4(parseIPv4('192.0.2.77'), 0), 0);
  assert.is(truncateV4(parseIPv4('192.0.2.77'), 32), parseIPv4('192.0.2.77'));
});

test('applyOffset wraps modulo 2^32', () => {
  assert.is(applyOffset(0xfffffff0, 0x20), 0x10);
  assert.is(applyOffset(5, 0), 5);
});

test('flow offsets are stable per direction and key, and differ between directions', () => {
  const f = new FlowOffsets(Buffer.alloc(32, 9));
  const a = parseIPv4('192.0.2.1');
  const b = parseIPv4('198.51.100.2');
  const ab = f.offsetV4(a, b, 40000, 443);
  assert.is(ab, new FlowOffsets(Buffer.alloc(32, 9)).offsetV4(a, b, 40000, 443));
  assert.is.not(ab, f.offsetV4(b, a, 443, 40000));
  assert.is.not(ab, f.offsetV4(a, b, 40001, 443));
  assert.is.not(ab, new FlowOffsets(Buffer.alloc(32, 8)).offsetV4(a, b, 40000, 443));
});

test('an ack rewritten with the reverse direction\'s offset still acknowledges its data', () => {
  const f = new FlowOffsets(Buffer.alloc(32, 9));
  const client = parseIPv4('192.0.2.1');
  const server = parseIPv4('198.51.100.2');
  const seq = 0xfffffff0; // client's data; the server acks seq + 100
  const newSeq = applyOffset(seq, f.offsetV4(client, server, 40000, 443));
  const newAck = applyOffset((seq + 100) >>> 0, f.offsetV4(client, server, 40000, 443)); // server→client ack uses the client's space
  assert.is((newAck - newSeq) >>> 0, 100);
});

test('IPv6 flow offsets read addresses at offsets and differ from each other', () => {
  const f = new FlowOffsets(Buffer.alloc(32, 9));
  const pkt = Buffer.concat([Buffer.alloc(8), parseIPv6('2001:db8::1')!, parseIPv6('2001:db8::2')!]);
  const fwd = f.offsetV6(pkt, 8, 24, 1, 2);
  assert.is(fwd, f.offsetV6(Buffer.from(pkt), 8, 24, 1, 2));
  assert.is.not(fwd, f.offsetV6(pkt, 24, 8, 2, 1));
});

test.run();
