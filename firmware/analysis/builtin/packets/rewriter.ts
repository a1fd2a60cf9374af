// The packets output: each decoded packet's headers rewritten by the policy into one
// pcap record (16-byte little-endian record header + bytes), in a preallocated buffer
// reused for every packet.
//
// The packet is copied as far as it is kept (headers only, unless the policy zeroes
// the payload instead of dropping it), then every decoded header is rewritten in the
// copy, reading raw values from the untouched input. Lengths (IPv4 total length, IPv6
// payload length, UDP length) keep the values they had on the wire and the record's
// original length stays the wire length, so readers see a capture cut by a snap length,
// which is exactly what it is, rather than malformed packets. Checksums are updated
// incrementally (checksum.ts), so their verdicts survive the dropped payload.
import type { FieldActions } from '../../../anonymize/policy';
import { coarsenMicros } from '../../../anonymize/transforms';
import type { AnonPrimitives } from '../../anonymizer';
import { put16, u16 } from '../../../decode/bytes';
import { Layer, LayerFlag } from '../../../decode/constants';
import type { PacketView } from '../../../decode/packetView';
import { copyBytes, viewOf } from './byteCopy';
import { ChecksumScopes } from './checksum';
import { OffsetCache } from './offsetCache';
import { CommonRewrite } from './commonRewrite';
import type { SeenSets } from '../../addresses';
import type { SegmentRecords } from '../../segment-records';
import type { PacketClock } from '../../ticks';
import { Act, FieldCodes } from './fieldCodes';
import { rewriteIcmp, rewriteIcmpv6, rewriteNdOptions } from './icmpFields';
import { rewriteAh, rewriteEsp, rewriteIpv4, rewriteIpv6, rewriteIpv6Fragment, rewriteIpv6OptionsHeader, rewriteIpv6Routing } from './ipFields';
import { rewriteArp, rewriteErspan, rewriteEthernet, rewriteGre, rewriteMpls, rewritePppoe, rewriteSllAddress, rewriteVlan } from './linkFields';
import { rewriteTcp, rewriteUdp } from './tcpFields';

/** Largest packet written: longer ones are cut here (and counted). Matches the capture's largest snap length. */
export const MAX_OUTPUT_BYTES = 262144;
const RECORD_HEADER = 16;
const MAX_LENGTH_FIELDS = 16;
const MAX_REMOVALS = 16;

/** The pcap record header's little-endian u32s (Buffer.writeUInt32LE checks its arguments every call). */
function put32le(b: Buffer, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** What the packets output counts; reported with the run's other counters. */
export interface PacketsCounters {
  /** Records written. */
  packets: number;
  /** Packets whose decoding stopped early: the undecoded rest was cut (or zeroed). */
  undecodedTail: number;
  /** Packets longer than MAX_OUTPUT_BYTES, cut there. */
  oversize: number;
  /** ICMP errors whose quoted packet was dropped by icmp.quoted "drop". */
  quotesDropped: number;
  /** Headers whose options were removed ("drop" of ip4.options, ip6.options, tcp.options.*). */
  optionsRemoved: number;
  /** Packet times that would be before 1970 after the secret shift, written as 0. */
  timeClamped: number;
}

/**
 * The packet CommonRewrite rewrites: Ethernet, IPv4 without options, TCP or UDP, each
 * where the last ends, nothing undecoded after them (a payload), no tunnel,
 * no quote, and small enough that nothing is cut.
 */
function isCommon(v: PacketView): boolean {
  if (v.depth !== 3 || v.problem !== 0 || v.kind[0] !== Layer.ETHERNET || v.kind[1] !== Layer.IPV4) return false;
  const start = v.start;
  if (v.off[0] !== start || v.len[0] !== 14 || v.off[1] !== start + 14 || v.len[1] !== 20 || v.off[2] !== start + 34) return false;
  const k = v.kind[2];
  const len = v.len[2];
  if (!((k === Layer.TCP && len >= 20) || (k === Layer.UDP && len === 8))) return false;
  return (v.flags[0] | v.flags[1] | v.flags[2]) === 0 && v.lastParsedEnd === start + 34 + len && v.ndOptOff < 0 && v.quotedOff < 0 &&
    v.end - start <= MAX_OUTPUT_BYTES;
}

export class PacketRewriter {
  /** The record being built: pcap record header then packet bytes. Valid until the next rewrite(). */
  readonly out = Buffer.alloc(RECORD_HEADER + MAX_OUTPUT_BYTES);
  private readonly outView = viewOf(this.out);
  /** The input buffer the packets come from and a view of it, made again only when it changes (a new segment). */
  private viewedIn: Buffer | null = null;
  private inView = this.outView;
  readonly scopes = new ChecksumScopes();
  readonly f: FieldCodes;
  readonly scratch16 = Buffer.alloc(16);
  readonly offsetCache: OffsetCache;
  readonly counters: PacketsCounters = { packets: 0, undecodedTail: 0, oversize: 0, quotesDropped: 0, optionsRemoved: 0, timeClamped: 0 };

  // Per packet. Offsets are absolute: `in` ones into inBuf, `out` ones into this.out.
  inBuf: Buffer = this.out;
  /** End of the input bytes copied to the output (headers; everything when the payload is zeroed). */
  keptIn = 0;
  /** out offset = in offset - base, for bytes after every removal made so far. */
  base = 0;
  outEnd = 0;
  /** End (in) of the datagram of the IP header being walked: where its checksums stop. */
  ipEnd = 0;
  /** The nearest IP header before the current layer, for pseudo-headers and TCP offsets. */
  ipAddrLen = 0;
  ipInSrc = 0;
  ipInDst = 0;
  ipOutSrc = 0;
  ipOutDst = 0;
  /** Pseudo-header destination: the IP destination, or an IPv6 routing header's final one. */
  pseudoInDst = 0;
  pseudoOutDst = 0;
  private readonly lengthFields = new Int32Array(MAX_LENGTH_FIELDS);
  private lengthCount = 0;
  private readonly removedAt = new Int32Array(MAX_REMOVALS);
  private readonly removedLen = new Int32Array(MAX_REMOVALS);
  private removals = 0;
  private removedTotal = 0;
  private readonly mapOutFn = (inOff: number): number => this.mapOut(inOff);
  private readonly granularityUs: number;
  private readonly shiftUs: number;
  private readonly payloadKept: boolean;
  /** Packets the C path rewrote (tests, benchmarks). */
  commonRewritten = 0;
  /** The C path for the most common packet (commonRewrite.ts), when this policy allows it. */
  private readonly common: CommonRewrite | null;

  /** cPath false: every packet by the JavaScript below (tests compare the two). */
  constructor(readonly prim: AnonPrimitives, fields: FieldActions, cPath = true) {
    this.f = new FieldCodes(fields);
    this.offsetCache = new OffsetCache(prim.offsets);
    const time = fields.time;
    this.granularityUs = time.action === 'coarsen' ? time.granularityUs : 1;
    this.shiftUs = time.action === 'coarsen' && time.shift ? prim.timeShiftUs : 0;
    this.payloadKept = this.f.code.payload === Act.zero;
    this.common = cPath ? CommonRewrite.for(prim, this.f, this.offsetCache, this.out) : null;
  }

  /** True when this policy has the C path: rewriteRun() can take records. */
  hasCPath(): boolean {
    return this.common !== null;
  }

  /**
   * The analysis' packet loop in C for the packets output alone (commonRewrite.ts run):
   * takes up to `max` records of `recs` (of pcap link type `linkType`) from where it stands, each decoded, found
   * reported (`seen`), rewritten and written as a whole record into packed from `at`,
   * while each is the common packet with every value cached. Advances recs and the
   * clock past them and counts them; runPackedEnd() gives the end of what was written.
   * Returns the records taken (0 without a C path); the next record is the caller's.
   */
  rewriteRun(recs: SegmentRecords, linkType: number, max: number, packed: Buffer, at: number, seen: SeenSets, clock: PacketClock): number {
    if (this.common === null) return 0;
    const k = this.common.run(recs, linkType, max, packed, at, this.payloadKept, seen, clock, this.shiftUs, this.granularityUs);
    this.counters.packets += k;
    this.commonRewritten += k;
    return k;
  }

  /** Where the records the last rewriteRun() wrote end in its `packed`. */
  runPackedEnd(): number {
    return this.common?.packedEnd ?? 0;
  }

  /** Rewrites one decoded packet into this.out; returns the record's length (header included). */
  rewrite(v: PacketView, buf: Buffer, tsUs: number): number {
    this.inBuf = buf;
    const start = v.start;
    if (this.common !== null && isCommon(v)) {
      const n = this.common.rewrite(buf, start, v.end, v.kind[2] === Layer.TCP ? 6 : 17, this.payloadKept);
      if (n >= 0) {
        // What mapOut() reads of the packet just rewritten (module-link.ts cuts a
        // packet by reference where a header starts): nothing was removed.
        this.keptIn = v.lastParsedEnd;
        this.base = start - RECORD_HEADER;
        this.outEnd = n;
        this.removals = 0;
        this.removedTotal = 0;
        const caplen = n - RECORD_HEADER;
        this.writeRecordHeader(tsUs, caplen, Math.max(caplen, v.origLen));
        this.counters.packets++;
        this.commonRewritten++;
        return n;
      }
    }
    let kept = this.keptEnd(v);
    const limit = start + MAX_OUTPUT_BYTES;
    if (v.end > limit && (this.payloadKept || kept > limit)) this.counters.oversize++;
    if (kept > limit) kept = limit;
    // A header cut by the limit is not rewritten, so it must not be kept either.
    for (let i = 0; i < v.depth; i++) {
      if (v.off[i] + v.len[i] > kept) { kept = Math.max(start, Math.min(kept, v.off[i])); break; }
    }
    const end = this.payloadKept ? Math.min(v.end, limit) : kept;
    if (v.problem !== 0 && v.end > v.lastParsedEnd) this.counters.undecodedTail++;
    this.keptIn = kept;
    this.base = start - RECORD_HEADER;
    if (buf !== this.viewedIn) {
      this.viewedIn = buf;
      this.inView = viewOf(buf);
    }
    copyBytes(buf, this.inView, start, end, this.out, this.outView, RECORD_HEADER);
    if (end > kept) this.out.fill(0, kept - this.base, end - this.base);
    this.outEnd = end - this.base;
    this.ipEnd = v.end;
    this.ipAddrLen = 0;
    this.lengthCount = 0;
    this.removals = 0;
    this.removedTotal = 0;
    this.scopes.reset();
    this.rewriteLayers(v);
    // Zeroed payload changed bytes too: the checksums take in everything copied.
    this.scopes.settle(buf, this.inView, this.out, this.outView, end, this.mapOutFn);
    const caplen = this.outEnd - RECORD_HEADER;
    this.writeRecordHeader(tsUs, caplen, Math.max(caplen, v.origLen - this.removedTotal));
    this.counters.packets++;
    return this.outEnd;
  }

  /** Headers end at the last parsed header; ND options belong to them; a dropped quote ends them early. */
  private keptEnd(v: PacketView): number {
    let kept = v.lastParsedEnd;
    if (v.ndOptOff >= 0 && v.ndOptLen > 0) kept = Math.max(kept, Math.min(v.end, v.ndOptOff + v.ndOptLen));
    if (v.quotedOff >= 0 && this.f.code['icmp.quoted'] === Act.drop && v.quotedOff < kept) {
      kept = v.quotedOff;
      this.counters.quotesDropped++;
    }
    return kept;
  }

  private rewriteLayers(v: PacketView): void {
    for (let i = 0; i < v.depth; i++) {
      const p = v.off[i];
      const len = v.len[i];
      if (p + len > this.keptIn) return;
      const o = p - this.base;
      const quoted = (v.flags[i] & LayerFlag.QUOTED) !== 0;
      if (quoted && this.f.code['icmp.quoted'] === Act.zero) {
        // The quote is the stack's last part: zeroed whole, nothing in it to rewrite.
        this.out.fill(0, o, this.keptIn - this.base);
        return;
      }
      switch (v.kind[i]) {
        case Layer.ETHERNET: rewriteEthernet(this, o); break;
        case Layer.VLAN: rewriteVlan(this, o); break;
        case Layer.SLL: rewriteSllAddress(this, o + 5, o + 6); break;
        case Layer.SLL2: rewriteSllAddress(this, o + 11, o + 12); break;
        case Layer.MPLS: rewriteMpls(this, o); break;
        case Layer.PPPOE: rewritePppoe(this, o); break;
        case Layer.ARP: rewriteArp(this, o); break;
        case Layer.IPV4: rewriteIpv4(this, p, o, len, quoted); break;
        case Layer.IPV6: rewriteIpv6(this, p, o, quoted); break;
        case Layer.IPV6_HOPOPTS:
        case Layer.IPV6_DSTOPTS: rewriteIpv6OptionsHeader(this, p, o, len, quoted); break;
        case Layer.IPV6_ROUTING: rewriteIpv6Routing(this, p, o, len); break;
        case Layer.IPV6_FRAGMENT: rewriteIpv6Fragment(this, o); break;
        case Layer.AH: rewriteAh(this, o, len); break;
        case Layer.ESP: rewriteEsp(this, o); break;
        case Layer.TCP: rewriteTcp(this, p, o, len, quoted); break;
        case Layer.UDP: rewriteUdp(this, p, o, len, quoted); break;
        case Layer.ICMP: rewriteIcmp(this, p, o); break;
        case Layer.ICMPV6:
          rewriteIcmpv6(this, p, o, len);
          if (!quoted && v.ndOptOff === p + len) rewriteNdOptions(this, o + len, Math.min(v.ndOptOff + v.ndOptLen, this.keptIn) - this.base);
          break;
        case Layer.GRE: rewriteGre(this, p, o); break;
        case Layer.ERSPAN: rewriteErspan(this, o, len); break;
      }
    }
  }

  /** Makes the IP header just rewritten the one that following transports belong to. */
  setIp(inSrc: number, inDst: number, outSrc: number, outDst: number, addrLen: number): void {
    this.ipInSrc = inSrc;
    this.ipInDst = inDst;
    this.ipOutSrc = outSrc;
    this.ipOutDst = outDst;
    this.pseudoInDst = inDst;
    this.pseudoOutDst = outDst;
    this.ipAddrLen = addrLen;
  }

  setPseudoDst(inOff: number, outOff: number): void {
    this.pseudoInDst = inOff;
    this.pseudoOutDst = outOff;
  }

  /** Remembers a 16-bit length (out offset) that encloses everything after it, for removeBytes. */
  addLengthField(outOff: number): void {
    if (this.lengthCount < MAX_LENGTH_FIELDS) this.lengthFields[this.lengthCount++] = outOff;
  }

  /**
   * Removes n bytes at in offset inAt (out offset outAt) from the output, and shortens
   * every enclosing length by n (0 means "unknown" on the wire and stays 0).
   */
  removeBytes(inAt: number, outAt: number, n: number): void {
    if (this.removals >= MAX_REMOVALS) return;
    const out = this.out;
    out.copyWithin(outAt, outAt + n, this.outEnd);
    this.outEnd -= n;
    this.base += n;
    this.removedAt[this.removals] = inAt;
    this.removedLen[this.removals++] = n;
    this.removedTotal += n;
    for (let k = 0; k < this.lengthCount; k++) {
      const lo = this.lengthFields[k];
      const value = u16(out, lo);
      if (value >= n) put16(out, lo, value - n);
    }
    this.counters.optionsRemoved++;
  }

  /** Output offset of an input offset, after all removals (removed bytes map to where they were). */
  mapOut(inOff: number): number {
    let o = inOff - this.inStartOut();
    for (let k = 0; k < this.removals; k++) {
      if (this.removedAt[k] < inOff) o -= Math.min(this.removedLen[k], inOff - this.removedAt[k]);
    }
    return o;
  }

  private inStartOut(): number {
    return this.base - this.removedTotal;
  }

  private writeRecordHeader(tsUs: number, caplen: number, origLen: number): void {
    let t = coarsenMicros(tsUs + this.shiftUs, this.granularityUs);
    if (t < 0) {
      // Captures from before the secret shift's range (clocks near 1970, crafted
      // files): a pcap time cannot be negative, so they all read as the epoch.
      t = 0;
      this.counters.timeClamped++;
    }
    const sec = Math.min(Math.floor(t / 1e6), 0xffffffff);
    const out = this.out;
    put32le(out, 0, sec);
    put32le(out, 4, Math.floor(t - Math.floor(t / 1e6) * 1e6));
    put32le(out, 8, caplen);
    put32le(out, 12, Math.min(origLen, 0xffffffff));
  }
}
