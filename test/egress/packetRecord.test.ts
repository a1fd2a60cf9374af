// The guard fails closed on PACKET records: one test per record it cannot check
// completely (firmware/egress/packet-record.ts), each against a guard that knows
// nothing, so the refusal comes from the record's shape and not from a raw address;
// and the records the rewriter legitimately writes around those rules pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LinkType } from '../../firmware/decode';
import { EgressGuard } from '../../firmware/egress/guard';
import { build, eth, icmpv6, ipv4, ipv6, raw, tcp, udp, vxlan } from '../lib/craft';
import { BoxPath, key, record, verdict } from './guardFixtures';

const frame = (): Buffer => build(eth(), ipv4({ src: '192.0.2.1', dst: '198.51.100.2' }), tcp({ sport: 40000, dport: 443, flags: 'S' }));

/** A record the default policy wrote (headers only), which an empty guard passes. */
function rewritten(f: Buffer = frame(), overrides: Record<string, unknown> = {}): Buffer {
  return new BoxPath(overrides).rewrite(f);
}

const nothingKnown = (): EgressGuard => new EgressGuard(key());

test('passes a rewritten packet, and the empty record the rewriter writes for a packet with nothing decoded', () => {
  assert.is(verdict(nothingKnown(), rewritten()), 'none');
  assert.is(verdict(nothingKnown(), record(Buffer.alloc(0), { origLen: 60 })), 'none');
});

test('refuses a record shorter than its 16-byte header', () => {
  const g = nothingKnown();
  assert.is(verdict(g, Buffer.alloc(0)), 'short');
  assert.is(verdict(g, rewritten().subarray(0, 15)), 'short');
});

test('refuses a record whose caplen says more bytes than follow', () => {
  const r = rewritten();
  r.writeUInt32LE(r.length - 16 + 1, 8);
  r.writeUInt32LE(r.length, 12);
  assert.is(verdict(nothingKnown(), r), 'caplenMismatch');
});

test('refuses a record whose caplen says fewer bytes than follow', () => {
  const r = rewritten();
  r.writeUInt32LE(r.length - 16 - 14, 8); // the guard would check the Ethernet header and let the rest go
  assert.is(verdict(nothingKnown(), r), 'caplenMismatch');
});

test('refuses a record with caplen 0 followed by the whole packet', () => {
  const r = record(frame(), { caplen: 0 });
  assert.is(verdict(nothingKnown(), r), 'caplenMismatch');
});

test('refuses a record whose caplen is larger than its origlen', () => {
  const r = rewritten();
  r.writeUInt32LE(r.length - 16 - 1, 12);
  assert.is(verdict(nothingKnown(), r), 'caplenOverOrigLen');
});

test('refuses a packet whose IP version nibble was changed', () => {
  const r = rewritten();
  assert.is(r[16 + 14] >> 4, 4);
  r[16 + 14] = (5 << 4) | (r[16 + 14] & 15);
  assert.is(verdict(nothingKnown(), r), 'undecodedBytes');
  r[16 + 14] = (6 << 4) | (r[16 + 14] & 15); // IPv6 behind the IPv4 ethertype: the decoder stops too
  assert.is(verdict(nothingKnown(), r), 'undecodedBytes');
});

test('refuses a packet whose ethertype was changed', () => {
  const r = rewritten();
  r.writeUInt16BE(0x88b5, 16 + 12); // local experimental: not decoded
  assert.is(verdict(nothingKnown(), r), 'undecodedBytes');
  r.writeUInt16BE(0x0806, 16 + 12); // ARP: decoded as ARP, the TCP header is left over
  assert.is(verdict(nothingKnown(), r), 'undecodedBytes');
});

test('refuses an IPv4 header read as IPv6 to the end after its version nibble was changed in a raw-IP capture', () => {
  // 20 bytes of IPv4 and 20 of TCP make a whole IPv6 header: nothing is left undecoded,
  // so only looking for IPv4 addresses inside it finds the raw ones.
  const box = new BoxPath();
  const f = build(ipv4({ src: '192.0.2.1', dst: '198.51.100.2' }), tcp({ sport: 40000, dport: 443 }));
  box.rewrite(f, LinkType.RAW);
  const leaked = record(f);
  leaked[16] = (6 << 4) | (leaked[16] & 15);
  assert.is(verdict(box.empty, leaked, LinkType.RAW), 'none');
  assert.is(verdict(box.learned, leaked, LinkType.RAW), 'rawValue');
});

test('passes a packet whose payload the policy zeroed, and refuses one whose payload bytes are not zero', () => {
  const f = build(eth(), ipv4({ src: '192.0.2.1', dst: '198.51.100.2' }), udp({ sport: 5000, dport: 5001 }), raw('payload that must not leave'));
  const zeroed = rewritten(f, { payload: 'zero' });
  assert.is(zeroed.length, 16 + f.length);
  assert.is(verdict(nothingKnown(), zeroed), 'none');
  zeroed[zeroed.length - 1] = 0x41;
  assert.is(verdict(nothingKnown(), zeroed), 'undecodedBytes');
});

test('passes the headers the rewriter kept of a packet whose decoding stopped, and refuses the rest put back', () => {
  const f = build(eth(), ipv4({ src: '192.0.2.1', dst: '198.51.100.2', proto: 200 }), raw('an unknown protocol'));
  const r = rewritten(f);
  assert.is(r.length, 16 + 14 + 20);
  assert.is(verdict(nothingKnown(), r), 'none');
  const whole = Buffer.concat([r, f.subarray(34)]);
  whole.writeUInt32LE(whole.length - 16, 8);
  whole.writeUInt32LE(whole.length - 16, 12);
  assert.is(verdict(nothingKnown(), whole), 'undecodedBytes');
});

/** A router advertisement with a source link-layer address, an MTU and a DNS search list (type 31, zeroed by the rewriter). */
function routerAdvertisement(lladdr = '02:aa:bb:cc:dd:01'): Buffer {
  const opts = Buffer.alloc(8 + 8 + 16);
  opts[0] = 1; opts[1] = 1;
  Buffer.from(lladdr.split(':').map((x) => parseInt(x, 16))).copy(opts, 2);
  opts[8] = 5; opts[9] = 1; opts.writeUInt32BE(1500, 12);
  opts[16] = 31; opts[17] = 2; opts.write('\x07example', 24, 'latin1');
  return build(eth(), ipv6({ src: 'fe80::1', dst: 'ff02::1', hopLimit: 255 }), icmpv6({ type: 134, body: Buffer.alloc(12) }), raw(opts));
}

test('passes ND options as the rewriter writes them, and refuses an option holding bytes it zeroes', () => {
  const r = rewritten(routerAdvertisement());
  assert.is(verdict(nothingKnown(), r), 'none');
  const optionsAt = 16 + 14 + 40 + 16;
  assert.is(r[optionsAt + 16], 31);
  assert.ok(r.subarray(optionsAt + 18, optionsAt + 32).every((b) => b === 0));
  r[optionsAt + 25] = 0x65;
  assert.is(verdict(nothingKnown(), r), 'undecodedBytes');
});

test('passes a VXLAN frame behind a UDP port the policy zeroed, and still finds the raw addresses inside it', () => {
  const box = new BoxPath({ 'udp.dport': 'zero' });
  const inner = [eth({ src: '02:00:00:00:10:01', dst: '02:00:00:00:10:02' }), ipv4({ src: '10.7.0.1', dst: '10.7.0.2' }), tcp({ sport: 1, dport: 2 })];
  const f = build(eth(), ipv4({ src: '192.0.2.1', dst: '198.51.100.2' }), udp({ sport: 50000, dport: 4789 }), vxlan({ vni: 42 }), ...inner);
  const r = box.rewrite(f);
  assert.is(r.readUInt16BE(16 + 34 + 2), 0, 'the port was zeroed: the decoder no longer sees VXLAN');
  assert.is(verdict(box.empty, r), 'none');
  assert.is(verdict(box.learned, r), 'none');
  f.copy(r, 16 + 50 + 14 + 12, 50 + 14 + 12, 50 + 14 + 16); // the inner source address, raw again
  assert.is(verdict(box.learned, r), 'rawValue');
});

test.run();
