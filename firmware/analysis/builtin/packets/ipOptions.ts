// Options inside IP headers: IPv4 options and the TLV options of IPv6 hop-by-hop and
// destination option headers. "nop" replaces every option by padding of the same
// length (the header keeps its size, so nothing after it moves); "keep" keeps them
// but still anonymizes the addresses some of them carry (record route, source routes,
// timestamps with addresses, the IPv6 home address), because a kept option must not
// be a way around ip4.src/ip6.src. IPv4 "drop" is done by the caller (it removes the
// option bytes and shortens the header).
import { applyAddressAction } from '../../anonymizer';
import type { PacketRewriter } from './rewriter';

const IPOPT_EOL = 0;
const IPOPT_NOP = 1;
const IPOPT_RR = 7;
const IPOPT_TS = 68;
const IPOPT_LSRR = 131;
const IPOPT_SSRR = 137;

/**
 * Every option becomes NOPs over its own length; end-of-list and what follows become 0.
 * Options are walked by their lengths: an option's data may hold 0 bytes that are not
 * an end-of-list. A malformed length makes the rest NOPs.
 */
export function nopIpv4Options(out: Buffer, from: number, to: number): void {
  let i = from;
  while (i < to) {
    const type = out[i];
    if (type === IPOPT_EOL) {
      out.fill(0, i, to);
      return;
    }
    const len = type === IPOPT_NOP ? 1 : i + 1 < to ? out[i + 1] : 0;
    if (len < 1 || (type !== IPOPT_NOP && len < 2) || i + len > to) {
      out.fill(IPOPT_NOP, i, to);
      return;
    }
    out.fill(IPOPT_NOP, i, i + len);
    i += len;
  }
}

/** Keeps IPv4 options, anonymizing the addresses inside route and timestamp options. */
export function keepIpv4Options(r: PacketRewriter, from: number, to: number): void {
  const out = r.out;
  const a = r.f.actions['ip4.src'];
  let i = from;
  while (i < to) {
    const type = out[i];
    if (type === IPOPT_EOL) {
      out.fill(0, i, to); // padding after end-of-list must be zero; it may hold stale bytes
      return;
    }
    if (type === IPOPT_NOP) { i++; continue; }
    const len = i + 1 < to ? out[i + 1] : 0;
    if (len < 2 || i + len > to) {
      nopIpv4Options(out, i, to); // malformed: nothing after it can be trusted
      return;
    }
    if (type === IPOPT_RR || type === IPOPT_LSRR || type === IPOPT_SSRR) {
      for (let q = i + 3; q + 4 <= i + len; q += 4) applyAddressAction(r.prim, a, out, q, 4);
    } else if (type === IPOPT_TS && len >= 4) {
      const flg = out[i + 3] & 15;
      if (flg === 1 || flg === 3) {
        for (let q = i + 4; q + 8 <= i + len; q += 8) applyAddressAction(r.prim, a, out, q, 4);
      }
    }
    i += len;
  }
}

/** Pad1 / PadN padding over out[from, to): PadN carries at most 255 zero bytes. */
export function fillIpv6Padding(out: Buffer, from: number, to: number): void {
  let i = from;
  while (i < to) {
    const n = Math.min(to - i, 257);
    if (n === 1) {
      out[i] = 0; // Pad1
      return;
    }
    out[i] = 1;
    out[i + 1] = n - 2;
    out.fill(0, i + 2, i + n);
    i += n;
  }
}

const IP6OPT_PAD1 = 0;
const IP6OPT_JUMBO = 0xc2;
const IP6OPT_HOME_ADDRESS = 0xc9;

/**
 * IPv6 TLV options in out[from, to). code: 'nop' pads each option over its own length,
 * 'drop' pads the whole area, 'keep' keeps options but anonymizes the home address.
 * The jumbo payload option is always kept: it is the packet's length, and without it a
 * payload length of 0 reads as malformed.
 */
export function rewriteIpv6Options(r: PacketRewriter, from: number, to: number, mode: 'keep' | 'nop' | 'drop'): void {
  const out = r.out;
  if (mode === 'drop') {
    fillIpv6Padding(out, from, to);
    return;
  }
  let i = from;
  while (i < to) {
    const type = out[i];
    if (type === IP6OPT_PAD1) { i++; continue; }
    const len = i + 1 < to ? 2 + out[i + 1] : 0;
    if (len < 2 || i + len > to) {
      fillIpv6Padding(out, i, to);
      return;
    }
    if (mode === 'keep') {
      if (type === IP6OPT_HOME_ADDRESS && len >= 18) applyAddressAction(r.prim, r.f.actions['ip6.src'], out, i + 2, 16);
    } else if (type !== IP6OPT_JUMBO) {
      fillIpv6Padding(out, i, i + len);
    }
    i += len;
  }
}
