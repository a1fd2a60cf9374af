// Random mutations and truncations of crafted packets, under every supported link type:
// the decoder must never throw and its view must stay inside the captured bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DecodeCounter, decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { checkView } from '../lib/checkPacketView';
import { build, dnsMessage, eth, gre, icmp, icmpv6, ipv4, ipv6, loopback, raw, sll, sll2, tcp, udp, vlan, erspan2, mpls } from '../lib/craft';

/** mulberry32: a small seeded generator, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const inner = () => [
  ipv4({ src: '10.1.1.1', dst: '10.2.2.2', options: Buffer.from([7, 7, 4, 0, 0, 0, 0]) }),
  gre({ key: 1, seq: 2 }),
  ipv6({ src: '2001:db8::1', dst: '2001:db8::2', ext: [{ type: 'hop' }, { type: 'frag', more: true }] }),
  tcp({ sport: 1000, dport: 80, options: Buffer.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) }),
  raw('payload'),
];

const seeds: [number, Buffer][] = [
  [LinkType.EN10MB, build(eth(), vlan({ vid: 5, tpid: 0x88a8 }), vlan({ vid: 6 }), ...inner())],
  [LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), icmp({ type: 3, code: 1 }), ipv4({ src: '2.2.2.2', dst: '3.3.3.3' }), udp({ sport: 5, dport: 53 }), raw(dnsMessage({ id: 1, questions: [{ name: 'example.com' }] })))],
  [LinkType.EN10MB, build(eth(), ipv6({ src: '::1', dst: '::2' }), icmpv6({ type: 2 }), ipv6({ src: '::2', dst: '::3' }), tcp({ sport: 1, dport: 2 }))],
  [LinkType.EN10MB, build(eth(), mpls({ label: 1 }), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), gre({ seq: 9 }), erspan2({ session: 1 }), eth(), ipv4({ src: '3.3.3.3', dst: '4.4.4.4' }), udp({ sport: 1, dport: 2 }))],
  [LinkType.LINUX_SLL, build(sll(), ...inner())],
  [LinkType.LINUX_SLL2, build(sll2(), ...inner())],
  [LinkType.NULL, build(loopback({ bigEndian: false }), ...inner())],
  [LinkType.LOOP, build(loopback({ bigEndian: true }), ...inner())],
  [LinkType.RAW, build(...inner())],
];

const linkTypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

function mutate(r: () => number, src: Buffer): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(r() * b.length);
    const what = r();
    if (what < 0.6) b[pos] = Math.floor(r() * 256);
    else if (what < 0.8) b[pos] ^= 1 << Math.floor(r() * 8);
    else b[pos] = r() < 0.5 ? 0 : 0xff;
  }
  return b;
}

test('decodes 60000 random mutations and truncations without an exception', () => {
  const seed = 0x5ea17a9;
  const r = rng(seed);
  const v = new PacketView();
  let fullyDecoded = 0;
  for (let i = 0; i < 60000; i++) {
    const [lt, pkt] = seeds[i % seeds.length];
    const m = mutate(r, pkt);
    const caplen = r() < 0.5 ? m.length : Math.floor(r() * (m.length + 1));
    const linkType = r() < 0.9 ? lt : linkTypes[Math.floor(r() * linkTypes.length)];
    try {
      decodePacket(linkType, m, 0, caplen, m.length, v);
    } catch (e) {
      assert.unreachable(`seed ${seed} iteration ${i}: ${(e as Error).stack} on ${m.subarray(0, caplen).toString('hex')}`);
    }
    checkView(v, `seed ${seed} iteration ${i}`);
    if (v.problem === 0) fullyDecoded++;
  }
  assert.is(v.counters[DecodeCounter.packets], 60000);
  // Mutations must not hide every packet from the decoder, nor leave all of them intact.
  assert.ok(fullyDecoded > 1000 && fullyDecoded < 59000, `fully decoded ${fullyDecoded}`);
});

test('decodes random bytes under every link type without an exception', () => {
  const r = rng(42);
  const v = new PacketView();
  const buf = Buffer.alloc(256);
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(r() * buf.length);
    for (let j = 0; j < len; j++) buf[j] = Math.floor(r() * 256);
    decodePacket(linkTypes[i % linkTypes.length], buf, 0, len, len, v);
    checkView(v, `random packet ${i}`);
  }
  assert.is(v.counters[DecodeCounter.packets], 20000);
});

test.run();
