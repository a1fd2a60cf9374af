// DNS header and question parsing, with every kind of malformed name refused by name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DnsParse, DnsRefusal, parseDnsMessage } from '../../firmware/analysis/builtin/dns';
import { dnsMessage, dnsName } from '../lib/craft';

function parse(msg: Buffer): { refusal: number; p: DnsParse; names: string[] } {
  const p = new DnsParse();
  const refusal = parseDnsMessage(msg, 0, msg.length, p);
  return { refusal, p, names: p.copyLabels(msg).map((l) => l.toString('latin1')) };
}

/** Header with one question whose name is `name` (raw bytes), then type A class IN. */
function withName(name: Buffer, tail = Buffer.from([0, 1, 0, 1])): Buffer {
  return Buffer.concat([dnsMessage({ id: 1 }).fill(0, 4, 12), name, tail]).fill(1, 5, 6);
}

test('reads header fields and the question', () => {
  const { refusal, p, names } = parse(dnsMessage({ id: 0xbeef, response: true, rcode: 3, questions: [{ name: 'www.Example.COM', type: 28 }], answers: [{ data: Buffer.alloc(4) }] }));
  assert.is(refusal, DnsRefusal.none);
  assert.is(p.id, 0xbeef);
  assert.is(p.response, true);
  assert.is(p.rcode, 3);
  assert.is(p.qdcount, 1);
  assert.is(p.ancount, 1);
  assert.is(p.qtype, 28);
  assert.is(p.qclass, 1);
  assert.equal(names, ['www', 'example', 'com'], 'labels lowercased');
});

test('the root name has no labels', () => {
  const { refusal, p } = parse(dnsMessage({ id: 1, questions: [{ name: '', type: 2 }] }));
  assert.is(refusal, DnsRefusal.none);
  assert.is(p.labelCount, 0);
  assert.is(p.qtype, 2);
});

test('follows a chain of backward compression pointers', () => {
  // Only the header precedes the first question, so the pointed-to labels live there:
  // name at 12 = "www" + pointer to 9; at 9 a pointer to 6; at 6 the label "x" and root.
  const msg = Buffer.concat([Buffer.alloc(12), Buffer.from([3]), Buffer.from('www'), Buffer.from([0xc0, 9]), Buffer.from([0, 16, 0, 1])]);
  msg.writeUInt16BE(1, 4);
  msg.set([1, 0x78, 0, 0xc0, 6], 6);
  const q = parse(msg);
  assert.is(q.refusal, DnsRefusal.none);
  assert.equal(q.names, ['www', 'x']);
  assert.is(q.p.qtype, 16, 'type read after the pointer, not after the labels it led to');
});

test('refuses a compression pointer that points to itself', () => {
  const { refusal } = parse(withName(Buffer.from([0xc0, 12])));
  assert.is(refusal, DnsRefusal.badPointer);
});

test('refuses a compression pointer loop between two names', () => {
  // At 12: label "a" then pointer to 17; at 17: pointer back to 12.
  const name = Buffer.from([1, 0x61, 0xc0, 17, 0, 0xc0, 12]);
  const { refusal } = parse(withName(name));
  assert.is(refusal, DnsRefusal.badPointer);
});

test('refuses a compression pointer forward or beyond the message', () => {
  assert.is(parse(withName(Buffer.from([0xc0, 200]))).refusal, DnsRefusal.badPointer);
  assert.is(parse(withName(Buffer.from([0xff, 0xff]))).refusal, DnsRefusal.badPointer);
});

test('refuses a pointer cut in half by the end of the message', () => {
  const msg = withName(Buffer.from([0xc0]), Buffer.alloc(0));
  assert.is(parse(msg).refusal, DnsRefusal.truncatedName);
});

test('refuses a label longer than the message', () => {
  assert.is(parse(withName(Buffer.from([40, 0x61, 0x62]), Buffer.alloc(0))).refusal, DnsRefusal.truncatedName);
});

test('refuses a name without its terminating root label', () => {
  assert.is(parse(withName(Buffer.from([3, 0x61, 0x62, 0x63]), Buffer.alloc(0))).refusal, DnsRefusal.truncatedName);
});

test('refuses extended and reserved label types', () => {
  assert.is(parse(withName(Buffer.from([0x41, 0]))).refusal, DnsRefusal.badLabelType);
  assert.is(parse(withName(Buffer.from([0x80, 0]))).refusal, DnsRefusal.badLabelType);
});

test('refuses a name longer than 255 bytes', () => {
  const labels = Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]));
  assert.is(parse(withName(Buffer.concat([...labels, Buffer.from([0])]))).refusal, DnsRefusal.nameTooLong);
});

test('refuses a question cut before its type and class', () => {
  assert.is(parse(withName(dnsName('a.b'), Buffer.from([0, 1]))).refusal, DnsRefusal.truncatedQuestion);
});

test('refuses a message shorter than the header', () => {
  assert.is(parse(Buffer.alloc(11)).refusal, DnsRefusal.shortHeader);
});

test('refuses a message without a question', () => {
  assert.is(parse(dnsMessage({ id: 1 })).refusal, DnsRefusal.noQuestion);
});

test('random bytes after a valid header never throw or hang', () => {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const p = new DnsParse();
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const msg = Buffer.alloc(12 + Math.floor(rnd() * 60));
    for (let j = 0; j < msg.length; j++) msg[j] = rnd() < 0.3 ? 0xc0 : Math.floor(rnd() * 256);
    msg.writeUInt16BE(1, 4);
    if (parseDnsMessage(msg, 0, msg.length, p) === DnsRefusal.none) {
      accepted++;
      assert.ok(p.labelCount <= 127);
      for (let k = 0; k < p.labelCount; k++) assert.ok(p.labelOff[k] + p.labelLen[k] <= msg.length);
    }
  }
  assert.ok(accepted < 20000);
});

test.run();
