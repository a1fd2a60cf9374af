// What the egress guard checks in a PACKET record: a pcap record (16-byte little-endian
// header ts_sec, ts_usec, caplen, origlen, then caplen bytes) holding a packet that
// the packets output rewrote (analysis/builtin/packets/rewriter.ts).
//
// The guard fails closed: a record it cannot check completely is refused. "Completely"
// means every byte is accounted for, in one of four ways:
//   1. inside a header the decoder parsed: the layers are contiguous from the first
//      byte, so that is everything before v.lastParsedEnd, whatever stopped decoding
//      after it (a truncated header, an unknown protocol: the rewriter cut there);
//   2. inside the neighbour discovery options after an ICMPv6 header, which the
//      rewriter keeps and rewrites without the decoder parsing them (nd-options.ts);
//   3. inside a VXLAN or Geneve tunnel after a UDP header, when the decoder did not
//      enter it because a policy rewrote the UDP port it goes by (udp.dport "zero" or
//      "bucket"): the rest is decoded again as the tunnel's frame, by the same rules;
//   4. after those, a zero byte. Past the last parsed header the rewriter keeps only
//      payload and undecoded tails, and a policy can only drop them or zero them
//      (anonymize/policy-fields.ts: payload is "zero" or "drop"; there is no extractor),
//      so a legitimate record has nothing there but zeros, which name no host.
// Zeros are also why nothing here is scanned window by window: a scan would pass raw
// payload that holds no address, and in structured bytes it finds chance spellings
// (the tcpdump corpus has an ND MTU option whose "01 00 00 00" spells a 1.0.0.0 that
// another capture carries).
// A record whose IP version nibble or ethertype was changed stops the decoder early
// with the rest of its headers undecoded and not zero: refused. If a policy action that
// keeps payload bytes is ever added, its records are refused here until this rule
// learns to check them: fail closed, and the corpus test in test/egress says so.
import { u16 } from '../decode/bytes';
import { EtherType, Layer, LayerFlag, LinkType } from '../decode/constants';
import { decodePacket } from '../decode/decode';
import { PacketView } from '../decode/packetView';
import { isZero, ndOptionsCarryRaw, ndOptionsEnd } from './nd-options';

export const RECORD_HEADER_BYTES = 16;
/** Tunnels found behind rewritten UDP ports, at most (each costs a PacketView). */
const MAX_REDECODED_TUNNELS = 3;

/** Why a PACKET record was refused (EgressGuard.lastRefusal); 0: it passed. */
export const PacketRefusal = {
  none: 0,
  /** Shorter than the 16-byte record header. */
  short: 1,
  /** The caplen field is not the number of bytes after the header (either way; caplen 0 with bytes after it too). */
  caplenMismatch: 2,
  /** caplen larger than origlen: no capture produces that. */
  caplenOverOrigLen: 3,
  /** Bytes that are neither in a parsed header, nor ND options the rewriter keeps, nor zero (rule above). */
  undecodedBytes: 4,
  /** A raw address or MAC seen in this run. */
  rawValue: 5,
} as const;

export const packetRefusalNames: readonly string[] = ['none', 'short', 'caplenMismatch', 'caplenOverOrigLen', 'undecodedBytes', 'rawValue'];

/** How the guard asks whether the address (4, 16 bytes) or MAC (6) at buf[off..] was seen raw. */
export interface RawValueTest {
  rawAt(buf: Buffer, off: number, len: 4 | 6 | 16): boolean;
}

function le32(b: Buffer, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** One record at a time: decode() then, when it passed, carriesRawValue(). Preallocated views, no allocation per record. */
export class PacketRecordCheck {
  /** views[0] is the packet; views[1..] frames of tunnels behind rewritten UDP ports. */
  private readonly views: PacketView[] = [];
  private used = 0;

  constructor() {
    for (let i = 0; i <= MAX_REDECODED_TUNNELS; i++) this.views.push(new PacketView());
  }

  /** The packet as decoded by the last decode() (tests). */
  get view(): PacketView {
    return this.views[0];
  }

  /** Checks the record's shape and that every byte is accounted for (rule above): a PacketRefusal. */
  decode(record: Buffer, linkType: number): number {
    return this.decodeAt(record, 0, record.length, linkType);
  }

  /**
   * decode() of the record in buf[start, end), where it lies among others (a run of
   * records as the analysis sent them): the views' offsets are then offsets into buf.
   */
  decodeAt(buf: Buffer, start: number, end: number, linkType: number): number {
    this.used = 0;
    if (end - start < RECORD_HEADER_BYTES) return PacketRefusal.short;
    const caplen = le32(buf, start + 8);
    const origLen = le32(buf, start + 12);
    if (caplen !== end - start - RECORD_HEADER_BYTES) return PacketRefusal.caplenMismatch;
    if (caplen > origLen) return PacketRefusal.caplenOverOrigLen;
    const v = this.views[0];
    decodePacket(linkType, buf, start + RECORD_HEADER_BYTES, caplen, origLen, v);
    this.used = 1;
    return this.accounted(buf, v, 1) ? PacketRefusal.none : PacketRefusal.undecodedBytes;
  }

  /** Every byte of v's packet accounted for; views[next..] take tunnels found on the way. */
  private accounted(b: Buffer, v: PacketView, next: number): boolean {
    let from = v.lastParsedEnd;
    if (v.ndOptOff === from && v.ndOptLen > 0) {
      from = ndOptionsEnd(b, from, Math.min(v.end, from + v.ndOptLen));
      if (from < 0) return false;
    }
    if (isZero(b, from, v.end)) return true;
    return this.tunnelAccounts(b, v, next);
  }

  /**
   * The bytes after v's last header, when it is a UDP header (not in an ICMP quote),
   * decoded as VXLAN then, failing that, as Geneve: true when one accounts for all.
   * Same header tests as the decoder (decode/tunnel.ts), without its port test.
   */
  private tunnelAccounts(b: Buffer, v: PacketView, next: number): boolean {
    const last = v.depth - 1;
    if (next >= this.views.length || last < 0 || v.kind[last] !== Layer.UDP || (v.flags[last] & LayerFlag.QUOTED) !== 0) return false;
    const p = v.lastParsedEnd;
    const end = v.end;
    const inner = this.views[next];
    if (p + 8 <= end && (b[p] & 0x08) !== 0) {
      decodePacket(LinkType.EN10MB, b, p + 8, end - p - 8, end - p - 8, inner);
      if (this.accounted(b, inner, next + 1)) return this.keep(next);
    }
    if (p + 8 <= end && b[p] >> 6 === 0) {
      const at = p + 8 + (b[p] & 0x3f) * 4;
      const linkType = geneveLinkType(u16(b, p + 2));
      if (at <= end && linkType >= 0) {
        decodePacket(linkType, b, at, end - at, end - at, inner);
        if (this.accounted(b, inner, next + 1)) return this.keep(next);
      }
    }
    return false;
  }

  private keep(view: number): boolean {
    if (this.used < view + 1) this.used = view + 1;
    return true;
  }

  /**
   * True when a raw address or MAC sits where the analysis collected them in raw
   * packets (analysis/addresses.ts, AddressCollector.note): every Ethernet and Linux
   * cooked header's MACs, ARP's hardware and protocol addresses, every IP header's
   * addresses (and the other IP version's where only a nibble tells them apart), an
   * ICMP redirect's gateway, ND targets, link-layer address and DNS server options,
   * and the addresses of a quoted packet; in tunnels found again too.
   */
  carriesRawValue(b: Buffer, t: RawValueTest): boolean {
    for (let k = 0; k < this.used; k++) if (viewCarriesRaw(this.views[k], b, t)) return true;
    return false;
  }
}

/** pcap link type of the frame a Geneve header names, as decodeGeneve would follow it; -1 if the guard does not. */
function geneveLinkType(protocol: number): number {
  if (protocol === EtherType.TEB) return LinkType.EN10MB;
  if (protocol === EtherType.IPV4) return LinkType.IPV4;
  if (protocol === EtherType.IPV6) return LinkType.IPV6;
  return -1;
}

/**
 * True when nothing but the IP header's own version nibble made the decoder read layer
 * i as IPv4 or IPv6: a raw-IP link type, after MPLS, or the start of an ICMP quote.
 * There a changed nibble makes the decoder read one version as the other to the end
 * (an ethertype, address family or protocol number would disagree elsewhere and stop
 * it), so the other version's addresses are looked for at their places too: an IPv6
 * header holds an IPv4 header's at 12 and 16, an IPv4 header with 40 bytes or more
 * of options an IPv6 header's at 8 and 24. Only there: each extra 4-byte lookup of
 * anonymized bytes may equal a raw IPv4 address by chance and refuse the record.
 */
function versionFromNibbleOnly(v: PacketView, i: number): boolean {
  if (i === 0) return v.linkType === LinkType.RAW || v.linkType === LinkType.RAW_BSD12 || v.linkType === LinkType.RAW_BSD14;
  if (v.kind[i - 1] === Layer.MPLS) return true;
  return (v.flags[i] & LayerFlag.QUOTED) !== 0 && (v.flags[i - 1] & LayerFlag.QUOTED) === 0;
}

function viewCarriesRaw(v: PacketView, b: Buffer, t: RawValueTest): boolean {
  const end = v.end;
  for (let i = 0; i < v.depth; i++) {
    const off = v.off[i];
    switch (v.kind[i]) {
      case Layer.ETHERNET:
        if (t.rawAt(b, off, 6) || t.rawAt(b, off + 6, 6)) return true;
        break;
      case Layer.IPV4:
        if (off + 20 <= end && (t.rawAt(b, off + 12, 4) || t.rawAt(b, off + 16, 4))) return true;
        if (v.len[i] >= 40 && versionFromNibbleOnly(v, i) && (t.rawAt(b, off + 8, 16) || t.rawAt(b, off + 24, 16))) return true;
        break;
      case Layer.IPV6:
        if (off + 40 <= end && (t.rawAt(b, off + 8, 16) || t.rawAt(b, off + 24, 16))) return true;
        if (off + 40 <= end && versionFromNibbleOnly(v, i) && (t.rawAt(b, off + 12, 4) || t.rawAt(b, off + 16, 4))) return true;
        break;
      case Layer.SLL:
        if (b[off + 5] === 6 && t.rawAt(b, off + 6, 6)) return true;
        break;
      case Layer.SLL2:
        if (b[off + 11] === 6 && t.rawAt(b, off + 12, 6)) return true;
        break;
      case Layer.ICMP:
        if (b[off] === 5 && t.rawAt(b, off + 4, 4)) return true;
        break;
    }
  }
  if (v.arpOff >= 0 && v.arpHln === 6 && (t.rawAt(b, v.arpShaOff, 6) || t.rawAt(b, v.arpThaOff, 6))) return true;
  if (v.arpOff >= 0 && v.arpPln === 4 && (t.rawAt(b, v.arpSpaOff, 4) || t.rawAt(b, v.arpTpaOff, 4))) return true;
  if (v.ndTargetOff >= 0 && v.ndTargetOff + 16 <= end && t.rawAt(b, v.ndTargetOff, 16)) return true;
  if (v.ndRedirectDstOff >= 0 && v.ndRedirectDstOff + 16 <= end && t.rawAt(b, v.ndRedirectDstOff, 16)) return true;
  if (v.ndOptOff >= 0 && v.ndOptLen > 0 && ndOptionsCarryRaw(b, v.ndOptOff, Math.min(end, v.ndOptOff + v.ndOptLen), t)) return true;
  // The packet quoted inside an ICMP error carries the addresses of another packet.
  const q = v.quotedAddrLen;
  if (q === 4 || q === 16) {
    if (v.quotedSrcOff >= 0 && v.quotedSrcOff + q <= end && t.rawAt(b, v.quotedSrcOff, q)) return true;
    if (v.quotedDstOff >= 0 && v.quotedDstOff + q <= end && t.rawAt(b, v.quotedDstOff, q)) return true;
  }
  return false;
}
