// Rewriting of TCP and UDP headers: ports, sequence numbers with per-direction keyed
// offsets, window, TCP options. Inside an ICMP quote only the bytes the quote holds
// (ports, and the sequence number when 8 bytes are there) are rewritten, the same way
// as in the packet's own direction, so a quote still matches its connection.
import { applyOffset } from '../../../anonymize/transforms';
import { u16, u32, put16, put32 } from '../../../decode/bytes';
import { Act, FieldId, numericField } from './fieldCodes';
import { ScopeKind } from './checksum';
import type { PacketRewriter } from './rewriter';

const TCP_ACK = 0x10;
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMP = 8;

/**
 * Looks up the keyed offsets of the packet's connection, addresses read raw from the
 * input: r.offsetCache.forward is its own direction's sequence space (for seq), and
 * r.offsetCache.reverse, source and destination swapped, the space its ack and SACK
 * edges acknowledge (transforms.ts, FlowOffsets).
 */
function lookupOffsets(r: PacketRewriter, sport: number, dport: number): void {
  r.offsetCache.lookup(r.inBuf, r.ipInSrc, r.ipInDst, r.ipAddrLen, sport, dport);
}

export function rewriteTcp(r: PacketRewriter, p: number, o: number, len: number, quoted: boolean): void {
  const inb = r.inBuf;
  const out = r.out;
  const sport = u16(inb, p);
  const dport = u16(inb, p + 2);
  put16(out, o, numericField(r.prim, r.f, FieldId['tcp.sport'], sport, 16));
  put16(out, o + 2, numericField(r.prim, r.f, FieldId['tcp.dport'], dport, 16));
  if (len < 8 || r.ipAddrLen === 0) return;
  const seqCode = r.f.code['tcp.seq'];
  const offsets = r.offsetCache;
  let looked = false;
  if (seqCode === Act.offset) {
    lookupOffsets(r, sport, dport);
    looked = true;
    put32(out, o + 4, applyOffset(u32(inb, p + 4), offsets.forward));
  } else if (seqCode !== Act.keep) put32(out, o + 4, 0);
  if (quoted || len < 20) return;
  const ackCode = r.f.code['tcp.ack'];
  const sackOffset = r.f.code['tcp.options.sack'] === Act.offset && len > 20;
  const hasAck = (inb[p + 13] & TCP_ACK) !== 0;
  let rev = 0;
  if ((ackCode === Act.offset && hasAck) || sackOffset) {
    if (!looked) lookupOffsets(r, sport, dport);
    rev = offsets.reverse;
  }
  // Without the ACK flag the field means nothing, but offsetting a zero there would
  // publish the reverse direction's offset; under "offset" it is zeroed instead.
  if (ackCode === Act.offset) put32(out, o + 8, hasAck ? applyOffset(u32(inb, p + 8), rev) : 0);
  else if (ackCode !== Act.keep) put32(out, o + 8, 0);
  put16(out, o + 14, numericField(r.prim, r.f, FieldId['tcp.window'], u16(inb, p + 14), 16));
  const s = r.scopes.add(ScopeKind.PSEUDO, 16, p, r.ipEnd, o);
  r.scopes.setPseudo(s, r.ipInSrc, r.pseudoInDst, r.ipOutSrc, r.pseudoOutDst, r.ipAddrLen);
  if (len <= 20) return;
  const n = len - 20;
  const used = rewriteTcpOptions(r, p + 20, o + 20, n, rev);
  if (used < 0) return;
  // Options were dropped: the header shrinks to what is left, padded to 4 bytes.
  const keep = (used + 3) & ~3;
  if (keep >= n) return;
  out[o + 12] = (((20 + keep) >> 2) << 4) | (out[o + 12] & 0x0f);
  r.removeBytes(p + 20 + keep, o + 20 + keep, n - keep);
  if (s >= 0) r.scopes.lengthCut[s] += n - keep;
}

/** FieldId of the policy field that covers a TCP option kind. */
function optionField(kind: number): number {
  switch (kind) {
    case OPT_MSS: return FieldId['tcp.options.mss'];
    case OPT_WSCALE: return FieldId['tcp.options.wscale'];
    case OPT_SACK_PERMITTED:
    case OPT_SACK: return FieldId['tcp.options.sack'];
    case OPT_TIMESTAMP: return FieldId['tcp.options.timestamp'];
  }
  return FieldId['tcp.options.unknown'];
}

/**
 * Options are read from the input and written to the output at a write cursor: "drop"
 * skips an option, so the ones after it move up, and the rest of the option space
 * becomes end-of-list padding. Returns the bytes written when something was dropped
 * (the caller then shortens the header), or -1 when the header keeps its length.
 */
function rewriteTcpOptions(r: PacketRewriter, pin: number, o: number, n: number, rev: number): number {
  const inb = r.inBuf;
  const out = r.out;
  let i = 0;
  let w = 0;
  let dropped = false;
  while (i < n) {
    const kind = inb[pin + i];
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) { out[o + w++] = OPT_NOP; i++; continue; }
    const len = i + 1 < n ? inb[pin + i + 1] : 0;
    if (len < 2 || i + len > n) {
      // A malformed length leaves the rest unparseable: it is one unknown option.
      const code = r.f.code['tcp.options.unknown'];
      if (code === Act.keep) { inb.copy(out, o + w, pin + i, pin + n); w += n - i; }
      else if (code === Act.nop) { out.fill(OPT_NOP, o + w, o + w + n - i); w += n - i; }
      else dropped = true;
      break;
    }
    let code = r.f.codeById[optionField(kind)];
    if (kind === OPT_SACK_PERMITTED && code === Act.offset) code = Act.keep;
    if (code === Act.nop) {
      out.fill(OPT_NOP, o + w, o + w + len);
      w += len;
    } else if (code !== Act.drop) {
      inb.copy(out, o + w, pin + i, pin + i + len);
      if (kind === OPT_SACK && code === Act.offset) {
        for (let e = o + w + 2; e + 4 <= o + w + len; e += 4) put32(out, e, applyOffset(u32(out, e), rev));
      } else if (code === Act.zero) {
        out.fill(0, o + w + 2, o + w + len);
      }
      w += len;
    } else dropped = true;
    i += len;
  }
  out.fill(OPT_EOL, o + w, o + n);
  return dropped ? w : -1;
}

export function rewriteUdp(r: PacketRewriter, p: number, o: number, len: number, quoted: boolean): void {
  const inb = r.inBuf;
  const out = r.out;
  put16(out, o, numericField(r.prim, r.f, FieldId['udp.sport'], u16(inb, p), 16));
  put16(out, o + 2, numericField(r.prim, r.f, FieldId['udp.dport'], u16(inb, p + 2), 16));
  if (len < 8 || r.ipAddrLen === 0) return;
  const udpLen = u16(inb, p + 4);
  const end = !quoted && udpLen >= 8 && p + udpLen < r.ipEnd ? p + udpLen : r.ipEnd;
  const s = r.scopes.add(ScopeKind.UDP, 6, p, end, o);
  r.scopes.setPseudo(s, r.ipInSrc, r.pseudoInDst, r.ipOutSrc, r.pseudoOutDst, r.ipAddrLen);
}
