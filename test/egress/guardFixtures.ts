// Shared by the egress guard tests: keys, guards that learned given values, pcap
// records, and the real path of a packet to the guard — the analysis collects its raw
// values, the packets output rewrites it, the guard checks the record.
import { AddressCollector, hashAddress, hashMac } from '../../firmware/analysis/addresses';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { EgressGuard } from '../../firmware/egress/guard';
import { packetRefusalNames } from '../../firmware/egress/packet-record';
import { SecretKey } from '../../firmware/keys/secret-key';
import { fieldsWith, testPrimitives } from '../lib/packets-rewrite';

export function key(fill = 7): SecretKey {
  return SecretKey.fromBytes(Buffer.alloc(32, fill));
}

/** A hash batch as the analysis sends it: addresses (4 or 16 bytes) then MACs (6 bytes). */
export function hashBatch(k: SecretKey, addrs: Buffer[], macs: Buffer[] = []): Uint8Array {
  const out = Buffer.alloc((addrs.length + macs.length) * 8);
  const scratch = Buffer.alloc(32);
  addrs.forEach((a, i) => hashAddress(k, a, scratch).copy(out, i * 8, 0, 8));
  macs.forEach((m, i) => hashMac(k, m, scratch).copy(out, (addrs.length + i) * 8, 0, 8));
  return out;
}

export function guardKnowing(addrs: Buffer[], macs: Buffer[] = [], slots?: number): EgressGuard {
  const k = key();
  const g = new EgressGuard(k, slots);
  g.learn(hashBatch(k, addrs, macs));
  return g;
}

/** A pcap record (16-byte header + frame), as PACKET records carry packets. */
export function record(frame: Buffer, o: { caplen?: number; origLen?: number } = {}): Buffer {
  const r = Buffer.alloc(16 + frame.length);
  r.writeUInt32LE(o.caplen ?? frame.length, 8);
  r.writeUInt32LE(o.origLen ?? frame.length, 12);
  frame.copy(r, 16);
  return r;
}

/** What passesPacket said, by name: "none" when it passed. */
export function verdict(g: EgressGuard, rec: Buffer, linkType: number = LinkType.EN10MB): string {
  const ok = g.passesPacket(rec, linkType);
  const why = packetRefusalNames[g.lastRefusal];
  if (ok !== (why === 'none')) throw new Error(`passesPacket said ${ok} but lastRefusal is ${why}`);
  return why;
}

/** The box's path for crafted packets: one key, a collector feeding a guard, and a rewriter under a policy. */
export class BoxPath {
  readonly key = key();
  /** Learns every raw value the collector reports. */
  readonly learned = new EgressGuard(this.key);
  /** Knows nothing. */
  readonly empty = new EgressGuard(this.key);
  private readonly collector = new AddressCollector(this.key);
  private readonly rw: PacketRewriter;
  private readonly v = new PacketView();

  constructor(overrides: Record<string, unknown> = {}) {
    this.rw = new PacketRewriter(testPrimitives(), fieldsWith(overrides));
  }

  /** Notes the frame's raw values for `learned`, rewrites it, and returns a copy of the record. */
  rewrite(frame: Buffer, linkType: number = LinkType.EN10MB): Buffer {
    decodePacket(linkType, frame, 0, frame.length, frame.length, this.v);
    this.collector.note(this.v, frame);
    const h = this.collector.take();
    if (h) this.learned.learn(h);
    const n = this.rw.rewrite(this.v, frame, 1.7e15);
    return Buffer.from(this.rw.out.subarray(0, n));
  }
}
