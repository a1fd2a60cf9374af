// Systematic Reed-Solomon erasure code over GF(2^8), Cauchy construction.
//
// n data symbols d_0..d_{n-1} (byte strings of equal length) are sent as they are; m
// parity symbols p_0..p_{m-1} go with them:
//
//   p_j = Σ_i C[j][i] · d_i          C[j][i] = 1 / (x_j + y_i),  x_j = 255 − j,  y_i = i
//
// (+ is XOR, · is multiplication in GF(2^8) modulo x^8+x^4+x^3+x^2+1 = 0x11d.) Every
// square submatrix of a Cauchy matrix is invertible, so any n of the n+m symbols give
// back all data: with e ≤ m data symbols lost, take e parity symbols, subtract the
// known data from them, and solve the e×e Cauchy system for the lost ones.
//
// x_j and y_i must be distinct elements: n ≤ 224 and m ≤ 32 keep {255−j} and {i} apart.
// Changing the polynomial, x_j or y_i changes every parity byte: old recordings would
// repair into garbage (caught by the frame CRC, but repaired no more).

export const MAX_DATA_SYMBOLS = 224;
export const MAX_PARITY_SYMBOLS = 32;

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
(() => {
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
})();

/**
 * MUL[(a << 8) | b] = a·b: one table look-up per byte in the loops below (64 KiB). Made
 * at the first use, not when the module loads: a line without FEC (a file line, a
 * recording of one) never needs it, and its 65,025 products took 3-4 ms of every start
 * of the supervisor and the receiver.
 */
let MUL: Uint8Array | null = null;

function mulTable(): Uint8Array {
  if (MUL === null) {
    const t = new Uint8Array(65536);
    for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) t[(a << 8) | b] = EXP[LOG[a] + LOG[b]];
    MUL = t;
  }
  return MUL;
}

function mul(a: number, b: number): number {
  return mulTable()[(a << 8) | b];
}

function inv(a: number): number {
  if (a === 0) throw new Error('GF(256): 0 has no inverse');
  return EXP[255 - LOG[a]];
}

/** Coefficient of data symbol i in parity symbol j. */
export function cauchy(j: number, i: number): number {
  return inv((255 - j) ^ i);
}

/** dst ^= c · src, byte by byte. */
function mulAdd(dst: Uint8Array, src: Uint8Array, c: number): void {
  if (c === 0) return;
  const row = c << 8;
  const n = Math.min(dst.length, src.length);
  const table = mulTable();
  for (let t = 0; t < n; t++) dst[t] ^= table[row | src[t]];
}

function checkShape(n: number, m: number): void {
  if (n < 1 || n > MAX_DATA_SYMBOLS || m < 1 || m > MAX_PARITY_SYMBOLS) {
    throw new Error(`Reed-Solomon: ${n} data and ${m} parity symbols is outside 1..${MAX_DATA_SYMBOLS} and 1..${MAX_PARITY_SYMBOLS}`);
  }
}

/** Parity symbol j of `data` (all of the same length). */
export function paritySymbol(data: Uint8Array[], j: number, m: number): Buffer {
  checkShape(data.length, m);
  const out = Buffer.alloc(data[0].length);
  for (let i = 0; i < data.length; i++) mulAdd(out, data[i], cauchy(j, i));
  return out;
}

/**
 * Recovers lost data symbols. `data[i]` is null where lost; `parity` maps parity index j
 * to its symbol. Returns the lost symbols by index, or null when fewer parity symbols
 * arrived than data symbols were lost.
 */
export function recoverData(data: Array<Uint8Array | null>, parity: Map<number, Uint8Array>, m: number): Map<number, Buffer> | null {
  checkShape(data.length, m);
  const lost: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] === null) lost.push(i);
  const out = new Map<number, Buffer>();
  if (lost.length === 0) return out;
  const rows = [...parity.keys()].filter((j) => j >= 0 && j < m).slice(0, lost.length);
  if (rows.length < lost.length) return null;
  const len = parity.get(rows[0])!.length;
  const e = lost.length;
  // rhs_a = p_{rows[a]} − Σ_{known i} C[rows[a]][i] · d_i = Σ_{lost b} C[rows[a]][lost[b]] · d_{lost[b]}
  const rhs = rows.map((j) => {
    const r = Buffer.from(parity.get(j)!.subarray(0, len));
    for (let i = 0; i < data.length; i++) if (data[i] !== null) mulAdd(r, data[i] as Uint8Array, cauchy(j, i));
    return r;
  });
  // Invert the e×e matrix A[a][b] = C[rows[a]][lost[b]] by Gauss-Jordan elimination.
  const a = rows.map((j) => lost.map((i) => cauchy(j, i)));
  const ainv: number[][] = rows.map((_, r) => lost.map((__, c) => (r === c ? 1 : 0)));
  for (let col = 0; col < e; col++) {
    let p = col;
    while (p < e && a[p][col] === 0) p++;
    if (p === e) throw new Error('Reed-Solomon: singular Cauchy submatrix (cannot happen with distinct x and y)');
    [a[col], a[p]] = [a[p], a[col]];
    [ainv[col], ainv[p]] = [ainv[p], ainv[col]];
    const f = inv(a[col][col]);
    for (let c = 0; c < e; c++) {
      a[col][c] = mul(a[col][c], f);
      ainv[col][c] = mul(ainv[col][c], f);
    }
    for (let r = 0; r < e; r++) {
      const g = a[r][col];
      if (r === col || g === 0) continue;
      for (let c = 0; c < e; c++) {
        a[r][c] ^= mul(g, a[col][c]);
        ainv[r][c] ^= mul(g, ainv[col][c]);
      }
    }
  }
  // d_{lost[b]} = Σ_a Ainv[b][a] · rhs_a
  for (let b = 0; b < e; b++) {
    const d = Buffer.alloc(len);
    for (let r = 0; r < e; r++) mulAdd(d, rhs[r], ainv[b][r]);
    out.set(lost[b], d);
  }
  return out;
}
