/**
 * RFC 1071 Internet checksum, as used by IPv4, ICMP, ICMPv6, TCP and UDP. Sums are
 * kept unfolded (a plain number, well below 2^53 for any frame) so the pseudo-header
 * and the segment can be summed separately and combined; fold once at the end.
 */

/** Adds the 16-bit big-endian words of buf[start, end) to sum; an odd last byte is padded with zero. */
export function sumWords(buf: Buffer, start = 0, end = buf.length, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store in the checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Sum of the TCP/UDP/ICMPv6 pseudo-header for IPv4 (4-byte) or IPv6 (16-byte) addresses. */
export function pseudoHeaderSum(src: Buffer, dst: Buffer, protocol: number, length: number): number {
  let sum = sumWords(src) + sumWords(dst) + protocol;
  // IPv4 carries a 16-bit length, IPv6 a 32-bit one; both sum the same way for lengths < 65536.
  sum += length & 0xffff;
  sum += Math.floor(length / 0x10000);
  return sum;
}
