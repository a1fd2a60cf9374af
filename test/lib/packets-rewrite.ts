// Shared by the packets-output tests: primitives under a fixed keyring, policies made
// from the built-in default with a few fields changed, and one call that decodes and
// rewrites a crafted packet and hands back a copy of the record.
import { AnonPrimitives } from '../../firmware/analysis/anonymizer';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { FieldActions, validatePolicy } from '../../firmware/anonymize/policy';
import { fixedKeyring } from './fixed-keyring';

export function testPrimitives(fill = 0x5a): AnonPrimitives {
  const kr = fixedKeyring(fill);
  return new AnonPrimitives({ address: kr.subkey('address'), mac: kr.subkey('mac'), ident: kr.subkey('ident'), time: kr.subkey('time'), flow: kr.subkey('flow') });
}

/** The default policy's fields with `overrides` (policy JSON syntax) applied. */
export function fieldsWith(overrides: Record<string, unknown> = {}): FieldActions {
  return validatePolicy({ extends: 'default', fields: overrides }).fields;
}

export interface Rewritten {
  tsSec: number;
  tsUsec: number;
  caplen: number;
  origLen: number;
  /** The rewritten packet bytes (a copy). */
  data: Buffer;
  view: PacketView;
}

/** Decodes and rewrites packets with one rewriter (so flows and caches carry over between them). */
export class TestRewriter {
  readonly prim: AnonPrimitives;
  readonly rw: PacketRewriter;
  readonly view = new PacketView();

  constructor(overrides: Record<string, unknown> = {}, prim = testPrimitives()) {
    this.prim = prim;
    this.rw = new PacketRewriter(prim, fieldsWith(overrides));
  }

  run(pkt: Buffer, o: { linkType?: number; tsUs?: number; origLen?: number } = {}): Rewritten {
    decodePacket(o.linkType ?? LinkType.EN10MB, pkt, 0, pkt.length, o.origLen ?? pkt.length, this.view);
    const n = this.rw.rewrite(this.view, pkt, o.tsUs ?? 1.7e15);
    const rec = Buffer.from(this.rw.out.subarray(0, n));
    return {
      tsSec: rec.readUInt32LE(0),
      tsUsec: rec.readUInt32LE(4),
      caplen: rec.readUInt32LE(8),
      origLen: rec.readUInt32LE(12),
      data: rec.subarray(16),
      view: this.view,
    };
  }
}

/** Internet checksum of concatenated buffers, complemented (0 over data that includes a valid checksum). */
export function internetChecksum(...bufs: Buffer[]): number {
  const all = Buffer.concat(bufs);
  let sum = 0;
  for (let i = 0; i + 1 < all.length; i += 2) sum += all.readUInt16BE(i);
  if (all.length & 1) sum += all[all.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Whether `needle` occurs anywhere in `hay`. */
export function contains(hay: Buffer, needle: Buffer): boolean {
  return hay.indexOf(needle) >= 0;
}
