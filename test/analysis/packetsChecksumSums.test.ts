// packets/checksum.ts settle(): its one-pass, 32-bit-word sums give the checksum that
// RFC 1624 eqn. 3 gives over 16-bit words summed apart (onesSum), for scopes of every
// length, odd ones too, with and without a pseudo-header, UDP's 0 and 0xffff included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { viewOf } from '../../firmware/analysis/builtin/packets/byteCopy';
import { ChecksumScopes, ScopeKind, fold, onesSum, updateChecksum } from '../../firmware/analysis/builtin/packets/checksum';
import { randomBytes, seededRandom } from '../lib/anonymize-fixtures';

const identity = (inOff: number): number => inOff - 100;

/** The checksum settle() must write, from onesSum over each part on its own. */
function reference(inBuf: Buffer, out: Buffer, kind: number, start: number, end: number, field: number, src: number, dst: number, n: number, cut: number): number {
  const hc = inBuf.readUInt16BE(start + field);
  let oldSum = onesSum(inBuf, start, end);
  let newSum = onesSum(out, start - 100, end - 100);
  if (kind !== ScopeKind.PLAIN && n > 0) {
    oldSum = fold(oldSum + onesSum(inBuf, src, src + n) + onesSum(inBuf, dst, dst + n));
    newSum = fold(newSum + onesSum(out, src - 100, src - 100 + n) + onesSum(out, dst - 100, dst - 100 + n));
    oldSum = fold(oldSum + cut);
  }
  const sum = updateChecksum(hc, oldSum, newSum);
  return kind === ScopeKind.UDP && sum === 0 ? 0xffff : sum;
}

test('every scope length from 2 to 90 bytes, plain and with IPv4 and IPv6 pseudo-headers', () => {
  const next = seededRandom(21);
  const scopes = new ChecksumScopes();
  for (let len = 2; len <= 90; len++) {
    for (const [kind, n] of [[ScopeKind.PLAIN, 0], [ScopeKind.PSEUDO, 4], [ScopeKind.PSEUDO, 16]] as const) {
      const inBuf = randomBytes(next, 300);
      // The output is the input 100 bytes earlier with a few bytes rewritten.
      const out = Buffer.alloc(300);
      inBuf.copy(out, 0, 100, 300);
      for (let k = 0; k < 6; k++) out[(next() >>> 0) % 200] = next() & 0xff;
      const start = 140 + (len % 3);
      const field = len >= 4 ? 2 : 0;
      out.writeUInt16BE(inBuf.readUInt16BE(start + field), start - 100 + field); // the field still holds hc
      const cut = n > 0 ? len % 5 : 0;
      scopes.reset();
      const s = scopes.add(kind, field, start, start + len, start - 100);
      scopes.setPseudo(s, 104, 120, 4, 20, n);
      if (s >= 0) scopes.lengthCut[s] = cut;
      const expected = reference(inBuf, out, kind, start, start + len, field, 104, 120, n, cut);
      scopes.settle(inBuf, viewOf(inBuf), out, viewOf(out), 300, identity);
      assert.is(out.readUInt16BE(start - 100 + field), expected, `kind ${kind}, length ${len}, pseudo ${n}`);
    }
  }
});

test('a UDP checksum of 0 (none) is left alone', () => {
  const scopes = new ChecksumScopes();
  const inBuf = randomBytes(seededRandom(22), 200);
  inBuf.writeUInt16BE(0, 150 + 6);
  const out = Buffer.alloc(200);
  inBuf.copy(out, 0, 100, 200);
  out[51] ^= 0xff;
  scopes.add(ScopeKind.UDP, 6, 150, 170, 50);
  scopes.settle(inBuf, viewOf(inBuf), out, viewOf(out), 200, identity);
  assert.is(out.readUInt16BE(56), 0);
});

test('the sums do not depend on how the output is laid out when bytes were removed inside the scope', () => {
  // A scope whose output lost 4 bytes (mapOut ends it earlier) takes the two-sum path:
  // removing 4 zero bytes changes no sum, so the checksum must come out unchanged.
  const inBuf = randomBytes(seededRandom(23), 200);
  inBuf.fill(0, 120, 124);
  const out = Buffer.alloc(200);
  inBuf.copy(out, 0, 100, 120);
  inBuf.copy(out, 20, 124, 200);
  const scopes = new ChecksumScopes();
  scopes.add(ScopeKind.PLAIN, 2, 100, 150, 0);
  scopes.settle(inBuf, viewOf(inBuf), out, viewOf(out), 200, (inOff) => (inOff <= 120 ? inOff - 100 : inOff - 104));
  assert.is(out.readUInt16BE(2), inBuf.readUInt16BE(102));
});

test.run();
