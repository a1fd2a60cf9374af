// The egress guard on its own: what it learns, what it refuses, and that its table
// grows without forgetting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EgressGuard } from '../../firmware/egress/guard';
import { someAddressIn } from '../../firmware/egress/address-text';
import { someMacIn } from '../../firmware/egress/mac-text';
import { AddressCollector, hashAddress, hashMac, SeenAddresses } from '../../firmware/analysis/addresses';
import { SecretKey } from '../../firmware/keys/secret-key';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';
import { build, eth, ipv4, ipv6, tcp, udp, icmp, raw as rawBytes } from '../lib/craft';
import { parseIPv4, parseIPv6 } from '../../firmware/anonymize/ip-text';

function key(fill: number): SecretKey {
  return SecretKey.fromBytes(Buffer.alloc(32, fill));
}

function v4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

function learned(k: SecretKey, addrs: Buffer[]): Uint8Array {
  const out = Buffer.alloc(addrs.length * 8);
  const scratch = Buffer.alloc(32);
  addrs.forEach((a, i) => hashAddress(k, a, scratch).copy(out, i * 8, 0, 8));
  return out;
}

function guardKnowing(addrs: Buffer[], slots?: number): EgressGuard {
  const k = key(7);
  const g = new EgressGuard(k, slots);
  g.learn(learned(k, addrs));
  return g;
}

/** A pcap record (16-byte header + frame), as PACKET records carry packets. */
function record(frame: Buffer): Buffer {
  const r = Buffer.alloc(16 + frame.length);
  r.writeUInt32LE(frame.length, 8);
  r.writeUInt32LE(frame.length, 12);
  frame.copy(r, 16);
  return r;
}

const raw = v4('192.0.2.77');
const raw6 = parseIPv6('2001:db8::77')!;

test('knows what it learned and nothing else', () => {
  const g = guardKnowing([raw, raw6]);
  assert.is(g.knownCount(), 2);
  assert.ok(g.isRaw(raw));
  assert.ok(g.isRaw(raw6));
  assert.not.ok(g.isRaw(v4('192.0.2.78')));
});

test('learning the same hash twice keeps one entry', () => {
  const g = guardKnowing([raw, raw, raw]);
  assert.is(g.knownCount(), 1);
});

test('hashes under another egress key teach it nothing', () => {
  const g = new EgressGuard(key(7));
  g.learn(learned(key(8), [raw]));
  assert.not.ok(g.isRaw(raw));
});

test('passes a record with anonymized addresses only', () => {
  const g = guardKnowing([raw]);
  assert.ok(g.passesJson({ srcAddr: '10.9.8.7', dstAddr: '2001:db8::1', srcPort: 80, endReason: 'idle' }));
});

test('refuses a raw IPv4 address as a whole string field', () => {
  assert.not.ok(guardKnowing([raw]).passesJson({ srcAddr: '192.0.2.77' }));
});

test('refuses a raw IPv6 address as a whole string field, in any spelling', () => {
  const g = guardKnowing([raw6]);
  assert.not.ok(g.passesJson({ dstAddr: '2001:db8::77' }));
  assert.not.ok(g.passesJson({ dstAddr: '2001:0db8:0:0:0:0:0:0077' }));
  assert.not.ok(g.passesJson({ dstAddr: '2001:db8::77/128' }));
});

test('refuses a raw address inside longer text', () => {
  const g = guardKnowing([raw, raw6]);
  assert.not.ok(g.passesJson({ note: 'src=192.0.2.77:443 went away' }));
  assert.not.ok(g.passesJson({ note: 'peer [2001:db8::77]:53.' }));
});

test('an address or MAC passed once is checked again after the guard learns it raw; only texts without any are remembered as clean', () => {
  const k = key(7);
  const g = new EgressGuard(k);
  g.learn(learned(k, [v4('198.51.100.1')]));
  const rec = { srcAddr: '192.0.2.77', note: 'peer 192.0.2.77 gone', mac: '02:00:5e:10:00:01', endReason: 'idle' };
  for (let i = 0; i < 3; i++) assert.ok(g.passesJson(rec), `pass ${i}`);
  g.learn(learned(k, [raw]));
  assert.not.ok(g.passesJson({ srcAddr: '192.0.2.77', endReason: 'idle' }), 'the whole string, after it passed');
  assert.not.ok(g.passesJson({ note: 'peer 192.0.2.77 gone' }), 'inside text, after it passed');
  assert.not.ok(g.passesJson({ '192.0.2.77': 1 }), 'as a key');
  const mac = Buffer.from([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
  const h = Buffer.alloc(8);
  hashMac(k, mac, Buffer.alloc(32)).copy(h, 0, 0, 8);
  g.learn(h);
  assert.not.ok(g.passesJson({ mac: '02:00:5e:10:00:01' }), 'a MAC, after it passed');
  assert.ok(g.passesJson({ endReason: 'idle', srcAddr: '10.9.8.7' }), 'plain words and other addresses still pass');
});

/** A dotted quad as the regular expressions read one (what parseIPv4's loop must agree with); -1 when the text is not one. */
function dottedQuadByRegex(text: string, leadingZeros: boolean): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => (leadingZeros ? /^[0-9]{1,3}$/ : /^(0|[1-9][0-9]{0,2})$/).test(p) && Number(p) < 256)) return -1;
  return parts.reduce((v, p) => v * 256 + Number(p), 0);
}

test('parseIPv4 reads a text that is one dotted quad as the regular expressions do, with and without leading zeros, and the guard\'s verdict on any text is the scans\' verdict', () => {
  // Texts near the dotted quad: leading zeros, 256, five parts, empty parts, signs,
  // spaces, a prefix, a port, MAC and IPv6 spellings, random runs of digits and dots.
  const texts = ['0.0.0.0', '255.255.255.255', '192.0.2.77', '10.9.8.7', '1.2.3.4', '01.2.3.4', '1.2.3.04', '1.2.3.256', '256.1.1.1',
    '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3.4', '1.2.3.4.', ' 1.2.3.4', '1.2.3.4 ', '+1.2.3.4', '1.2.3.-4', '192.0.2.77/32', '192.0.2.77:443',
    '1000.2.3.4', '1.2.3.4444', '00.0.0.0', '0.0.0.00', '02:00:5e:10:00:01', '0200.5e10.0001', '::ffff:192.0.2.77', '192.0.2.077', '١.٢.٣.٤'];
  let seed = 7;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  const parts = ['0', '1', '2', '3', '4', '7', '9', '10', '25', '77', '99', '100', '192', '199', '249', '255', '256', '00', '01', '099', '300', '2555', ''];
  for (let i = 0; i < 10000; i++) {
    const n = 3 + rnd(3);
    const t = Array.from({ length: n }, () => parts[rnd(parts.length)]).join('.');
    texts.push(rnd(8) === 0 ? t + '.:-x '[rnd(5)] : t);
  }
  const rawQuads = ['192.0.2.77', '1.2.3.4', '0.0.0.0'].map(v4);
  const g = guardKnowing([...rawQuads, raw6]);
  const oracle = guardKnowing([...rawQuads, raw6]);
  let quads = 0;
  for (const t of texts) {
    const want = dottedQuadByRegex(t, false);
    assert.is(parseIPv4(t), want, `${JSON.stringify(t)} as a dotted quad`);
    assert.is(parseIPv4(t, true), dottedQuadByRegex(t, true), `${JSON.stringify(t)} as a dotted quad, leading zeros allowed`);
    if (want >= 0) quads++;
    const scans = someAddressIn(t, (a) => oracle.isRaw(a)) || someMacIn(t, (m) => oracle.isRawMac(Buffer.from(m)));
    assert.is(g.passesJson({ a: t }), !scans, `the verdict on ${JSON.stringify(t)}`);
  }
  let refused = 0;
  for (const t of texts) if (!g.passesJson({ a: t })) refused++;
  assert.ok(quads > 500 && refused > 5, `${quads} dotted quads among the texts, ${refused} refused`);
});

test('refuses a raw address in a nested object or list', () => {
  const g = guardKnowing([raw]);
  assert.not.ok(g.passesJson({ peers: [{ addr: '192.0.2.77' }] }));
  assert.not.ok(g.passesJson({ a: { b: { c: ['x', '192.0.2.77'] } } }));
});

test('refuses a raw address used as an object key', () => {
  assert.not.ok(guardKnowing([raw]).passesJson({ hosts: { '192.0.2.77': 3 } }));
});

test('refuses a raw address as a list of byte values or as bytes', () => {
  const g = guardKnowing([raw, raw6]);
  assert.not.ok(g.passesJson({ addr: [192, 0, 2, 77] }));
  assert.not.ok(g.passesJson({ blob: [1, 2, 192, 0, 2, 77, 9] }));
  assert.not.ok(g.passesJson({ blob: new Uint8Array([5, ...raw6, 5]) }));
  assert.ok(g.passesJson({ counts: [1, 2, 3, 4, 5] }));
});

test('refuses a raw IPv4 address written as a 32-bit number', () => {
  const g = guardKnowing([raw]);
  assert.not.ok(g.passesJson({ addr: raw.readUInt32BE(0) }));
  assert.ok(g.passesJson({ bytes: raw.readUInt32BE(0) + 1 }));
});

test('refuses a record nested deeper than any analysis record', () => {
  let deep: Record<string, unknown> = { x: 1 };
  for (let i = 0; i < 10; i++) deep = { d: deep };
  assert.not.ok(guardKnowing([raw]).passesJson(deep));
});

test('passes a packet whose addresses were anonymized', () => {
  const g = guardKnowing([raw]);
  const f = build(eth(), ipv4({ src: '10.1.1.1', dst: '10.2.2.2' }), udp({ sport: 1, dport: 2 }));
  assert.ok(g.passesPacket(record(f), 1));
});

test('refuses a packet with a raw IPv4 source or destination', () => {
  const g = guardKnowing([raw]);
  assert.not.ok(g.passesPacket(record(build(eth(), ipv4({ src: '192.0.2.77', dst: '10.2.2.2' }), tcp({ sport: 1, dport: 2 }))), 1));
  assert.not.ok(g.passesPacket(record(build(eth(), ipv4({ src: '10.2.2.2', dst: '192.0.2.77' }), tcp({ sport: 1, dport: 2 }))), 1));
});

test('refuses a packet with a raw IPv6 address', () => {
  const g = guardKnowing([raw6]);
  assert.not.ok(g.passesPacket(record(build(eth(), ipv6({ src: '2001:db8::77', dst: '2001:db8::1' }), udp({ sport: 1, dport: 2 }))), 1));
});

test('refuses a packet whose raw address hides in the packet an ICMP error quotes', () => {
  const g = guardKnowing([raw]);
  const quoted = build(ipv4({ src: '192.0.2.77', dst: '10.3.3.3' }), udp({ sport: 5, dport: 6 }));
  const f = build(eth(), ipv4({ src: '10.1.1.1', dst: '10.2.2.2' }), icmp({ type: 3, code: 1 }), rawBytes(quoted));
  assert.not.ok(g.passesPacket(record(f), 1));
});

test('grows its table past its first size and forgets nothing', () => {
  const k = key(7);
  const g = new EgressGuard(k, 16);
  const addrs: Buffer[] = [];
  for (let i = 0; i < 5000; i++) addrs.push(v4(`10.${(i >> 8) & 255}.${i & 255}.1`));
  g.learn(learned(k, addrs));
  assert.is(g.knownCount(), 5000);
  for (const a of addrs) assert.ok(g.isRaw(a));
  assert.not.ok(g.isRaw(v4('11.0.0.1')));
});

test('wipe forgets every address', () => {
  const g = guardKnowing([raw]);
  g.wipe();
  assert.not.ok(g.isRaw(raw));
  assert.is(g.knownCount(), 0);
});

test('the collector reports each address once, and again after its table starts over', () => {
  const k = key(7);
  const c = new AddressCollector(k, 16);
  const v = new PacketView();
  const report = (src: string): number => {
    const f = record(build(eth(), ipv4({ src, dst: '10.0.0.1' }), udp({ sport: 1, dport: 2 })));
    decodePacket(1, f, 16, f.length - 16, f.length - 16, v);
    c.note(v, f);
    const t = c.take();
    return t ? t.length / 8 : 0;
  };
  assert.is(report('10.0.0.2'), 4); // two addresses and the frame's two MACs
  assert.is(report('10.0.0.2'), 0);
  // Fill the 16-slot table with new sources until it starts over: 10.0.0.1 is reported again.
  let again = false;
  for (let i = 3; i < 40 && !again; i++) again = report(`10.0.0.${i}`) === 2;
  assert.ok(again);
  const g = new EgressGuard(k);
  g.learn(learned(k, [v4('10.0.0.2')]));
  assert.ok(g.isRaw(v4('10.0.0.2')));
});

test('the seen-value sets start small, grow without forgetting, and start over only at their largest', () => {
  for (const width of [4, 6, 16] as const) {
    const set = new SeenAddresses(width, 8192, 64);
    const value = (i: number): Buffer => {
      const b = Buffer.alloc(width, 0x0a);
      b.writeUInt32BE(i + 1, width - 4);
      return b;
    };
    assert.is(set.slots(), 64, 'first size');
    // 6,000 values: the table doubles to 8,192 slots (three quarters: 6,144) and keeps every one.
    for (let i = 0; i < 6000; i++) assert.ok(set.addIfNew(value(i), 0), `${width}: value ${i} is new`);
    assert.is(set.slots(), 8192);
    for (let i = 0; i < 6000; i++) assert.not.ok(set.addIfNew(value(i), 0), `${width}: value ${i} was kept through the growth`);
    assert.is(set.size(), 6000);
    // Full at its largest size, it starts over: a value seen before is new again.
    for (let i = 6000; i < 6200; i++) set.addIfNew(value(i), 0);
    assert.is(set.slots(), 8192, 'never past its largest size');
    assert.ok(set.size() < 6200);
    assert.ok(set.addIfNew(value(0), 0), `${width}: forgotten after starting over`);
  }
});

test('the collector reports the addresses of the packet an ICMP error quotes', () => {
  const k = key(7);
  const c = new AddressCollector(k);
  const v = new PacketView();
  const quoted = build(ipv4({ src: '192.0.2.77', dst: '10.3.3.3' }), udp({ sport: 5, dport: 6 }));
  const f = record(build(eth(), ipv4({ src: '10.1.1.1', dst: '10.2.2.2' }), icmp({ type: 3, code: 1 }), rawBytes(quoted)));
  decodePacket(1, f, 16, f.length - 16, f.length - 16, v);
  c.note(v, f);
  const g = new EgressGuard(k);
  g.learn(c.take()!);
  assert.ok(g.isRaw(v4('192.0.2.77')));
  assert.ok(g.isRaw(v4('10.3.3.3')));
  assert.ok(g.isRaw(v4('10.1.1.1')));
});

test.run();
