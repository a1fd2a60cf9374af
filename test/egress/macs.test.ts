// MACs at the egress guard: the collector reports every raw MAC the decoder located,
// hashed apart from addresses; the guard refuses packets and JSON records carrying
// one, in any notation; broadcast and all-zero MACs, which anonymization keeps or
// writes as they are, pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AddressCollector } from '../../firmware/analysis/addresses';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { EgressGuard } from '../../firmware/egress/guard';
import { arp, build, eth, icmpv6, ip6, ipv4, ipv6, mac, raw, sll, tcp, udp } from '../lib/craft';
import { BoxPath, guardKnowing, hashBatch, key, verdict } from './guardFixtures';

const rawMac = mac('00:1b:21:3a:4f:5e');

/** What a guard learns from the collector watching these raw frames. */
function learnedFrom(frames: Buffer[], linkType: number = LinkType.EN10MB): EgressGuard {
  const k = key();
  const c = new AddressCollector(k);
  const v = new PacketView();
  for (const f of frames) {
    decodePacket(linkType, f, 0, f.length, f.length, v);
    c.note(v, f);
  }
  const g = new EgressGuard(k);
  g.learn(c.take()!);
  return g;
}

test('the collector reports the MACs of Ethernet headers, ARP, ND link-layer options and Linux cooked headers', () => {
  const ndOpt = Buffer.concat([Buffer.from([2, 1]), mac('00:1b:21:00:00:04')]);
  const g = learnedFrom([
    build(eth({ src: '00:1b:21:00:00:01', dst: '00:1b:21:00:00:02' }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 })),
    build(eth(), arp({ op: 1, sha: '00:1b:21:00:00:03', spa: '10.0.0.3', tha: '00:1b:21:00:00:05', tpa: '10.0.0.4' })),
    build(eth(), ipv6({ src: 'fe80::1', dst: 'fe80::2', hopLimit: 255 }), icmpv6({ type: 136, body: Buffer.concat([Buffer.alloc(4), ip6('fe80::1')]) }), raw(ndOpt)),
  ]);
  for (const m of ['00:1b:21:00:00:01', '00:1b:21:00:00:02', '00:1b:21:00:00:03', '00:1b:21:00:00:04', '00:1b:21:00:00:05']) assert.ok(g.isRawMac(mac(m)), m);
  assert.ok(learnedFrom([build(sll(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }))], LinkType.LINUX_SLL).isRawMac(mac('02:00:00:00:00:01')));
});

test('a MAC is hashed apart from addresses: learning one never makes the other raw', () => {
  const g = guardKnowing([], [rawMac]);
  assert.ok(g.isRawMac(rawMac));
  assert.not.ok(g.isRaw(rawMac.subarray(0, 4)));
  assert.not.ok(g.isRaw(Buffer.concat([rawMac, Buffer.alloc(10)])));
  const a = guardKnowing([Buffer.from([0, 0x1b, 0x21, 0x3a])]);
  assert.not.ok(a.isRawMac(Buffer.from([0, 0x1b, 0x21, 0x3a, 0, 0])));
});

test('refuses a packet with anonymized addresses and raw MACs', () => {
  const box = new BoxPath();
  const f = build(eth({ src: '00:1b:21:3a:4f:5e', dst: '00:1b:21:3a:4f:5f' }), ipv4({ src: '192.0.2.1', dst: '198.51.100.2' }), tcp({ sport: 1, dport: 2 }));
  const r = box.rewrite(f);
  assert.is(verdict(box.learned, r), 'none');
  f.copy(r, 16 + 6, 6, 12); // the source MAC raw again
  assert.is(verdict(box.learned, r), 'rawValue');
  const d = box.rewrite(f);
  f.copy(d, 16, 0, 6); // the destination MAC
  assert.is(verdict(box.learned, d), 'rawValue');
  assert.is(verdict(box.empty, d), 'none');
});

test('refuses an ARP packet with a raw sender or target hardware address', () => {
  const box = new BoxPath();
  const f = build(eth(), arp({ op: 2, sha: '00:1b:21:00:00:03', spa: '10.0.0.3', tha: '00:1b:21:00:00:05', tpa: '10.0.0.4' }));
  for (const at of [14 + 8, 14 + 18]) {
    const r = box.rewrite(f);
    assert.is(verdict(box.learned, r), 'none');
    f.copy(r, 16 + at, at, at + 6);
    assert.is(verdict(box.learned, r), 'rawValue', `MAC at ${at}`);
  }
});

test('refuses a neighbour advertisement with a raw link-layer address option', () => {
  const box = new BoxPath();
  const opt = Buffer.concat([Buffer.from([2, 1]), rawMac]);
  const f = build(eth(), ipv6({ src: 'fe80::1', dst: 'fe80::2', hopLimit: 255 }), icmpv6({ type: 136, body: Buffer.concat([Buffer.alloc(4), ip6('fe80::1')]) }), raw(opt));
  const r = box.rewrite(f);
  assert.is(verdict(box.learned, r), 'none');
  const at = 14 + 40 + 24 + 2;
  f.copy(r, 16 + at, at, at + 6);
  assert.is(verdict(box.learned, r), 'rawValue');
});

test('refuses a Linux cooked packet with a raw link-layer address', () => {
  const box = new BoxPath();
  const f = build(sll(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const r = box.rewrite(f, LinkType.LINUX_SLL);
  assert.is(verdict(box.learned, r, LinkType.LINUX_SLL), 'none');
  f.copy(r, 16 + 6, 6, 12);
  assert.is(verdict(box.learned, r, LinkType.LINUX_SLL), 'rawValue');
});

test('passes a broadcast frame and zeroed MACs, and refuses a raw multicast MAC', () => {
  // ff:ff:ff:ff:ff:ff is the same raw and permuted, and "zero" writes 00:00:00:00:00:00
  // (the target of every ARP request): neither names a host, so neither is refused.
  // 01:00:5e:00:00:fb is permuted into another multicast MAC: raw, it is a leak.
  const box = new BoxPath();
  // The collector never reports them; were they learned all the same, they would still pass.
  box.learned.learn(hashBatch(box.key, [], [mac('ff:ff:ff:ff:ff:ff'), mac('00:00:00:00:00:00')]));
  const request = build(eth({ dst: 'ff:ff:ff:ff:ff:ff', src: '00:1b:21:00:00:07' }), arp({ op: 1, sha: '00:1b:21:00:00:07', spa: '10.0.0.7', tha: '00:00:00:00:00:00', tpa: '10.0.0.8' }));
  const r = box.rewrite(request);
  assert.is(r.subarray(16, 22).toString('hex'), 'ffffffffffff');
  assert.is(verdict(box.learned, r), 'none');
  const zeroed = new BoxPath({ 'eth.src': 'zero', 'eth.dst': 'zero', 'arp.sha': 'zero', 'arp.tha': 'zero' });
  assert.is(verdict(zeroed.learned, zeroed.rewrite(request)), 'none');
  const mdns = build(eth({ dst: '01:00:5e:00:00:fb' }), ipv4({ src: '10.0.0.7', dst: '224.0.0.251' }), udp({ sport: 5353, dport: 5353 }));
  const m = box.rewrite(mdns);
  assert.is(m[16] & 1, 1, 'still multicast');
  assert.is(verdict(box.learned, m), 'none');
  mdns.copy(m, 16, 0, 6);
  assert.is(verdict(box.learned, m), 'rawValue');
});

test('refuses a raw MAC written aa:bb:cc:dd:ee:ff in a JSON record', () => {
  const g = guardKnowing([], [rawMac]);
  assert.not.ok(g.passesJson({ mac: '00:1b:21:3a:4f:5e' }));
  assert.not.ok(g.passesJson({ mac: '00:1B:21:3A:4F:5E' }));
  assert.not.ok(g.passesJson({ mac: '0:1b:21:3a:4f:5e' }));
});

test('refuses a raw MAC written aa-bb-cc-dd-ee-ff in a JSON record', () => {
  assert.not.ok(guardKnowing([], [rawMac]).passesJson({ mac: '00-1b-21-3a-4f-5e' }));
});

test('refuses a raw MAC written aabb.ccdd.eeff in a JSON record', () => {
  assert.not.ok(guardKnowing([], [rawMac]).passesJson({ mac: '001b.213a.4f5e' }));
});

test('refuses a raw MAC written as 12 bare hex digits in a JSON record', () => {
  const g = guardKnowing([], [rawMac]);
  assert.not.ok(g.passesJson({ mac: '001b213a4f5e' }));
  assert.not.ok(g.passesJson({ id: 'v1001b213a4f5e77' }), 'inside a longer hex run, at an odd offset');
});

test('refuses a raw MAC inside longer text, in a list and as an object key', () => {
  const g = guardKnowing([], [rawMac]);
  assert.not.ok(g.passesJson({ note: 'station 00:1b:21:3a:4f:5e roamed' }));
  assert.not.ok(g.passesJson({ seen: ['x', { m: 'hw=001b.213a.4f5e,' }] }));
  assert.not.ok(g.passesJson({ byMac: { '00-1b-21-3a-4f-5e': 3 } }));
});

test('refuses a raw MAC as a list of six byte values, inside a longer one, and as a 48-bit number', () => {
  const g = guardKnowing([], [rawMac]);
  assert.not.ok(g.passesJson({ mac: [...rawMac] }));
  assert.not.ok(g.passesJson({ blob: [9, 9, ...rawMac, 9] }));
  assert.not.ok(g.passesJson({ mac: rawMac.readUIntBE(0, 6) }));
});

test('passes MACs that are not raw, broadcast and zero MACs, and text that only looks like MACs', () => {
  const g = guardKnowing([], [rawMac, mac('ff:ff:ff:ff:ff:ff'), mac('00:00:00:00:00:00')]);
  assert.ok(g.passesJson({ mac: '00:1b:21:3a:4f:5f', b: 'ff:ff:ff:ff:ff:ff', z: '00-00-00-00-00-00', t: '12:30:00', h: 'deadbeefcafe0123', list: [0, 0x1b, 0x21, 0x3a, 0x4f, 0x5f] }));
});

test('a value checked before it was learned raw is refused after', () => {
  // The guard caches the hashes of values it let out; a hash never changes, so the
  // cache must not hide a value the analysis reports later.
  const k = key();
  const g = new EgressGuard(k);
  const other = mac('00:1b:21:00:00:99');
  const c = new AddressCollector(k);
  const v = new PacketView();
  const f = build(eth({ src: '00:1b:21:3a:4f:5e' }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const note = (frame: Buffer): void => {
    decodePacket(LinkType.EN10MB, frame, 0, frame.length, frame.length, v);
    c.note(v, frame);
    g.learn(c.take()!);
  };
  note(build(eth({ src: '00:1b:21:00:00:99', dst: '00:1b:21:00:00:98' }), ipv4({ src: '10.9.0.1', dst: '10.9.0.2' }), udp({ sport: 1, dport: 2 })));
  assert.ok(g.isRawMac(other));
  const rec = Buffer.concat([Buffer.alloc(16), f]);
  rec.writeUInt32LE(f.length, 8);
  rec.writeUInt32LE(f.length, 12);
  assert.is(verdict(g, rec), 'none');
  assert.is(verdict(g, rec), 'none');
  note(f);
  assert.is(verdict(g, rec), 'rawValue');
});

test.run();
