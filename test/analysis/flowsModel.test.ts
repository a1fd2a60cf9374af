// The flow table against a plain Map model of an LRU cache: under heavy eviction (which
// exercises the hash index's deletions), both emit exactly the same flows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build, eth, ipv4, ipv6, udp } from '../lib/craft';
import { FlowHarness } from '../lib/flowHarness';

function model(maxFlows: number, packets: { key: string; rev: string }[]): string[] {
  const lru = new Map<string, number>();
  const out: string[] = [];
  for (const p of packets) {
    const key = lru.has(p.key) ? p.key : lru.has(p.rev) ? p.rev : null;
    if (key !== null) {
      const n = lru.get(key)! + 1;
      lru.delete(key);
      lru.set(key, n);
      continue;
    }
    if (lru.size >= maxFlows) {
      const [oldest, n] = lru.entries().next().value as [string, number];
      lru.delete(oldest);
      out.push(`${oldest} ${n} evicted`);
    }
    lru.set(p.key, 1);
  }
  for (const [k, n] of lru) out.push(`${k} ${n} runEnd`);
  return out;
}

test('emits the same flows as an LRU model under constant eviction, IPv4 and IPv6', () => {
  let seed = 99;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
  const h = new FlowHarness({ maxFlows: 37, idleTimeoutUs: 1e15, activeTimeoutUs: 1e15 });
  const fed: { key: string; rev: string }[] = [];
  for (let i = 0; i < 20000; i++) {
    const a = rnd(60);
    const b = rnd(3);
    const v6 = a % 5 === 0;
    const [src, dst, sport, dport] = rnd(2) ? [`10.0.${a}.1`, `10.9.${b}.9`, 1000 + a, 53] : [`10.9.${b}.9`, `10.0.${a}.1`, 53, 1000 + a];
    const s = v6 ? `2001:db8::${src.split('.')[1]}:${src.split('.')[2]}` : src;
    const d = v6 ? `2001:db8::${dst.split('.')[1]}:${dst.split('.')[2]}` : dst;
    const l3 = v6 ? ipv6({ src: s, dst: d }) : ipv4({ src: s, dst: d });
    h.feed(i, build(eth(), l3, udp({ sport, dport })));
    const canon = (x: string) => (x.includes(':') ? x.split(':').map((g) => (g === '' ? '' : parseInt(g, 16).toString(16))).join(':') : x);
    fed.push({ key: `${canon(s)}:${sport}>${canon(d)}:${dport}`, rev: `${canon(d)}:${dport}>${canon(s)}:${sport}` });
  }
  h.table.flushAll(20000);
  const expand = (a: string) => {
    if (!a.includes(':')) return a;
    const full = a.split(':');
    // clearText prints all 8 groups; compress like the model's input ("2001:db8::x:y").
    return `${full[0]}:${full[1]}::${full[6]}:${full[7]}`;
  };
  const got = h.out.map((f) => `${expand(f.srcAddr)}:${f.srcPort}>${expand(f.dstAddr)}:${f.dstPort} ${f.packets + f.revPackets} ${f.endReason}`);
  const want = model(37, fed);
  assert.ok(h.table.counters.evicted > 1000, `only ${h.table.counters.evicted} evictions`);
  // Evictions must come in the same order; flushAll's order (oldest flow first) differs
  // from the model's (least recently seen first), so those are compared as sets.
  const evictions = (l: string[]) => l.filter((x) => x.endsWith('evicted'));
  const atEnd = (l: string[]) => l.filter((x) => x.endsWith('runEnd')).sort();
  assert.equal(evictions(got), evictions(want));
  assert.equal(atEnd(got), atEnd(want));
  assert.is(got.length, want.length);
});

test.run();
