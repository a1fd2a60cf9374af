// The Reed-Solomon erasure code of the FEC repair frames: any n of n+m symbols give the data back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { paritySymbol, recoverData, cauchy } from '../../firmware/channel/reed-solomon';

function symbols(n: number, len: number, seed: number): Buffer[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 0xff; }
    return b;
  });
}

/** Every subset of {0..n-1} of size e. */
function subsets(n: number, e: number): number[][] {
  if (e === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first < n; first++) for (const rest of subsets(n, e - 1)) if (rest.every((r) => r > first)) out.push([first, ...rest]);
  return out;
}

test('rebuilds every combination of up to m lost data symbols from every choice of parity symbols', () => {
  const n = 6;
  const m = 3;
  const data = symbols(n, 37, 7);
  const parity = Array.from({ length: m }, (_, j) => paritySymbol(data, j, m));
  let cases = 0;
  for (let e = 1; e <= m; e++) {
    for (const lost of subsets(n, e)) {
      for (const rows of subsets(m, e)) {
        const have = data.map((d, i) => (lost.includes(i) ? null : d));
        const got = recoverData(have, new Map(rows.map((j) => [j, parity[j]])), m);
        assert.ok(got, `lost ${lost} rows ${rows}`);
        for (const i of lost) assert.equal(got!.get(i), data[i], `symbol ${i} (lost ${lost}, rows ${rows})`);
        cases++;
      }
    }
  }
  assert.is(cases, 6 * 3 + 15 * 3 + 20 * 1);
});

test('rebuilds with the largest group the channel allows (k=128, m=16)', () => {
  const data = symbols(128, 64, 99);
  const parity = new Map(Array.from({ length: 16 }, (_, j) => [j, paritySymbol(data, j, 16)] as [number, Buffer]));
  const lost = [0, 5, 17, 33, 64, 65, 66, 90, 100, 101, 110, 120, 124, 125, 126, 127];
  const got = recoverData(data.map((d, i) => (lost.includes(i) ? null : d)), parity, 16);
  for (const i of lost) assert.equal(got!.get(i), data[i]);
});

test('gives up (null) when more symbols are lost than parity symbols arrived', () => {
  const data = symbols(5, 20, 3);
  const p0 = paritySymbol(data, 0, 2);
  assert.is(recoverData([null, null, data[2], data[3], data[4]], new Map([[0, p0]]), 2), null);
});

test('nothing lost: nothing to rebuild', () => {
  const data = symbols(3, 8, 5);
  assert.is(recoverData(data, new Map(), 2)!.size, 0);
});

test('a wrong parity symbol rebuilds wrong bytes (caught later by the frame CRC), never throws', () => {
  const data = symbols(4, 16, 11);
  const p = paritySymbol(data, 1, 2);
  p[3] ^= 1;
  const got = recoverData([data[0], null, data[2], data[3]], new Map([[1, p]]), 2);
  assert.not.equal(got!.get(1), data[1]);
});

test('the code is over GF(2^8): coefficients are non-zero bytes', () => {
  for (let j = 0; j < 16; j++) for (let i = 0; i < 128; i++) { const c = cauchy(j, i); assert.ok(c >= 1 && c <= 255); }
});

test('refuses group shapes the code cannot hold', () => {
  assert.throws(() => paritySymbol(symbols(2, 4, 1), 0, 0), /outside/);
  assert.throws(() => paritySymbol(symbols(225, 4, 1), 0, 2), /outside/);
});

test.run();
